"""Rule types, registered in one place. Each compiles its YAML keys and evaluates
to a LazyFrame of evaluated units (see ``_common``)."""

from __future__ import annotations

from reconcile.rule_types.aggregate import Aggregate
from reconcile.rule_types.compare import Compare
from reconcile.rule_types.expression import Expression
from reconcile.rule_types.presence import Presence
from reconcile.rule_types.uniqueness import Uniqueness
from reconcile.rule_types.validity import Validity

RULE_TYPES = {t.name: t for t in (Expression, Aggregate, Compare, Presence, Uniqueness, Validity)}

__all__ = ["RULE_TYPES"]
