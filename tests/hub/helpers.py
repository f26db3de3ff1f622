"""Helpers for the hub's API tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

from evaluation_hub.db.engine import Database
from evaluation_hub.sessions import formation

PROBLEM = "application/problem+json"


async def login(
    client: TestClient[Any, Any], username: str, password: str = "demo-2026"
) -> dict[str, str]:
    resp = await client.post("/api/auth/token", json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()
    token = (await resp.json())["token"]
    client.session.cookie_jar.clear()  # the bearer header, not the cookie, identifies the caller
    return {"Authorization": f"Bearer {token}"}


async def problem(resp: Any, status: int) -> dict[str, Any]:
    """Assert ``resp`` is an RFC 9457 problem with ``status`` and return its body."""
    body = await resp.text()
    assert resp.status == status, body
    assert resp.content_type == PROBLEM, resp.content_type
    data: dict[str, Any] = await resp.json(content_type=PROBLEM)
    assert data["status"] == status
    assert data["type"].startswith("https://evaluation-hub.invalid/problems/")
    return data


async def confirm_members(
    database: Database, session_id: int, codes: Iterable[str], at: datetime
) -> None:
    """Record the integrity commitment of committee members, as their seats (or, for host
    members, the host API) would, so the committee that starts is a lawful one."""
    async with database.write() as s:
        for code in codes:
            await formation.decide(
                s, session_id, code, "confirmed", "", actor=f"test:{code}", host=None, now=at
            )
