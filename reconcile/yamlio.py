"""The single door to ruamel.yaml: safe YAML 1.2 with line numbers.

YAML 1.2 keeps ``NO``/``off``/``y`` as strings (PyYAML's 1.1 turns them into
booleans). Every mapping remembers the line of each key, so a config or rule
error can name ``file:line``.

Bounded before ruamel sees it: a file of at most :data:`MAX_BYTES`, in UTF-8,
nested at most :data:`MAX_DEPTH` levels (ruamel's time grows faster than the
depth: 2,000 levels take seconds, 100,000 never finish), and without aliases
(``*name``): a config or rule file has no use for them, and a few lines of nested
aliases expand to billions of nodes ("billion laughs") when a value is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, ScalarEvent
from ruamel.yaml.util import create_timestamp


class YamlSyntaxError(ValueError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


MAX_BYTES = 1 << 20
MAX_DEPTH = 100


def _too_deep(text: str) -> int | None:
    """The first line nested deeper than :data:`MAX_DEPTH` (flow collections and block
    indentation), or None: one linear pass; quoted text and comments do not count."""
    flow = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" ")
        block = len(line) - len(stripped)
        while stripped.startswith(("- ", "? ")):
            block, stripped = block + 2, stripped[2:].lstrip(" ")
        if block // 2 > MAX_DEPTH:
            return number
        quote = None
        for index, char in enumerate(stripped):
            if quote:
                quote = (
                    None
                    if char == quote and (quote == "'" or stripped[index - 1] != "\\")
                    else quote
                )
            elif char in "'\"":
                quote = char
            elif char == "#" and (index == 0 or stripped[index - 1] in " \t"):
                break
            elif char in "[{":
                flow += 1
                if flow + block // 2 > MAX_DEPTH:
                    return number
            elif char in "]}":
                flow = max(0, flow - 1)
    return None


def _text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YamlSyntaxError(
            f"the file is {size} bytes; a config or rule file is at most {MAX_BYTES}", None
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlSyntaxError(
            f"not UTF-8: byte {exc.start} is 0x{raw[exc.start]:02x}", line
        ) from None
    deep = _too_deep(text)
    if deep is not None:
        raise YamlSyntaxError(f"nested more than {MAX_DEPTH} levels deep", deep)
    return text


def _check_event(event: object) -> None:
    """Refuse an alias, and a plain scalar that YAML reads as a date that does not exist
    (``2026-02-30``: ruamel's constructor would raise a bare ValueError without a line)."""
    if isinstance(event, AliasEvent):
        raise YamlSyntaxError(
            f"an alias (*{event.anchor}) is not accepted in a config or rule file: "
            "write the value out",
            event.start_mark.line + 1,
        )
    if isinstance(event, ScalarEvent) and event.style is None and event.tag is None:
        match = SafeConstructor.timestamp_regexp.match(event.value)
        if match is not None:
            try:
                create_timestamp(**match.groupdict())
            except (ValueError, OverflowError) as exc:
                raise YamlSyntaxError(
                    f"{event.value!r} is not a real date or time ({exc})", event.start_mark.line + 1
                ) from None


def load(path: Path) -> Any:
    yaml = YAML(typ="rt", pure=True)
    try:
        text = _text(path)
        for event in yaml.parse(text):  # linear: no alias is expanded here
            _check_event(event)
        return yaml.load(text)
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
