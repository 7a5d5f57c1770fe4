"""What the provider conformance tests share (issue 13): bounded hypothesis settings,
record strategies built from the documented fields, and the real read path.

A record strategy is built from the provider's published field list: each *optional*
field is sometimes absent, each *nullable* one sometimes ``null``, each enum drawn from
the documented values plus one the documentation does not name. The real path is the
one a close takes: a recording on disk → ``sources.load_source`` (the normalizer, the
canonical frames) → ``schema.validate_invoices`` / ``validate_lines``; and
``pipeline.run`` on a one-source close for the rules.

Examples are bounded so the three conformance files run in a few seconds; with
``HYPOTHESIS_PROFILE=slow`` (the profile tests/providers/conftest.py registers and
loads) each property runs that profile's many more, randomised examples.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from reconcile import pipeline, schema, sources
from reconcile.config import SourceConfig
from reconcile.providers._base import Normalized
from reconcile.recording import write_recording
from reconcile.ruleset import default_rules_dir

#: the close every generated record falls in (period_start in 2026)
PERIOD_START, PERIOD_END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
PERIOD = "period: {start: 2026-01-01, end: 2027-01-01}\n"
SLOW = os.environ.get("HYPOTHESIS_PROFILE") == "slow"
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
#: no "explain" phase: on records this large it takes minutes to say which parts vary
_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)


def bounded(examples: int) -> settings:
    """``examples`` fixed (derandomised) examples in the default run; with
    HYPOTHESIS_PROFILE=slow, the loaded profile's count, randomised."""
    if SLOW:  # (inherits the profile tests/providers/conftest.py loaded)
        return settings(deadline=None, suppress_health_check=_QUIET, phases=_PHASES)
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=_QUIET,
        phases=_PHASES,
        report_multiple_bugs=False,
    )


# --- strategies ---------------------------------------------------------------------------

#: text as providers send it: any Unicode but lone surrogates (which JSON cannot carry
#: as text a frame holds: a located reject, tested by tests/hostile), no NUL
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
NONEMPTY = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=12
).filter(lambda s: s.strip() != "")
#: JSON-safe integers (the ±2^53 − 1 bounds Commet's OpenAPI states)
SAFE_INT = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def record(
    required: Mapping[str, st.SearchStrategy[Any]],
    optional: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object: every ``required`` key, each ``optional`` key sometimes absent."""
    return st.fixed_dictionaries(dict(required), optional=dict(optional or {}))


def enum(documented: Sequence[str], unknown: str, *, any_case: bool = False) -> Any:
    """A documented enum value or ``unknown``; ``any_case``: upper, lower or mixed case."""
    value = st.sampled_from([*documented, unknown])
    if not any_case:
        return value
    return st.tuples(value, st.sampled_from(["lower", "upper", "title", "keep"])).map(
        lambda vc: vc[0] if vc[1] == "keep" else getattr(vc[0], vc[1])()
    )


def moments(
    start: datetime = datetime(2026, 1, 1), span_days: int = 360
) -> st.SearchStrategy[tuple[datetime, datetime]]:
    """``(start, end)`` UTC, start in the close's year, end not before start."""
    first = st.datetimes(min_value=start, max_value=start + timedelta(days=span_days))
    return st.tuples(first, st.integers(min_value=0, max_value=40 * 86400)).map(
        lambda fs: (
            fs[0].replace(tzinfo=UTC),
            (fs[0] + timedelta(seconds=fs[1])).replace(tzinfo=UTC),
        )
    )


# --- the real read path ---------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """A source read as a close reads it, and what its schema check made of it."""

    normalized: Normalized
    invoices: pl.DataFrame
    invoice_failures: pl.DataFrame
    line_failures: pl.DataFrame

    @property
    def rows(self) -> dict[str, dict[str, Any]]:
        return {row["invoice_id"]: row for row in self.invoices.to_dicts()}

    def quarantined_as(self, expected: Mapping[int, str], page: str = "0001.json") -> None:
        """Exactly the records at these positions of ``page`` are set aside, each by one
        reject whose message names the field (``expected``: position -> the text)."""
        reasons = self.quarantined()
        by_record = {
            int(r.split(f"{page} record ", 1)[1].split(":", 1)[0]): r
            for r in reasons
            if f"{page} record " in r
        }
        assert len(by_record) == len(reasons), reasons
        assert sorted(by_record) == sorted(expected), reasons
        for index, named in expected.items():
            assert named in by_record[index], (named, by_record[index])

    def quarantined(self) -> list[str]:
        """Why any record or line was set aside: rejects, then schema failures."""
        return [f"{r.location}: {r.reason}" for r in self.normalized.rejects] + [
            f"row {f['row']} {f['column']}: {f['check']} ({f['failure_case']})"
            for f in pl.concat([self.invoice_failures, self.line_failures]).to_dicts()
        ]


def pages_of(bodies: Sequence[tuple[Any, str, str]]) -> list[dict[str, Any]]:
    """Recording pages from ``(body, url, kind)``; a body that is bytes is kept as is."""
    return [
        {
            "body": body if isinstance(body, bytes) else json.dumps(body).encode(),
            "url": url,
            "kind": kind,
        }
        for body, url, kind in bodies
    ]


def read(provider: str, pages: list[dict[str, Any]], options: Mapping[str, Any]) -> Read:
    """recording → sources.load_source → schema.validate_invoices / validate_lines."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_recording(folder / "rec", provider, pages)
        cfg = SourceConfig(
            "src", provider, "period_start", recording=folder / "rec", options=dict(options)
        )
        loaded = sources.load_source(cfg, folder)
    normalized = loaded.normalized
    invoices = schema.validate_invoices(loaded.invoices, normalized.provided, normalized.nullable)
    assert isinstance(loaded.lines, pl.DataFrame)
    lines = schema.validate_lines(loaded.lines)
    return Read(normalized, loaded.invoices, invoices.failures, lines.failures)


@contextmanager
def one_source_close(
    provider: str,
    pages: list[dict[str, Any]],
    options: Mapping[str, Any],
    rules: str | None = None,
) -> Iterator[pipeline.RunResult]:
    """``pipeline.run`` on a close of this one recorded source over 2026, with the
    default rule pack and, when given, ``rules`` (YAML text) beside it."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_recording(folder / "rec", provider, pages)
        close = folder / "close.yaml"
        close.write_text(
            PERIOD
            + "sources:\n"
            + f"  src: {{provider: {provider}, recording: rec, options: {json.dumps(options)}}}\n",
            encoding="utf-8",
        )
        paths = [default_rules_dir()]
        if rules is not None:
            (folder / "extra.yaml").write_text(rules, encoding="utf-8")
            paths.append(folder / "extra.yaml")
        yield pipeline.run(close, rule_paths=paths)


#: a copy of an original broken by one contradiction: (the record, what its quarantine
#: message must name), or None where that contradiction does not apply
Broken = Callable[[Any, int, Any], "tuple[Any, str] | None"]


def beside_originals(
    originals: Sequence[Any], contradictions: Sequence[Any], broken: Broken
) -> tuple[list[Any], dict[int, str]]:
    """``originals``, then per contradiction a copy of one of them that ``broken``
    renames and breaks (``broken(copy, number, contradiction)``); and, per position of
    each broken copy, the name its quarantine message must carry."""
    records, expected = list(originals), {}
    for number, contradiction in enumerate(contradictions):
        made = broken(copy.deepcopy(originals[number % len(originals)]), number, contradiction)
        if made is not None:
            expected[len(records)] = made[1]
            records.append(made[0])
    return records, expected


def stats(result: pipeline.RunResult, rule_id: str) -> dict[str, int]:
    """The engine's counts for one rule over the one source: checked, failed,
    not_applicable_rows (all zero where the rule did not apply)."""
    rows = result.engine.stats.filter(pl.col("rule_id") == rule_id).to_dicts()
    assert len(rows) <= 1, rows
    zero = {"checked": 0, "failed": 0, "not_applicable_rows": 0}
    return {k: int(rows[0][k]) for k in zero} if rows else zero


def findings_of(result: pipeline.RunResult, prefix: str) -> list[dict[str, Any]]:
    """The findings of the rules whose id starts with ``prefix``."""
    return result.findings.filter(pl.col("rule_id").str.starts_with(prefix)).to_dicts()
