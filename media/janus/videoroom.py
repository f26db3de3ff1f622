"""The VideoRoom plugin's requests, on a :class:`~media.janus.client.JanusHandle`.

A room is created with a ``secret`` (to edit or destroy it) and a ``pin`` (to join it): whoever
holds neither can neither change nor enter it, even with the API secret. Publishers join and
publish in one request (``joinandconfigure``) with their SDP offer and get Janus's answer;
subscribers join one publisher's feed, get Janus's offer, and ``start`` with their answer.
Every SDP is complete (no trickle): the offers and answers here carry their candidates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from media.errors import JanusError, JanusRefused
from media.janus.client import JanusHandle

__all__ = [
    "NO_SUCH_FEED",
    "NO_SUCH_ROOM",
    "ROOM_EXISTS",
    "Participant",
    "Room",
    "create_room",
    "destroy_room",
    "kick_others",
    "participants",
    "publish",
    "room_exists",
    "start",
    "subscribe",
]

logger = logging.getLogger(__name__)

#: VideoRoom's error code when a room with that id exists already
ROOM_EXISTS = 427
#: VideoRoom's error code when the room does not exist
NO_SUCH_ROOM = 426
#: VideoRoom's error code when a subscriber asks for a feed that is not there
NO_SUCH_FEED = 428


@dataclass(frozen=True)
class Room:
    """A room and the two secrets that guard it (never shown to a browser or a seat)."""

    id: int
    secret: str
    pin: str


@dataclass(frozen=True)
class Participant:
    feed: int
    display: str
    publishing: bool


def _offer(sdp: str, kind: str) -> dict[str, Any]:
    return {"type": kind, "sdp": sdp, "trickle": False}


async def create_room(
    handle: JanusHandle,
    room: Room,
    *,
    admin_key: str | None,
    publishers: int,
    description: str,
    record_dir: str | None = None,
) -> bool:
    """Create ``room`` unless it exists; True if this call created it."""
    body: dict[str, Any] = {
        "request": "create",
        "room": room.id,
        "secret": room.secret,
        "pin": room.pin,
        "description": description,
        "publishers": publishers,
        "is_private": True,
        "permanent": False,
        "audiocodec": "opus",
        "videocodec": "vp8,h264",
        "bitrate": 0,
        "fir_freq": 10,
        "notify_joining": False,
    }
    if admin_key is not None:
        body["admin_key"] = admin_key
    if record_dir is not None:
        body["record"] = True
        body["rec_dir"] = record_dir
    try:
        await handle.request(body)
    except JanusRefused as exc:
        if exc.code == ROOM_EXISTS:
            return False
        raise
    return True


async def destroy_room(handle: JanusHandle, room: Room) -> bool:
    """Destroy ``room`` (its participants are hung up); True if this call destroyed it, False
    if it was not there. Janus handles one request on a room at a time: of several callers
    destroying the same room, exactly one gets True."""
    try:
        await handle.request({"request": "destroy", "room": room.id, "secret": room.secret})
    except JanusRefused as exc:
        if exc.code != NO_SUCH_ROOM:
            raise
        return False
    return True


async def room_exists(handle: JanusHandle, room_id: int) -> bool:
    """Whether Janus holds room ``room_id`` now (``exists`` needs no secret)."""
    data = await handle.request({"request": "exists", "room": room_id})
    return bool(data.get("exists"))


async def participants(handle: JanusHandle, room: Room) -> list[Participant]:
    """The room's participants (``listparticipants`` needs no pin on a private room only for
    the room's own participants; the hub's handle asks with the room's secret)."""
    data = await handle.request(
        {"request": "listparticipants", "room": room.id, "secret": room.secret}
    )
    return [
        Participant(int(p["id"]), str(p.get("display", "")), bool(p.get("publisher")))
        for p in data.get("participants", [])
    ]


async def kick_others(handle: JanusHandle, room: Room, display: str, keep: int) -> list[int]:
    """Put out of ``room`` every participant shown as ``display`` but the feed ``keep`` (with the
    room's secret): the feeds put out. A seat publishing anew leaves one feed of it in its room:
    an older one (its seat agent died, and another hub process still holds its publisher) would
    otherwise stay, silent, for subscribers to pick. Best effort: with Janus unreachable, none."""
    kicked: list[int] = []
    try:
        for p in await participants(handle, room):
            if p.display != display or p.feed == keep:
                continue
            body = {"request": "kick", "room": room.id, "secret": room.secret, "id": p.feed}
            try:
                await handle.request(body)
            except JanusRefused as exc:
                if exc.code != NO_SUCH_FEED:  # gone meanwhile: as good as put out
                    raise
            kicked.append(p.feed)
    except JanusError as exc:
        logger.warning("older participants %r of room %s not put out: %s", display, room.id, exc)
    return kicked


async def publish(
    handle: JanusHandle, room: Room, display: str, offer_sdp: str, *, filename: str | None = None
) -> tuple[int, str]:
    """Join ``room`` as a publisher and publish ``offer_sdp``: the feed id and Janus's answer.
    In a recording room, ``filename`` is the base name of its recordings."""
    body: dict[str, Any] = {
        "request": "joinandconfigure",
        "ptype": "publisher",
        "room": room.id,
        "pin": room.pin,
        "display": display,
        "audio": True,
        "video": True,
    }
    if filename is not None:
        body["filename"] = filename
    data, jsep = await handle.message(body, _offer(offer_sdp, "offer"))
    if jsep is None or "sdp" not in jsep:
        raise JanusRefused("joinandconfigure", 0, "no SDP answer in Janus's reply")
    return int(data["id"]), str(jsep["sdp"])


async def subscribe(handle: JanusHandle, room: Room, feed: int) -> str:
    """Join ``room`` as a subscriber of ``feed``: Janus's SDP offer."""
    _data, jsep = await handle.message(
        {
            "request": "join",
            "ptype": "subscriber",
            "room": room.id,
            "pin": room.pin,
            "streams": [{"feed": feed}],
        }
    )
    if jsep is None or "sdp" not in jsep:
        raise JanusRefused("join", 0, "no SDP offer in Janus's reply")
    return str(jsep["sdp"])


async def start(handle: JanusHandle, room: Room, answer_sdp: str) -> None:
    """Start a subscription with the subscriber's SDP answer."""
    await handle.message({"request": "start", "room": room.id}, _offer(answer_sdp, "answer"))
