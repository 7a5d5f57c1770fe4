"""The single door to ruamel.yaml: safe YAML 1.2 with line numbers.

YAML 1.2 keeps ``NO``/``off``/``y`` as strings (PyYAML's 1.1 turns them into
booleans). Every mapping remembers the line of each key, so a config or rule
error can name ``file:line``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError


class YamlSyntaxError(ValueError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def load(path: Path) -> Any:
    yaml = YAML(typ="rt", pure=True)
    try:
        return yaml.load(path.read_text(encoding="utf-8"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(f"malformed YAML: {exc.problem or exc.context}", line) from None
    except YAMLError as exc:
        raise YamlSyntaxError(f"malformed YAML: {exc}", None) from None


def line_of(node: Any, key: str | int | None = None) -> int | None:
    """1-based line of ``node`` (or of ``key`` inside it), if known."""
    try:
        if key is not None and isinstance(node, CommentedMap) and key in node:
            return int(node.lc.key(key)[0]) + 1
        if key is not None and isinstance(node, CommentedSeq):
            return int(node.lc.item(key)[0]) + 1
        if isinstance(node, CommentedMap | CommentedSeq):
            return int(node.lc.line) + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return None
    return None


def unknown_keys(node: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> list[str]:
    return sorted(str(k) for k in node if k not in allowed)


def plain(value: Any) -> Any:
    """Deep-convert ruamel containers to dict/list (for hashing and JSON)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
