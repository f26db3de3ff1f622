"""Reading a bid package's loosely typed documents (标书导入的字段读取): the file names of the
format, the id alphabet, and ``FieldReader``, which reads one field at a time and records a
``PackageProblem`` (file, field, message) for each bad one instead of stopping at the first.

Used by the importer (``scoring.package``) and its rubric part (``scoring.package_rubric``).
This module must never read files itself: it takes what was read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TypeVar

from scoring.decimals import CONTEXT, parse_decimal
from scoring.errors import PackageProblem

__all__ = [
    "BIDDERS_FILE",
    "CHAPTER_EXTENSIONS",
    "CHAPTER_PATH",
    "DOCUMENT_FILES",
    "FORMAT",
    "ID",
    "PACKAGE_FILE",
    "PRICES_FILE",
    "RUBRIC_FILE",
    "FieldReader",
    "on_grid",
    "shown",
]

FORMAT = "bid-package/1"
PACKAGE_FILE = "package.yaml"
BIDDERS_FILE = "bidders.yaml"
RUBRIC_FILE = "rubric.yaml"
PRICES_FILE = "prices.yaml"
DOCUMENT_FILES = (PACKAGE_FILE, BIDDERS_FILE, RUBRIC_FILE, PRICES_FILE)
CHAPTER_EXTENSIONS = (".md", ".html", ".htm", ".txt")

# Ids appear in file paths and in signed documents: keep them to a portable alphabet.
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
CHAPTER_PATH = re.compile(r"chapters/([^/]+)/([^/]+?)(\.[A-Za-z]+)")

T = TypeVar("T")

#: how much of a bad value a problem quotes
SHOWN_CHARS = 80


def shown(value: object) -> str:
    """``repr(value)``, cut to ``SHOWN_CHARS``: a problem quotes enough of a bad value to find
    it, never the whole of a huge one (a long string, a list of thousands)."""
    if isinstance(value, list | dict) and len(value) > SHOWN_CHARS:
        return f"<{type(value).__name__}，{len(value)} 项>"
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[: SHOWN_CHARS - 1]}…"


class FieldReader:
    """Reads fields out of loosely typed documents, recording a problem for each bad one."""

    def __init__(self) -> None:
        self.problems: list[PackageProblem] = []

    def add(self, file: str, field: str, message: str) -> None:
        self.problems.append(PackageProblem(file, field, message))

    def mapping(self, value: object, file: str, field: str) -> Mapping[str, object] | None:
        if value is None:
            self.add(file, field, "缺少必填字段")
            return None
        if not isinstance(value, Mapping):
            self.add(file, field, "应为键值对象")
            return None
        return value

    def sequence(self, value: object, file: str, field: str) -> Sequence[object] | None:
        if value is None:
            self.add(file, field, "缺少必填字段")
            return None
        if not isinstance(value, list) or not value:
            self.add(file, field, "应为非空列表")
            return None
        return value

    def text(self, obj: Mapping[str, object], key: str, file: str, field: str) -> str | None:
        value = obj.get(key)
        if value is None:
            self.add(file, f"{field}.{key}", "缺少必填字段")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(file, f"{field}.{key}", "应为非空字符串")
            return None
        return value.strip()

    def ident(self, obj: Mapping[str, object], key: str, file: str, field: str) -> str | None:
        value = self.text(obj, key, file, field)
        if value is not None and not ID.fullmatch(value):
            self.add(
                file,
                f"{field}.{key}",
                f"编号 {shown(value)} 只能由字母、数字、下划线、点和连字符组成，且以字母或数字开头",
            )
            return None
        return value

    def decimal(
        self,
        obj: Mapping[str, object],
        key: str,
        file: str,
        field: str,
        *,
        default: Decimal | None = None,
        positive: bool = False,
    ) -> Decimal | None:
        raw = obj.get(key)
        if raw is None:
            if default is None:
                self.add(file, f"{field}.{key}", "缺少必填字段")
            return default
        value = parse_decimal(raw)
        if value is None:
            self.add(file, f"{field}.{key}", f"应为数值，实际为 {shown(raw)}")
            return None
        if positive and value <= 0:
            self.add(file, f"{field}.{key}", f"应大于 0，实际为 {value}")
            return None
        return value

    def optional_decimal(
        self,
        obj: Mapping[str, object],
        key: str,
        file: str,
        field: str,
        *,
        positive: bool = False,
    ) -> Decimal | None:
        """The number, or None when the field is absent (or bad: then a problem is recorded)."""
        if obj.get(key) is None:
            return None
        return self.decimal(obj, key, file, field, positive=positive)

    def strings(
        self, obj: Mapping[str, object], key: str, file: str, field: str
    ) -> tuple[str, ...]:
        raw = obj.get(key)
        if raw is None:
            return ()
        if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
            self.add(file, f"{field}.{key}", "应为非空字符串的列表")
            return ()
        return tuple(s.strip() for s in raw)

    def choice(
        self,
        obj: Mapping[str, object],
        key: str,
        file: str,
        field: str,
        parse: Callable[[str], T],
        allowed: Iterable[str],
    ) -> T | None:
        value = self.text(obj, key, file, field)
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError:
            self.add(
                file, f"{field}.{key}", f"取值 {shown(value)} 无效，可选：{'、'.join(allowed)}"
            )
            return None


def on_grid(value: Decimal, step: Decimal) -> bool:
    """Whether ``value`` is a whole multiple of ``step``."""
    return CONTEXT.remainder(value, step) == 0
