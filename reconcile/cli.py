"""The single door to click, the only module that prints, and where exit codes are decided.

Exit codes: 0 clean; 1 findings at or above ``--fail-on``; 2 usage, config or
rule-file error; 3 provider or input-data failure; 4 internal error.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import click

from reconcile.errors import ExitCode, ReconcileError
from reconcile.schema import SEVERITIES

FAIL_ON = ("error", "warning", "info", "never")


def exit_code_for(severity_counts: dict[str, int], fail_on: str) -> ExitCode:
    """1 when any finding is at or above ``fail_on`` (error > warning > info)."""
    if fail_on == "never":
        return ExitCode.CLEAN
    gate = SEVERITIES[: SEVERITIES.index(fail_on) + 1]
    return ExitCode.FINDINGS if any(severity_counts.get(s, 0) for s in gate) else ExitCode.CLEAN


def _fail(exc: BaseException) -> None:
    if isinstance(exc, ReconcileError):
        click.echo(f"reconcile: error: {exc}", err=True)
        sys.exit(int(exc.exit_code))
    first = (str(exc).strip().splitlines() or [""])[0][:500]
    click.echo(
        f"reconcile: internal error (a bug, not a finding): {type(exc).__name__}: {first}", err=True
    )
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    click.echo("".join(traceback.format_list(frames)), err=True)
    sys.exit(int(ExitCode.INTERNAL))


@click.group()
@click.version_option(package_name="reconcile")
def main() -> None:
    """Invoice reconciliation and audit rules for month-end close."""


class _FetchDisplay:
    """Fetch progress on a terminal, for sources fetched all at once.

    One status line for the sources under way (``stripe: 3 pages, 250 records ·
    commet: 12 pages, 70 records``), rewritten in place at most ten times a second
    and cut to the terminal's width (a wrapped line could not be rewritten); when a
    source is done its closing line is printed above it, and so is any progress
    message (:meth:`note`). Plain ``click.echo`` with a carriage return: cursor
    pagination gives no total to fill a bar with (so ``click.progressbar`` has
    nothing to show), and no extra dependency is needed for one status line.
    Events come from the sources' threads (serialized by ``FetchLog``), notes from
    the threads preparing sources: a lock here orders the two.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shown = 0.0
        #: per source under way, in the order they started: its part of the status line
        self._busy: dict[str, str] = {}
        self._drawn = False

    def __call__(self, event: Any) -> None:
        retries = f", {event.retries} retries" if event.retries else ""
        with self._lock:
            if event.report is not None:
                self._busy.pop(event.source, None)
                how = "replayed" if event.report.mode == "replay" else "fetched"
                self._print(
                    f"  … {event.source}: {how} {event.report.pages} pages, "
                    f"{event.report.records} records{retries} ({event.report.seconds:.1f} s)"
                )
                return
            self._busy[event.source] = (
                f"{event.source}: {event.pages} pages, {event.records} records{retries}"
            )
            now = time.monotonic()
            if now - self._shown >= 0.1:
                self._shown = now
                self._draw()

    def note(self, message: str) -> None:
        """A progress message on a line of its own, above the status line."""
        with self._lock:
            self._print(f"  … {message}")

    def finish(self) -> None:
        """Clear the status line (the run ended, maybe with an error to print)."""
        with self._lock:
            if self._drawn:
                click.echo("\r\033[K", nl=False, err=True)
                self._drawn = False

    def _print(self, line: str) -> None:
        click.echo(f"\r\033[K{line}", err=True)
        self._drawn = False
        if self._busy:
            self._draw()

    def _draw(self) -> None:
        width = max(20, shutil.get_terminal_size().columns - 1)
        text = "  … " + " · ".join(self._busy.values())
        click.echo(f"\r\033[K{text[:width]}", nl=False, err=True)
        self._drawn = True


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the reports and findings (and raw/, the snapshot of live sources).",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="error",
    show_default=True,
    help="Exit 1 when a finding at or above this severity exists.",
)
@click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    type=click.Path(exists=False, path_type=Path),
    help="Rule files or directories (default: the config's, else the built-in pack).",
)
@click.option(
    "--replay",
    "replay",
    metavar="RUN_DIR",
    default=None,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Offline: read live sources from the raw snapshot of an earlier run "
    "(its --out folder) instead of fetching them.",
)
@click.option("--quiet", is_flag=True, help="No progress output.")
def run(
    config: Path,
    out_dir: Path,
    fail_on: str,
    rule_paths: tuple[Path, ...],
    quiet: bool,
    replay: Path | None = None,
) -> None:
    """Run the month-end close described by CONFIG and write reports into --out."""
    show = not quiet and sys.stderr.isatty()
    display = _FetchDisplay() if show else None

    def progress(message: str) -> None:
        if display is not None:
            display.note(message)

    try:
        import stamina.instrumentation

        from reconcile import fetching, outputs, pipeline, report
        from reconcile.config import load_config

        # Retries are counted in the report and the progress line, not logged.
        stamina.instrumentation.set_on_retry_hooks([])
        cfg = load_config(config)
        if replay is None:  # every credential is checked before the first request
            fetching.require_credentials(cfg.sources)
        with outputs.claim(out_dir, cfg):  # templates, --out writable and ours alone
            log = fetching.FetchLog(display)
            try:  # (live sources fetched at once; Ctrl-C cancels them all: fetch_all)
                result = pipeline.run(
                    config,
                    rule_paths=list(rule_paths) or None,
                    progress=progress,
                    run_dir=out_dir,
                    replay=replay,
                    fetch_progress=log,
                )
            finally:
                if display is not None:
                    display.finish()
            outputs_wanted = result.config.outputs
            model = report.build(
                result,
                fail_on=fail_on,
                generated_at=pipeline.now_utc(),
                detail="html" in outputs_wanted or "md" in outputs_wanted,
                fetch=log.reports,
            )
            written = outputs.write_all(
                out_dir, result.findings, model, result.config.outputs, result.config.templates
            )
    except KeyboardInterrupt:
        # (click would print "Aborted!" and exit 1, the code for "findings found")
        click.echo(
            "reconcile: interrupted: every fetch was stopped; no report was written", err=True
        )
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:
        _fail(exc)
        return
    counts = model["severity_counts"]
    for s in model["sources"]:
        f = s["fetch"]
        fetched = (
            f"{'replayed' if f['mode'] == 'replay' else 'fetched'} {f['pages']} pages, "
            f"{f['records']} records, {f['retries']} retries in {f['seconds']:.2f} s; "
            if f
            else ""
        )
        click.echo(
            f"{s['name']:>10}: {fetched}read {s['records_read']}, quarantined "
            f"{s['quarantined']}, out of period {s['out_of_period']}, "
            + (f"drafts {s['drafts']}, " if s["drafts"] else "")
            + f"checked {s['checked']}"
        )
    click.echo(
        f"findings: {model['total_findings']} ({counts['error']} error, "
        f"{counts['warning']} warning, {counts['info']} info)"
    )
    for path in written:
        click.echo(f"wrote {path}")
    sys.exit(int(exit_code_for(counts, fail_on)))


@main.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the reports and findings.",
)
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.pass_context
def demo(ctx: click.Context, out_dir: Path, fail_on: str, quiet: bool) -> None:
    """Run the bundled October 2026 sample close (no credentials, no network)."""
    from reconcile.resources import packaged_path

    config = packaged_path("sample_data") / "close.yaml"
    ctx.invoke(
        run,
        config=config,
        out_dir=out_dir,
        fail_on=fail_on,
        rule_paths=(),
        quiet=quiet,
        replay=None,
    )


@main.group()
def rules() -> None:
    """Check and list rule files."""


def _load_rules_or_exit(paths: tuple[Path, ...]) -> list:  # type: ignore[type-arg]
    from reconcile.ruleset import default_rules_dir, load_rules

    try:
        return load_rules(list(paths) or [default_rules_dir()])
    except Exception as exc:
        _fail(exc)
        raise  # unreachable: _fail exits


@rules.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def rules_check(paths: tuple[Path, ...]) -> None:
    """Compile rule files (default: the built-in pack) without reading any data."""
    click.echo(f"ok: {len(_load_rules_or_exit(paths))} rules compiled")


@rules.command("list")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def rules_list(paths: tuple[Path, ...]) -> None:
    """List the rules loaded from PATHS (default: the built-in pack)."""
    for r in _load_rules_or_exit(paths):
        tol = "" if r.tolerance.is_zero else f"  tolerance {r.tolerance.default}"
        click.echo(f"{r.id:<34} {r.severity:<8} {r.type:<11} {r.scope.describe()}{tol}")
        click.echo(f"{'':<34} {r.title}  ({r.where.path.name}:{r.where.line})")


if __name__ == "__main__":  # pragma: no cover
    main()
