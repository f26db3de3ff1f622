"""Helpers for the hub's API tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import EvaluationSession, Expert, SessionExpert
from evaluation_hub.principal import Principal
from evaluation_hub.sessions import formation
from tests.support.services import services_for

__all__ = ["confirm_committee", "confirm_members", "login", "problem", "services_for"]

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


async def confirm_committee(database: Database, session_id: int, at: datetime) -> list[str]:
    """Every member still pending confirms the integrity commitment, as before any start: host
    members through the host (``formation.decide_at_host``, as km_operator), the others as
    their seats would. The evaluation starts only once the confirmed members are a lawful
    committee; returns the codes that confirmed now (members who recused stay out)."""
    async with database.read() as s:
        session = await s.get(EvaluationSession, session_id)
        assert session is not None
        host = Principal("km_operator", "host_operator", session.host_venue_id)
        pending = (
            await s.execute(
                select(Expert.code, SessionExpert.placement)
                .join(SessionExpert, SessionExpert.expert_id == Expert.id)
                .where(SessionExpert.session_id == session_id, SessionExpert.decision == "pending")
                .order_by(SessionExpert.id)
            )
        ).all()
    for code, placement in pending:
        if placement == "host":
            await formation.decide_at_host(
                services_for(database), host, session_id, code, "confirmed", "", now=at
            )
        else:
            await confirm_members(database, session_id, (code,), at)
    return [code for code, _ in pending]
