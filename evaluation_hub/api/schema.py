"""Request-body validation against the JSON Schemas the OpenAPI document publishes.

Validating with the very schema the document shows keeps the two from drifting apart. Only the
subset of JSON Schema the API uses is supported; an unsupported keyword is a programming error.
Every problem is reported at once, each naming its field, in Chinese for the person who fixes it.

Before validation a body must be JSON the hub can hold (``read_json``): nesting at most
:data:`MAX_DEPTH` deep, integers within the signed 64-bit range (so every id fits the database),
no ``NaN``/``Infinity``, and text without NUL characters or lone surrogates (neither PostgreSQL
nor UTF-8 can store them). Each is refused as a 422 problem, never a 500. ``null`` is refused
where a field is required; an optional field given as ``null`` counts as absent.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from aiohttp import web

from evaluation_hub.api.keys import CONFIG
from evaluation_hub.errors import InvalidInput, TooLarge

__all__ = [
    "FIRST_YEAR",
    "ID",
    "INT64_MAX",
    "INT64_MIN",
    "LAST_YEAR",
    "MAX_DEPTH",
    "MAX_ID",
    "check_text",
    "in_supported_years",
    "read_json",
    "validate",
]

#: deepest nesting of arrays and objects a body may have (the API's own schemas need 4)
MAX_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# An integer literal longer than this cannot be in range; refusing it before ``int()`` keeps a
# 4,300-digit number from costing the parse (or raising Python's digit-limit ValueError).
_MAX_INT_CHARS = len(str(INT64_MIN))
#: The largest id a database row can have: ids are 32-bit integer columns on PostgreSQL (well
#: within 63 bits). An id past it names nothing, and must never reach the database, which
#: would refuse the parameter itself.
MAX_ID = 2**31 - 1
#: a body field naming a row by its id
ID: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
#: the years a time may fall in: local-day arithmetic (a day later, a window's end) stays
#: inside the calendar Python can count
FIRST_YEAR, LAST_YEAR = 1970, 2999


def in_supported_years(value: date) -> bool:
    return FIRST_YEAR <= value.year <= LAST_YEAR


_TYPE_NAMES = {
    "integer": "整数",
    "number": "数字",
    "string": "字符串",
    "boolean": "布尔值",
    "array": "数组",
    "object": "对象",
}
_SUPPORTED = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "maxItems",
    "minItems",
    "uniqueItems",
    "format",
    "enum",
    "description",
    "example",
}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    raise AssertionError(f"unsupported schema type {kind}")


def _check(value: Any, schema: dict[str, Any], where: str, problems: list[str]) -> None:
    unknown = set(schema) - _SUPPORTED
    assert not unknown, f"unsupported schema keywords {unknown}"
    kind = schema.get("type")
    if kind and not _is_type(value, kind):
        problems.append(f"字段 {where} 必须是{_TYPE_NAMES[kind]}")
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"字段 {where} 必须是 {'、'.join(map(str, schema['enum']))} 之一")
    if kind == "integer":
        if not INT64_MIN <= value <= INT64_MAX:
            problems.append(f"字段 {where} 超出 64 位整数范围")
            return
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"字段 {where} 不能小于 {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"字段 {where} 不能大于 {schema['maximum']}")
    if kind == "number":
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"字段 {where} 不能小于 {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"字段 {where} 不能大于 {schema['maximum']}")
    if kind == "string":
        if "minLength" in schema and len(value.strip()) < schema["minLength"]:
            problems.append(
                f"字段 {where} 不能为空"
                if schema["minLength"] == 1
                else f"字段 {where} 至少 {schema['minLength']} 个字符"
            )
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"字段 {where} 不能超过 {schema['maxLength']} 个字符")
        if schema.get("format") == "date-time":
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                problems.append(
                    f"字段 {where} 必须是 ISO 8601 时间，例如 2026-12-01T09:00:00+08:00"
                )
            else:
                if parsed.tzinfo is None:
                    problems.append(f"字段 {where} 必须带时区，例如 2026-12-01T09:00:00+08:00")
                elif not in_supported_years(parsed):
                    problems.append(f"字段 {where} 必须在 {FIRST_YEAR} 年至 {LAST_YEAR} 年之间")
    if kind == "array":
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"字段 {where} 至少需要 {schema['minItems']} 项")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"字段 {where} 最多 {schema['maxItems']} 项")
        if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) != len(
            value
        ):
            problems.append(f"字段 {where} 不能包含重复项")
        for i, item in enumerate(value):
            _check(item, schema.get("items", {}), f"{where}[{i}]", problems)
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"缺少字段 {_join(where, name)}")
            elif value[name] is None:
                problems.append(f"字段 {_join(where, name)} 不能为 null")
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(props))
            if extra:
                problems.append(f"不支持的字段：{', '.join(_join(where, n) for n in extra)}")
        for name, sub in props.items():
            if name in value and value[name] is not None:
                _check(value[name], sub, _join(where, name), problems)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _drop_nulls(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` without the optional fields its schema declares given as ``null`` (they count
    as absent), so a handler's ``body.get(name, default)`` sees its default; a free-form
    object's own ``null`` values are its content and stay."""
    if isinstance(value, dict) and schema.get("type") == "object":
        props: dict[str, Any] = schema.get("properties", {})
        return {
            name: _drop_nulls(item, props.get(name, {}))
            for name, item in value.items()
            if not (item is None and name in props)
        }
    if isinstance(value, list) and schema.get("type") == "array":
        return [_drop_nulls(item, schema.get("items", {})) for item in value]
    return value


def validate(value: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``value`` if it satisfies ``schema``; otherwise 422 listing every problem."""
    problems: list[str] = []
    if not isinstance(value, dict):
        raise InvalidInput("invalid-body", "请求体必须是 JSON 对象")
    _check(value, schema, "", problems)
    if problems:
        raise InvalidInput("invalid-body", "；".join(problems), errors=problems)
    cleaned: dict[str, Any] = _drop_nulls(value, schema)
    return cleaned


class _Unholdable(ValueError):
    """JSON the hub refuses to hold (a number out of range, ``NaN``), met while parsing."""


def _parse_int(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > _MAX_INT_CHARS:
        raise _Unholdable("请求体中的整数超出 64 位整数范围")
    number = int(text)
    if not INT64_MIN <= number <= INT64_MAX:
        raise _Unholdable("请求体中的整数超出 64 位整数范围")
    return number


def _parse_constant(name: str) -> Any:
    raise _Unholdable(f"请求体不是合法的 JSON：不支持 {name}")


def _parse_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise _Unholdable("请求体中的数值超出范围")
    return number


def check_text(text: str, where: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL character, a lone surrogate), or None."""
    if "\x00" in text:
        return f"{where}不能包含 NUL 字符"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{where}含有无效的 Unicode 字符（孤立的代理项）"
    return None


def _check_holdable(body: Any) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` and text that cannot be stored; iterative, so a
    body's shape never costs the stack."""
    stack: list[tuple[Any, int, str]] = [(body, 1, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            problem = check_text(value, f"字段 {where} " if where else "请求体")
            if problem:
                raise InvalidInput("invalid-body", problem)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise InvalidInput("too-deep", f"请求体嵌套超过 {MAX_DEPTH} 层")
        if isinstance(value, dict):
            for name, item in value.items():
                problem = check_text(name, "字段名")
                if problem:
                    raise InvalidInput("invalid-body", problem)
                stack.append((item, depth + 1, _join(where, name)))
        else:
            stack.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value))


async def read_json(request: web.Request, schema: dict[str, Any]) -> dict[str, Any]:
    """Read and validate a JSON body no larger than the configured limit."""
    limit = request.app[CONFIG].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge("too-large", f"请求体超过 {limit} 字节上限")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise TooLarge("too-large", f"请求体超过 {limit} 字节上限")
    if not raw.strip():
        body: Any = {}
    else:
        try:
            body = json.loads(
                raw,
                parse_int=_parse_int,
                parse_float=_parse_float,
                parse_constant=_parse_constant,
            )
        except _Unholdable as exc:
            raise InvalidInput("invalid-json", str(exc)) from None
        except RecursionError:
            # Far deeper than MAX_DEPTH: the parser gave up before we could count.
            raise InvalidInput("too-deep", f"请求体嵌套超过 {MAX_DEPTH} 层") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput("invalid-json", "请求体不是合法的 JSON") from exc
    _check_holdable(body)
    return validate(body, schema)
