"""What the security tests build on: signed-in headers without the slow password check, and the
seeded session's random draw (两随机) with the facts only the system administrator may read."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient

from evaluation_hub.admin.tokens import new_claims
from evaluation_hub.api.auth import issue_token

__all__ = ["SECRET", "Drawn", "DrawnSeat", "bearer", "draw", "window_query"]

#: tests/conftest.py's ``client`` signs tokens with this secret
SECRET = "t" * 40
_USERS = {
    "km_operator": ("host_operator", "KM"),
    "km_admin": ("venue_admin", "KM"),
    "km_supervisor": ("supervisor", "KM"),
    "dl_admin": ("venue_admin", "DL"),
    "dl_supervisor": ("supervisor", "DL"),
    "hh_admin": ("venue_admin", "HH"),
    "hh_supervisor": ("supervisor", "HH"),
    "qj_admin": ("venue_admin", "QJ"),
    "qj_operator": ("host_operator", "QJ"),  # made by tests/security/world.py
    "qj_supervisor": ("supervisor", "QJ"),
    "sysadmin": ("system_admin", None),
}


def bearer(ids: dict[str, Any], username: str, now: datetime) -> dict[str, str]:
    """The headers of ``username`` (a seeded user) signed in at ``now``."""
    role, venue = _USERS[username]
    # A seeded user's first token version (0); a fresh jti per call, as every sign-in gets.
    claims = new_claims(username, 0, secrets.token_urlsafe(24), now, timedelta(hours=8))
    token = issue_token(SECRET, claims, role, ids["venues"][venue] if venue else None)
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class DrawnSeat:
    seat_id: int
    label: str
    venue_id: int
    booking_id: int


@dataclass(frozen=True)
class Drawn:
    """The draw as only the system administrator may read it before the start."""

    seats: tuple[DrawnSeat, ...]
    bookings: dict[int, int]  # booking id -> venue id

    def venues(self) -> set[int]:
        return set(self.bookings.values())

    def at(self, venue_id: int) -> list[DrawnSeat]:
        return [s for s in self.seats if s.venue_id == venue_id]


async def window_query(client: TestClient[Any, Any], ids: dict[str, Any], now: datetime) -> str:
    """The directory's query for the seats free during the seeded session's window."""
    resp = await client.get(f"/api/sessions/{ids['session']}", headers=bearer(ids, "sysadmin", now))
    assert resp.status == 200, await resp.text()
    session = await resp.json()
    return f"/api/seats?{urlencode({'free_from': session['starts_at'], 'free_to': session['ends_at']})}"


async def draw(client: TestClient[Any, Any], ids: dict[str, Any], now: datetime) -> Drawn:
    """The host draws the away venues and seats of the seeded session at random; returns where
    the draw went, read as the system administrator."""
    host = bearer(ids, "km_operator", now)
    sid = ids["session"]
    resp = await client.post(
        f"/api/sessions/{sid}/allocation", json={"policy": "random"}, headers=host
    )
    assert resp.status == 201, await resp.text()
    root = bearer(ids, "sysadmin", now)
    resp = await client.get(f"/api/bookings?session_id={sid}", headers=root)
    assert resp.status == 200, await resp.text()
    bookings = await resp.json()
    assert bookings and all(b["drawn"] and b["venue_id"] is not None for b in bookings)
    return Drawn(
        seats=tuple(
            DrawnSeat(s["seat_id"], s["label"], b["venue_id"], b["id"])
            for b in bookings
            for s in b["seats"]
        ),
        bookings={b["id"]: b["venue_id"] for b in bookings},
    )
