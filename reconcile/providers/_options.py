"""What a provider module declares of its ``options:`` (checked at config load), and
the default (no options) its normalizer takes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

#: the default ``options`` of a normalizer
NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Option:
    """One key a provider accepts under a source's ``options:`` (checked at config load)."""

    kind: type  # str, int, bool or list (of strings)
    help: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    #: only meaningful when fetching live (ignored, but allowed, with ``recording:``)
    live: bool = False
    #: a live fetch cannot run without it (or one of ``alternatives``, which it excludes)
    required_live: bool = False
    alternatives: tuple[str, ...] = ()
    #: a value of the right type must also pass this (e.g. an API version the
    #: normalizer reads), described by ``accepts_help``
    accepts: Callable[[Any], bool] | None = None
    accepts_help: str = ""


def option_errors(
    spec: Mapping[str, Option], options: Mapping[str, Any], *, live: bool
) -> list[tuple[str | None, str]]:
    """``(key, message)`` for each option that is unknown, of the wrong type or out of range."""
    errors: list[tuple[str | None, str]] = []
    for key, value in options.items():
        opt_spec = spec.get(key)
        if opt_spec is None:
            allowed = ", ".join(sorted(spec)) or "none"
            errors.append((key, f"unknown option {key!r} (allowed: {allowed})"))
            continue
        kind = opt_spec.kind
        ok = (
            (isinstance(value, list) and all(isinstance(v, str) and v for v in value))
            or (isinstance(value, str) and value in opt_spec.choices)  # e.g. 'all'
            if kind is list
            else isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        )
        clash = [a for a in opt_spec.alternatives if a in options]
        if clash:
            errors.append((key, f"give option {key!r} or {clash[0]!r}, not both"))
        elif ok and kind is list and value == []:  # asks for nothing: surely a mistake
            errors.append((key, f"option {key!r} must name at least one (got [])"))
        elif not ok:
            what = "a list of strings" if kind is list else f"a {kind.__name__}"
            if kind is list and opt_spec.choices:
                what += " or " + " / ".join(repr(c) for c in opt_spec.choices)
            errors.append((key, f"option {key!r} must be {what} (got {value!r})"))
        elif opt_spec.accepts is not None and not opt_spec.accepts(value):
            errors.append((key, f"option {key!r} must be {opt_spec.accepts_help} (got {value!r})"))
        elif opt_spec.choices and kind is not list and value not in opt_spec.choices:
            errors.append(
                (
                    key,
                    f"option {key!r} must be one of {', '.join(opt_spec.choices)} (got {value!r})",
                )
            )
        elif kind is int and (
            (opt_spec.minimum is not None and value < opt_spec.minimum)
            or (opt_spec.maximum is not None and value > opt_spec.maximum)
        ):
            errors.append(
                (
                    key,
                    f"option {key!r} must be between {opt_spec.minimum} and "
                    f"{opt_spec.maximum} (got {value})",
                )
            )
    if live:
        for key, opt_spec in spec.items():
            if (
                opt_spec.required_live
                and key not in options
                and not any(a in options for a in opt_spec.alternatives)
            ):
                errors.append((None, f"option {key!r} is required to fetch live: {opt_spec.help}"))
    return errors
