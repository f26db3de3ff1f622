"""One registry for the API's routes and their OpenAPI description.

Handlers are registered with :meth:`ApiRoutes.route`, which adds the route to aiohttp and records
its summary, parameters, request schema and responses; the OpenAPI document is generated from
the same records and request bodies are validated with the same schemas.

The answers the framework itself gives are documented for every operation they can come from,
so a route's ``errors=`` lists only what its use case refuses: 401 wherever a principal is
needed, 403 on a signed-in write (a cookie without the pages' request header,
``api.auth``), 404 wherever the path names something, 413 and 422 wherever a body is read,
422 wherever the query is parsed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = [
    "UNSAFE_METHODS",
    "ApiRoutes",
    "Operation",
    "documented_errors",
    "openapi_document",
    "path_params",
]

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
#: methods that change something: a cookie must come with the pages' request header
UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})


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
    #: other success statuses the operation answers (a random draw creates, a proposal reads)
    also: tuple[int, ...] = ()
    #: media types of a raw (binary) request body, streamed by the handler (an uploaded file)
    upload: tuple[str, ...] = ()


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
        also: tuple[int, ...] = (),
        upload: tuple[str, ...] = (),
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
                    also,
                    upload,
                )
            )
            return handler

        return register


_ID = {"type": "integer", "format": "int32"}  # ids are 32-bit (schema.MAX_ID)
_CODE = {"type": "string", "minLength": 1, "maxLength": 32}


def path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def _path_params(path: str) -> list[dict[str, Any]]:
    """``…_id`` parameters are database ids; any other is a code (``expert_code``)."""
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _ID if name.endswith("_id") else _CODE,
        }
        for name in path_params(path)
    ]


def documented_errors(op: Operation) -> set[int]:
    """Every error status ``op`` can answer: its own and the framework's."""
    codes = set(op.errors)
    if op.auth:
        codes.add(401)
        if op.method in UNSAFE_METHODS:
            codes.add(403)
    if path_params(op.path):
        codes.add(404)
    if op.body is not None:
        codes |= {413, 422}
    if op.query:
        codes.add(422)
    return codes


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
        for code in op.also:
            responses[str(code)] = {
                "description": _STATUS_TEXT.get(str(code), "成功"),
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        for code in sorted(documented_errors(op)):
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
        if op.upload:
            binary = {"schema": {"type": "string", "format": "binary"}}
            operation["requestBody"] = {
                "required": True,
                "content": dict.fromkeys(op.upload, binary),
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
