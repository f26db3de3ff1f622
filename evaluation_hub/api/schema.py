"""Request-body validation against the JSON Schemas the OpenAPI document publishes.

Validating with the very schema the document shows keeps the two from drifting apart. Only the
subset of JSON Schema the API uses is supported; an unsupported keyword is a programming error.
Every problem is reported at once, each naming its field, in Chinese for the person who fixes it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from evaluation_hub.api.keys import CONFIG
from evaluation_hub.errors import InvalidInput, TooLarge

__all__ = ["read_json", "validate"]

_TYPE_NAMES = {
    "integer": "整数",
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
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(props))
            if extra:
                problems.append(f"不支持的字段：{', '.join(_join(where, n) for n in extra)}")
        for name, sub in props.items():
            if name in value and value[name] is not None:
                _check(value[name], sub, _join(where, name), problems)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def validate(value: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``value`` if it satisfies ``schema``; otherwise 422 listing every problem."""
    problems: list[str] = []
    if not isinstance(value, dict):
        raise InvalidInput("invalid-body", "请求体必须是 JSON 对象")
    _check(value, schema, "", problems)
    if problems:
        raise InvalidInput("invalid-body", "；".join(problems), errors=problems)
    return value


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
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput("invalid-json", "请求体不是合法的 JSON") from exc
    return validate(body, schema)
