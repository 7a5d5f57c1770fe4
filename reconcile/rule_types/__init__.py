"""Rule types, registered in one place. Each compiles its YAML keys and evaluates
to a LazyFrame of evaluated units (see ``_common``); what the engine reads from
a rule type and from its compiled check is typed in ``_protocol``."""

from __future__ import annotations

from collections.abc import Mapping

from reconcile.rule_types._protocol import Check, PairCheck, RuleCheck, RuleType, SourceCheck
from reconcile.rule_types.aggregate import Aggregate
from reconcile.rule_types.compare import Compare
from reconcile.rule_types.expression import Expression
from reconcile.rule_types.not_booked import NotBooked
from reconcile.rule_types.presence import Presence
from reconcile.rule_types.uniqueness import Uniqueness
from reconcile.rule_types.validity import Validity

#: every rule type; mypy checks each against RuleType, and what its ``compile``
#: returns against SourceCheck or PairCheck (a list: a mismatch names the item)
_TYPES: list[RuleType] = [
    Expression,
    Aggregate,
    Compare,
    Presence,
    NotBooked,
    Uniqueness,
    Validity,
]
#: ``type:`` -> the rule type
RULE_TYPES: Mapping[str, RuleType] = {t.name: t for t in _TYPES}

__all__ = ["RULE_TYPES", "Check", "PairCheck", "RuleCheck", "RuleType", "SourceCheck"]
