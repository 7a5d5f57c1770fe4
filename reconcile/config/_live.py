"""A live source's settings: base URL, HTTP policy, provider options."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from reconcile.providers._http import HttpPolicy
    from reconcile.providers.registry import ProviderModule

from reconcile.config._reader import Reader


def dates_as_text(module: ProviderModule, options: dict[str, Any]) -> dict[str, Any]:
    """YAML reads an unquoted ``2026-07-31`` as a date; a text option means the text."""
    return {
        k: v.isoformat()
        if isinstance(v, dt.date) and getattr(module.OPTIONS.get(k), "kind", None) is str
        else v
        for k, v in options.items()
    }


def option_errors(
    module: ProviderModule, options: Mapping[str, Any], live: bool
) -> list[tuple[str | None, str]]:
    from reconcile.providers._options import option_errors

    return option_errors(module.OPTIONS, options, live=live)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_base_url(r: Reader, value: Any, node: Mapping[str, Any]) -> str:
    if not isinstance(value, str) or not value:
        raise r.error("'base_url' must be a URL like https://api.example.com", node, "base_url")
    try:
        url = urlsplit(value)
        host = url.hostname or ""
        _ = url.port  # raises on a malformed port
    except ValueError:
        raise r.error("'base_url' is not a valid URL", node, "base_url") from None
    if url.username is not None or url.password is not None:
        raise r.error(
            "'base_url' must not carry a user or password: the credential comes from "
            "the environment variable named by credential_env",
            node,
            "base_url",
        )
    if url.query or url.fragment:
        raise r.error("'base_url' must not have a query or fragment", node, "base_url")
    if not host or url.scheme not in {"http", "https"}:
        raise r.error(f"'base_url' must be an https URL (got {value!r})", node, "base_url")
    if url.scheme == "http" and not _is_loopback(host):
        raise r.error(
            "'base_url' must be https: plain http is allowed only for a local test "
            "server (localhost, 127.0.0.1, ::1)",
            node,
            "base_url",
        )
    return value.rstrip("/")


_POLICY_FIELDS = {
    "connect_timeout": "seconds",
    "read_timeout": "seconds",
    "max_seconds": "seconds",
    "max_attempts": "count",
    "concurrency": "count",
    "rate_per_second": "rate",
    "max_response_bytes": "bytes",
}
#: bounds of http.max_response_bytes: 1 KiB to 64 GiB
_BYTES = (1 << 10, 1 << 36)


def read_http_policy(r: Reader, node: Any, parent: Mapping[str, Any]) -> HttpPolicy:
    from reconcile.providers._http import HttpPolicy

    if node is None:
        return HttpPolicy()
    http = r.mapping(node, "'http'", set(_POLICY_FIELDS), parent, "http")
    values: dict[str, Any] = {}
    for key, value in http.items():
        what = _POLICY_FIELDS[key]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        whole = isinstance(value, int) and not isinstance(value, bool)
        if what == "count":
            ok = whole and 1 <= value <= 100
            need = "a whole number from 1 to 100"
        elif what == "bytes":
            ok = whole and _BYTES[0] <= value <= _BYTES[1]
            need = f"a whole number of bytes from {_BYTES[0]} to {_BYTES[1]}"
        elif what == "rate":
            ok = value is None or (number and value > 0)
            need = "a positive number of requests per second (or null: no limit)"
        else:
            ok = number and value > 0
            need = "a positive number of seconds"
        if not ok:
            raise r.error(f"http.{key} must be {need} (got {value!r})", http, key)
        values[key] = float(value) if what in ("seconds", "rate") and value is not None else value
    return HttpPolicy(**values)
