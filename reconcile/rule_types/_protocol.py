"""The seam between the engine and the rule types: what a compiled check exposes.

A rule type (a class registered in :data:`reconcile.rule_types.RULE_TYPES`) is a
:class:`RuleType`: it names itself, lists the YAML keys it accepts, says whether
it runs on pairings, and compiles a rule's keys into a :data:`Check`. A check is
either a :class:`SourceCheck` (evaluated on one source's rows) or a
:class:`PairCheck` (on a matched pairing); ``pairwise`` tells them apart, so a
test of ``check.pairwise`` narrows the union for the type checker. Each rule
type is checked by mypy against exactly what the engine, the pipeline and the
rule set read from it (no ``Any``, no ``getattr``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

import polars as pl

from reconcile.rule_types._common import PairData, SourceData

if TYPE_CHECKING:
    from reconcile.ruleset import Rule
    from reconcile.sql import Where


class RuleCheck(Protocol):
    """What every compiled check exposes, whatever it is evaluated on."""

    @property
    def needs_lines(self) -> bool:
        """The source must send line items (else the rule is N/A for it)."""
        ...

    @property
    def reads_lines(self) -> bool:
        """It reads the line items themselves, not only Σ amount_minor per invoice
        (the pipeline keeps the lines once summed only when some rule does)."""
        ...

    @property
    def line_rows(self) -> bool:
        """Its rows are line items: a rule ``filter`` reads line columns."""
        ...

    @property
    def unique_key(self) -> str | None:
        """The column whose repeats it reports (uniqueness), else None."""
        ...

    def invoice_columns(self) -> frozenset[str]:
        """The canonical invoice columns it reads (a source without one: N/A)."""
        ...


class SourceCheck(RuleCheck, Protocol):
    """A check of one source's records (expression, aggregate, uniqueness, validity)."""

    @property
    def pairwise(self) -> Literal[False]: ...

    def evaluate(self, rule: Rule, src: SourceData) -> pl.LazyFrame:
        """The evaluated units (``ok``, ``delta_minor``, ``currency``, ...)."""
        ...

    def render(self, rule: Rule, failed: pl.LazyFrame, target: SourceData) -> pl.LazyFrame:
        """The failing units as finding columns (``_common.EVALUATED``)."""
        ...


class PairCheck(RuleCheck, Protocol):
    """A check of a matched pairing (compare, presence)."""

    @property
    def pairwise(self) -> Literal[True]: ...

    def evaluate(self, rule: Rule, pair: PairData) -> pl.LazyFrame:
        """The evaluated units (``ok``, ``delta_minor``, ``currency``, ...)."""
        ...

    def render(self, rule: Rule, failed: pl.LazyFrame, target: PairData) -> pl.LazyFrame:
        """The failing units as finding columns (``_common.EVALUATED``)."""
        ...


#: a compiled rule type: ``Rule.check``
Check: TypeAlias = SourceCheck | PairCheck


class RuleType(Protocol):
    """A registered rule type: the class itself (its class attributes and its
    ``compile`` classmethod)."""

    @property
    def name(self) -> str:
        """The rule's ``type:`` value."""
        ...

    @property
    def keys(self) -> frozenset[str]:
        """The type-specific YAML keys it accepts (besides ruleset.COMMON_KEYS)."""
        ...

    @property
    def pairwise(self) -> bool:
        """It applies to pairings (``pairings:``), not to sources (``applies_to:``)."""
        ...

    def compile(self, raw: Mapping[str, Any], where: Where) -> Check:
        """The rule's type-specific keys compiled (a located RuleError if invalid)."""
        ...


__all__ = ["Check", "PairCheck", "RuleCheck", "RuleType", "SourceCheck"]
