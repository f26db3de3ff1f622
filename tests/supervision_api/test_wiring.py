"""The supervision routes fit the hub's conventions: documented, validated by their published
schemas, and their audit events keep the chain valid."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiohttp.web import RouteDef

from evaluation_hub.api import supervision
from evaluation_hub.api.keys import HUB_KEY
from evaluation_hub.api.routes import openapi_document
from evaluation_hub.api.schema import validate
from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.store import load_chain, load_checkpoints
from evaluation_hub.db.engine import Database
from evaluation_hub.errors import InvalidInput
from tests.hub.helpers import login
from tests.supervision_api.test_incidents import raise_as_host


def test_every_route_is_documented_with_its_schema() -> None:
    doc = openapi_document(supervision.routes.operations, {})
    served = {(r.method, r.path) for r in supervision.routes.table if isinstance(r, RouteDef)}
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert documented == served
    assert len(documented) == 18  # with presence at check-in (its list and the confirmation)
    # and the collusion signals (GET /api/sessions/{session_id}/supervision/signals)
    for path, item in doc["paths"].items():
        for op in item.values():
            assert {p["name"] for p in op["parameters"] if p["in"] == "path"} == set(
                re.findall(r"{(\w+)}", path)
            )
            assert "401" in op["responses"]
            if "requestBody" in op:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                # The validator supports every keyword the published schema uses, and demands
                # exactly the fields the document calls required.
                required = schema.get("required", [])
                if not required:
                    assert validate({}, schema) == {}
                    continue
                with pytest.raises(InvalidInput) as caught:
                    validate({}, schema)
                assert caught.value.extra["errors"] == [f"缺少字段 {n}" for n in required]


async def test_supervision_events_keep_the_chain_valid(
    sup_client: TestClient[Any, Any], seated: dict[str, Any], database: Database
) -> None:
    incident = await raise_as_host(sup_client, seated, "E06")
    headers = await login(sup_client, "km_supervisor")
    resp = await sup_client.post(
        f"/api/incidents/{incident['id']}/conclude", json={"result": "警告"}, headers=headers
    )
    assert resp.status == 200
    async with database.read() as s:
        events = await load_chain(s)
        checkpoints = await load_checkpoints(s)
    report = verify(events, checkpoints, sup_client.app[HUB_KEY].public_key())
    assert report.problem is None
    assert report.events == len(events)
    assert events[-1].kind == "supervision.copy_notice_created"
