"""YAML for files people hand to the hub (bid packages, shuffle manifests), read within bounds.

``yaml.safe_load`` builds no arbitrary objects, but it still expands aliases: an 859-byte file
of nested ``*alias`` references unfolds into tens of megabytes (and a few more levels into
gigabytes). :func:`load_bounded` refuses every anchor and alias outright — no bid package
needs them — and caps the document's size, its number of nodes and its nesting depth, so
reading costs at most a small multiple of the file's own size. Refusals are
:class:`YamlRefused`, with the line and column of the offending node and a Chinese message.
"""

from __future__ import annotations

import yaml
from yaml.events import Event
from yaml.nodes import Node

__all__ = ["MAX_DEPTH", "MAX_DOCUMENT_BYTES", "MAX_NODES", "YamlRefused", "load_bounded"]

#: the largest YAML document read (a package's YAML files are a few kilobytes each)
MAX_DOCUMENT_BYTES = 1024 * 1024
#: scalars, sequences and mappings in one document
MAX_NODES = 200_000
#: sequences and mappings inside one another
MAX_DEPTH = 64


class YamlRefused(ValueError):
    """The document is refused unread; ``line`` and ``column`` count from 1 (0: the file)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class _BoundedLoader(yaml.SafeLoader):
    """A safe loader that composes no alias, no anchor, and only so many nodes so deep."""

    def __init__(self, stream: str, max_nodes: int, max_depth: int) -> None:
        super().__init__(stream)
        self._max_nodes = max_nodes
        self._max_depth = max_depth
        self._nodes = 0
        self._depth = 0

    def _next(self) -> Event:
        event: Event = self.peek_event()  # type: ignore[no-untyped-call]
        return event

    def _refuse(self, message: str) -> YamlRefused:
        mark = self._next().start_mark
        if mark is None:
            return YamlRefused(message)
        return YamlRefused(message, mark.line + 1, mark.column + 1)

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self._next()
        if isinstance(event, yaml.AliasEvent):
            raise self._refuse(
                f"使用了 YAML 别名（*{event.anchor}）：标书包文件不接受锚点和别名，请直接写出内容"
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise self._refuse(
                f"使用了 YAML 锚点（&{anchor}）：标书包文件不接受锚点和别名，请直接写出内容"
            )
        self._nodes += 1
        if self._nodes > self._max_nodes:
            raise self._refuse(f"YAML 内容过多：超过 {self._max_nodes} 个节点")
        self._depth += 1
        if self._depth > self._max_depth:
            raise self._refuse(f"YAML 嵌套过深：超过 {self._max_depth} 层")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_bounded(
    text: str,
    *,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
) -> object:
    """The one YAML document in ``text``; ``YamlRefused`` over a bound or for an alias or an
    anchor, ``yaml.YAMLError`` for bad syntax."""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise YamlRefused(f"YAML 文件大小 {size} 字节，超过上限 {max_bytes} 字节")
    loader = _BoundedLoader(text, max_nodes, max_depth)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
