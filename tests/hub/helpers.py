"""Helpers for the hub's API tests."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from evaluation_hub.booking.regions import load_distances
from evaluation_hub.bus.memory import MemoryBus
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import EvaluationSession, Expert, SessionExpert
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.services import Services
from evaluation_hub.sessions import formation

PROBLEM = "application/problem+json"


def services_for(database: Database) -> Services:
    """The use cases' services around a test database, for calls made without an application
    (a fresh sealing key: whatever it seals is opened only by the same services)."""
    return Services(
        config=HubConfig(database_url=database.url, token_secret="t" * 40),
        db=database,
        sealer=Sealer(os.urandom(32)),
        bus=MemoryBus(),
        hub_key=Ed25519PrivateKey.generate(),
        distances=load_distances(),
        clock=lambda: datetime.now(UTC),
    )


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
