"""One registry for the API's routes and their OpenAPI description.

Handlers are registered with :meth:`ApiRoutes.route`, which adds the route to aiohttp and records
its summary, parameters, request schema and responses; the OpenAPI document is generated from
the same records and request bodies are validated with the same schemas.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["ApiRoutes", "Operation", "openapi_document"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PROBLEM = {"$ref": "#/components/schemas/Problem"}
_STATUS_TEXT = {
    "200": "成功",
    "201": "已创建",
    "204": "无内容",
    "401": "未登录或凭证无效",
    "403": "无权执行此操作",
    "404": "对象不存在",
    "409": "与当前状态冲突",
    "413": "请求体过大",
    "422": "请求内容不符合要求",
    "429": "尝试过于频繁，暂时锁定",
    "503": "服务暂时繁忙",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    body: dict[str, Any] | None
    response: dict[str, Any] | None
    status: int
    auth: bool
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: tuple[int, ...] = ()


class ApiRoutes:
    def __init__(self) -> None:
        self.table = web.RouteTableDef()
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        body: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        status: int = 200,
        auth: bool = True,
        query: dict[str, dict[str, Any]] | None = None,
        errors: tuple[int, ...] = (),
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.table.route(method, path)(handler)
            self.operations.append(
                Operation(
                    method.lower(),
                    path,
                    summary,
                    tag,
                    body,
                    response,
                    status,
                    auth,
                    query or {},
                    errors,
                )
            )
            return handler

        return register


def _path_params(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
        for name in re.findall(r"{(\w+)}", path)
    ]


def openapi_document(operations: list[Operation], schemas: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        responses: dict[str, Any] = {
            str(op.status): {
                "description": _STATUS_TEXT.get(str(op.status), "成功"),
                **(
                    {"content": {"application/json": {"schema": op.response}}}
                    if op.response
                    else {}
                ),
            }
        }
        error_codes = set(op.errors)
        if op.auth:
            error_codes |= {401}
        if op.body is not None:
            error_codes |= {413, 422}
        for code in sorted(error_codes):
            responses[str(code)] = {
                "description": _STATUS_TEXT[str(code)],
                "content": {"application/problem+json": {"schema": PROBLEM}},
            }
        operation: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": f"{op.method}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower()).strip('_')}",
            "parameters": _path_params(op.path)
            + [
                {"name": name, "in": "query", "required": False, "schema": schema}
                for name, schema in op.query.items()
            ],
            "responses": responses,
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": op.body}},
            }
        if op.auth:
            operation["security"] = [{"bearer": []}, {"cookie": []}]
        paths.setdefault(op.path, {})[op.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "远程异地评标 主场枢纽 API",
            "version": "0.1.0",
            "description": "工位共享目录、工位预约、评标会与分配建议。错误以 RFC 9457 problem+json 返回。",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "evalhub_token"},
            },
        },
    }
