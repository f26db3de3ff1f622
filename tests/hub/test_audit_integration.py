"""The hub's own audit trail: booking changes land on the chain, the hub signs checkpoints, and
`evaluation-hub audit verify` proves the chain with the hub's public key, or names the edit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import text

from evaluation_hub.api.app import checkpoint_once
from evaluation_hub.db.engine import Database
from tests.hub.helpers import login


def verify_cli(url: str, public_key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "evaluation_hub.cli",
            "audit",
            "verify",
            "--database-url",
            url,
            "--public-key",
            str(public_key),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_hub_signs_checkpoints_and_the_chain_verifies(
    client: TestClient[Any, Any], seeded: dict[str, Any], database: Database, tmp_path: Path
) -> None:
    host = await login(client, "km_operator")
    dali = await login(client, "dl_admin")
    seats = seeded["seats"]
    resp = await client.post(
        "/api/bookings",
        json={
            "session_id": seeded["session"],
            "venue_id": seeded["venues"]["DL"],
            "seat_count": 1,
            "seat_ids": [seats["DL-01"]],
        },
        headers=host,
    )
    booking = await resp.json()
    first = await checkpoint_once(client.app)  # the first event is anchored at once
    assert first is not None and first.seq == 1
    await client.post(f"/api/bookings/{booking['id']}/confirm", json={}, headers=dali)
    assert await checkpoint_once(client.app) is None  # one new event: the policy wants two
    await client.post(
        f"/api/bookings/{booking['id']}/cancel", json={"reason": "改期"}, headers=host
    )
    made = await checkpoint_once(client.app)
    assert made is not None and made.seq == 3
    assert await checkpoint_once(client.app) is None  # nothing new to vouch for

    public_key = tmp_path / "hub-key.pub"
    ok = verify_cli(database.url, public_key)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("audit chain OK: 3 events, 2 checkpoints, head ")

    # Somebody rewrites who confirmed the booking, straight in the database.
    async with database.engine.begin() as conn:
        await conn.execute(text("UPDATE audit_events SET actor = 'hh_admin' WHERE seq = 2"))
    bad = verify_cli(database.url, public_key)
    assert bad.returncode == 1
    assert bad.stdout == (
        f"event 2 (booking.confirmed on booking:{booking['id']}) was edited: its contents do not "
        "match its stored hash\n"
    )
