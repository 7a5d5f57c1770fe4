"""Exact JSON as providers send it: Decimal in and out, never float; pre-encoded pieces."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any


def loads(data: bytes | str) -> Any:
    """JSON as a provider sends it, exactly: fractional numbers become Decimal."""
    return json.loads(data, parse_float=Decimal)


class _Raw:
    """Bytes inserted verbatim into a JSON object (pre-encoded records)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _HasDecimal(Exception):
    pass


def _refuse(value: Any) -> Any:
    raise _HasDecimal if isinstance(value, Decimal) else TypeError(type(value).__name__)


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a JSON number: {value}")
        return str(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("money is never a float: use int or Decimal")
    return json.dumps(value, ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """Compact JSON; a Decimal is written with exactly its digits (``117.225``)."""
    try:
        text = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_refuse
        )
    except _HasDecimal:
        text = _encode(value)
    return text.encode()


def _obj(*fields: tuple[str, Any]) -> bytes:
    """A JSON object from (key, value) pairs; a ``_Raw`` value goes in verbatim."""
    parts = (dumps(k) + b":" + (v.data if isinstance(v, _Raw) else dumps(v)) for k, v in fields)
    return b"{" + b",".join(parts) + b"}"


def _arr(items: Sequence[bytes]) -> _Raw:
    return _Raw(b"[" + b",".join(items) + b"]")


def _check_plain(value: Any, where: str) -> None:
    """Records must be plain JSON values; money never as float."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not a string")
            _check_plain(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
    elif isinstance(value, float):
        raise TypeError(f"{where}: {value!r} is a float; money is int or Decimal on the wire")
    elif isinstance(value, Decimal) and not value.is_finite():
        raise TypeError(f"{where}: {value} is not a JSON number")
    elif not (value is None or isinstance(value, str | int | Decimal)):
        raise TypeError(f"{where}: {type(value).__name__} is not a JSON value")
