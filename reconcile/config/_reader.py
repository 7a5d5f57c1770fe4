"""Reading YAML nodes with file and line in every error."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile import yamlio
from reconcile.errors import ConfigError

if TYPE_CHECKING:
    pass


class Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, message: str, node: Any = None, key: Any = None) -> ConfigError:
        return ConfigError(message, path=self.path, line=yamlio.line_of(node, key))

    def mapping(
        self, node: Any, what: str, allowed: set[str], parent: Any = None, key: Any = None
    ) -> Mapping[str, Any]:
        if not isinstance(node, Mapping):
            raise self.error(f"{what} must be a mapping", parent, key)
        extra = yamlio.unknown_keys(node, allowed)
        if extra:
            raise self.error(
                f"unknown key(s) in {what}: {', '.join(extra)} "
                f"(allowed: {', '.join(sorted(allowed))})",
                node,
                extra[0],
            )
        return node

    def rel(self, value: Any, node: Any, key: str) -> Path:
        if not isinstance(value, str) or not value:
            raise self.error(f"{key!r} must be a path", node, key)
        path = Path(value)
        return path if path.is_absolute() else (self.path.parent / path)
