"""Where a session's Janus room is and how it is guarded (``live.janus_plane``): the instance
chosen by the session's id, and the room's secret and PIN, keyed hashes of the hub's shared
secret, so every hub process finds the same room with the same PIN and nobody else can."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from media.janus import videoroom
from media.janus.client import JanusSession
from media.janus.videoroom import Room

__all__ = [
    "JanusSettings",
    "Subscription",
    "instance_for",
    "published_feeds",
    "room_for",
    "room_ids",
    "token_digest",
]


@dataclass(frozen=True)
class JanusSettings:
    urls: tuple[str, ...]
    api_secret: str | None
    admin_key: str | None
    #: the hub's secret shared by every hub process: rooms' secrets and PINs derive from it
    room_key: bytes = field(repr=False)
    #: publishers per room (seats of one session)
    publishers: int = 100


def instance_for(session_id: int, urls: Sequence[str]) -> str:
    """The Janus instance holding ``session_id``'s room: the same for every hub process."""
    return urls[session_id % len(urls)]


def room_for(session_id: int, key: bytes) -> Room:
    """``session_id``'s room, with its secret and PIN (keyed hashes: nobody derives them
    without the hub's secret)."""

    def derive(purpose: str) -> str:
        message = f"janus-room-{purpose}:{session_id}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]

    return Room(session_id, derive("secret"), derive("pin"))


@dataclass(frozen=True)
class Subscription:
    """What the browser gets for one seat: Janus's offer, the viewer id, the one-time token."""

    viewer_id: int
    token: str
    sdp: str


async def published_feeds(session: JanusSession, room: Room) -> dict[str, int]:
    """The room's publishing participants: seat key (their display name) → feed id, whichever
    hub process relayed them."""
    handle = await session.attach()
    try:
        present = await videoroom.participants(handle, room)
    finally:
        await handle.detach()
    return {p.display: p.feed for p in present if p.publishing}


async def room_ids(session: JanusSession, admin_key: str | None) -> list[int]:
    """The ids of the rooms the instance holds (private ones too, asked with the admin key)."""
    body: dict[str, Any] = {"request": "list"}
    if admin_key is not None:
        body["admin_key"] = admin_key
    handle = await session.attach()
    try:
        listed = (await handle.request(body)).get("list", [])
    finally:
        await handle.detach()
    return [int(room["room"]) for room in listed]


def token_digest(token: str) -> bytes:
    """What the hub keeps of a subscription's one-time token (never the token itself)."""
    return hashlib.sha256(token.encode()).digest()
