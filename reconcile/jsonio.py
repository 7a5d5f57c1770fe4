"""The one door to JSON: exact numbers, bounded work, one error type.

Every JSON the tool reads (provider pages, recordings' manifests, JSON exports)
goes through :func:`loads`:

* a number with a fraction or an exponent becomes a :class:`~decimal.Decimal`
  (never a float); an integer of more than :data:`MAX_INT_DIGITS` digits becomes
  a Decimal too, so that no amount of digits turns into quadratic ``int`` work
  (the money parser then refuses it, naming the record);
* a key repeated inside one object is an error, not "the last one wins";
* nesting too deep for the parser is an error, not a ``RecursionError``;
* text that is not UTF-8 is an error naming the byte offset.

Every failure is a :class:`JSONError` (a ``ValueError``) with a one-line message;
callers add where the document was read.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

MAX_INT_DIGITS = 30


class JSONError(ValueError):
    """A document that is not JSON this tool reads (one line, no secrets)."""


def _integer(text: str) -> int | Decimal:
    return int(text) if len(text) <= MAX_INT_DIGITS else Decimal(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JSONError(f"the key {key[:40]!r} appears twice in one object")
        out[key] = value
    return out


def decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), or a JSONError naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JSONError(f"not UTF-8: byte {exc.start} is 0x{data[exc.start]:02x}") from None


def loads(data: bytes | str) -> Any:
    """A JSON document, exactly (see the module docstring)."""
    text = decode(data) if isinstance(data, bytes) else data
    try:
        return json.loads(text, parse_float=Decimal, parse_int=_integer, object_pairs_hook=_object)
    except JSONError:
        raise
    except json.JSONDecodeError as exc:
        raise JSONError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise JSONError(
            "nested too deep (arrays or objects inside each other more than the "
            "interpreter's recursion limit allows)"
        ) from None
    except ValueError as exc:
        raise JSONError(str(exc).splitlines()[0][:200]) from None


def is_unicode(text: str) -> bool:
    """False for text holding a lone UTF-16 surrogate: JSON's ``\\ud83d`` escape spells
    one (an encoder that cut an emoji in two), and no frame or report can hold it."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unicode_safe(text: str) -> str:
    """``text`` with any lone surrogate written as its ``\\udXXX`` escape."""
    return text if is_unicode(text) else text.encode("utf-8", "backslashreplace").decode()
