"""The OpenAPI document describes exactly the routes the application serves."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from tests.hub.helpers import login


async def test_openapi_matches_routes(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    served = set()
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api/") and route.method != "HEAD":
            served.add((route.method, path))
    assert documented == served
    for path, item in doc["paths"].items():
        params = set(re.findall(r"{(\w+)}", path))
        for op in item.values():
            assert op["summary"]
            assert {p["name"] for p in op["parameters"] if p["in"] == "path"} == params
            if "security" in op:
                assert op["responses"]["401"]["content"]["application/problem+json"]
            if "requestBody" in op:
                assert "422" in op["responses"]


async def test_request_bodies_are_validated_by_the_published_schemas(
    client: TestClient[Any, Any], seeded: dict[str, Any]
) -> None:
    """Whatever the document says is required is what the server demands."""
    doc = await (await client.get("/api/openapi.json")).json()
    headers = await login(client, "sysadmin")
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if "requestBody" not in op or "{" in path:
                continue
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            resp = await client.request(method.upper(), path, json={}, headers=headers)
            required = schema.get("required", [])
            if required:
                body = await resp.json(content_type=None)
                assert resp.status == 422, (path, body)
                assert body["errors"] == [f"缺少字段 {name}" for name in required]
