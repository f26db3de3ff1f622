"""The canonical byte encoding that audit hashes and checkpoint signatures are computed over.

One value has exactly one encoding, so a hash computed when an event is appended can be
recomputed years later from the stored row, by this code or by anyone following
docs/audit-chain.md:

* UTF-8 JSON, object keys sorted by Unicode code point, no whitespace, non-ASCII characters
  written as themselves (not ``\\u`` escapes), the escapes Python's ``json`` module writes for
  ``"``, ``\\`` and control characters;
* ``None``/``bool``/``str`` as JSON ``null``/``true``/``false``/string;
* ``int`` as a JSON number, limited to ±(2**53 - 1) so every JSON reader sees the same number;
* ``Decimal`` as a string in fixed-point notation keeping its scale (``Decimal("1.50")`` →
  ``"1.50"``, ``Decimal("1E+2")`` → ``"100"``);
* aware ``datetime`` as an RFC 3339 UTC string with microseconds
  (``"2025-01-26T01:02:03.000004Z"``), ``date`` as ``"YYYY-MM-DD"``;
* ``list``/``tuple`` as arrays, ``dict`` with ``str`` keys as objects.

Floats (binary rounding makes their text unstable across languages), NaN, infinities, naive
datetimes, NUL characters (PostgreSQL cannot store them), lone surrogates and every other type
are refused with :class:`CanonicalEncodingError` naming where the value sits.

:func:`normalise` turns a value into the plain JSON value the database stores and gives back
(Decimals and datetimes become their strings); ``canonical(normalise(x)) == canonical(x)``.
This module is pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeAlias

from evaluation_hub.audit.errors import CanonicalEncodingError

__all__ = [
    "MAX_SAFE_INTEGER",
    "JSONValue",
    "canonical",
    "format_timestamp",
    "normalise",
    "parse_timestamp",
]

JSONValue: TypeAlias = "bool | int | str | list[JSONValue] | dict[str, JSONValue] | None"

# The largest integer every IEEE-754 based JSON reader (JavaScript, jq, …) keeps exactly.
MAX_SAFE_INTEGER = 2**53 - 1


def format_timestamp(at: datetime) -> str:
    """RFC 3339 in UTC with exactly six fractional digits and a ``Z``: one text per instant."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise CanonicalEncodingError("$", f"naive datetime {at.isoformat()} has no time zone")
    try:
        utc = at.astimezone(UTC)
    except OverflowError as exc:
        raise CanonicalEncodingError("$", f"datetime {at.isoformat()} is out of range") from exc
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


def parse_timestamp(text: str) -> datetime:
    """The inverse of :func:`format_timestamp` (accepts only its exact form)."""
    try:
        if not _TIMESTAMP.fullmatch(text):
            raise ValueError(text)
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError as exc:
        raise CanonicalEncodingError(
            "$", f"{text!r} is not an RFC 3339 UTC timestamp like 2025-01-26T01:02:03.000004Z"
        ) from exc


def _check_text(value: str, path: str) -> str:
    if "\x00" in value:
        raise CanonicalEncodingError(
            path, "text contains NUL (U+0000), which PostgreSQL cannot store"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalEncodingError(
            path, "text contains a lone surrogate, not valid UTF-8"
        ) from exc
    return value


def normalise(value: object, path: str = "$") -> JSONValue:
    """The plain JSON value that ``value`` is canonically encoded as (see the module docstring)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalEncodingError(
                path, f"integer {value} is outside ±(2**53 - 1); store it as a string or Decimal"
            )
        return value
    if isinstance(value, str):
        return _check_text(value, path)
    if isinstance(value, float):
        raise CanonicalEncodingError(
            path, f"float {value!r} is not allowed; use an int, a Decimal or a string"
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CanonicalEncodingError(path, f"Decimal {value} is not a finite number")
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise CanonicalEncodingError(
                path, f"naive datetime {value.isoformat()} has no time zone; pass an aware one"
            )
        try:
            return format_timestamp(value)
        except CanonicalEncodingError as exc:
            raise CanonicalEncodingError(path, exc.reason) from None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [normalise(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out: dict[str, JSONValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalEncodingError(path, f"object key {key!r} is not a string")
            _check_text(key, path)
            out[key] = normalise(item, f"{path}.{key}")
        return out
    raise CanonicalEncodingError(
        path, f"values of type {type(value).__name__} have no canonical encoding"
    )


def canonical(value: object) -> bytes:
    """The canonical UTF-8 JSON bytes of ``value``."""
    text = json.dumps(
        normalise(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return text.encode("utf-8")
