"""The seat websocket's per-process state (工位连接): each seat's protocol channel and the live
sockets, and the port through which use cases reach seats.

``SeatHub`` implements ``evaluation_hub.seats.outlet.SeatOutlet``: the application's
``Services.seats`` is this object, so a use case pushes a message to a seat
(``hub.seats.send``) or drops a revoked terminal (``hub.seats.disconnect``) without knowing
about websockets. Channels outlive connections (a seat that reconnects resumes its numbered
stream); sockets are the accepted websockets of this process, each with its protocol machine.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from evaluation_hub.seats.chapter_chunks import ChapterChunks
from seat_protocol.closecodes import CloseCode
from seat_protocol.events import CloseConnection, CommitScore, SendBytes, SendText
from seat_protocol.hub_side import HubChannels, HubConnection, Timing
from seat_protocol.messages import AppMessage

__all__ = ["CHAPTERS", "SEAT_HUB", "MediaOfferHandler", "ScoreListener", "SeatHub", "SeatSocket"]

# Told about every committed score (new ones only) before the seat gets its acknowledgement;
# the session engine hangs its scoring work here. The commit is durable by then: a listener's
# failure is logged and does not withhold the acknowledgement (the row is in
# ``submitted_scores`` for whoever reads it there).
ScoreListener = Callable[[CommitScore], Awaitable[None]]
# Answers a seat's media offer (seat key, offer id, SDP) with an SDP answer; the live module
# (evaluation_hub.live) is the one. It raises a ``ProblemError`` (a slug and a Chinese
# message) to refuse.
MediaOfferHandler = Callable[[str, str, str], Awaitable[str]]


class SeatSocket:
    """One accepted websocket and its machine; ``flush`` writes what the machine queued."""

    def __init__(self, ws: web.WebSocketResponse, conn: HubConnection) -> None:
        self.ws = ws
        self.conn = conn
        self._lock = asyncio.Lock()
        # Held while a frame is handled (its events before its outputs) and while ticking, so
        # the timer cannot send a frame's answer before the database work it promises is done.
        self.busy = asyncio.Lock()
        # Set after every frame: the machine's deadline may have moved earlier (the handshake
        # finished and heartbeats started), and the timer must not sleep past it.
        self.wake = asyncio.Event()

    async def flush(self) -> None:
        async with self._lock:
            for out in self.conn.data_to_send():
                if self.ws.closed:
                    return
                try:
                    if isinstance(out, SendBytes):
                        await self.ws.send_bytes(out.data)
                    elif isinstance(out, SendText):
                        await self.ws.send_str(out.text)
                    else:
                        assert isinstance(out, CloseConnection)
                        await self.ws.close(code=out.code, message=out.reason.encode("utf-8"))
                except ConnectionError:
                    # The transport is gone; the reader reports it to the machine, and what was
                    # not delivered is resent from the channel after the seat reconnects.
                    return


@dataclass
class SeatHub:
    """Per-process state of the seat websocket: channels and the live sockets."""

    hub_id: str
    timing: Timing
    monotonic: Callable[[], float] = time.monotonic
    nonce: Callable[[], bytes] = field(default=lambda: os.urandom(32))
    # Other parts of the hub append to this list (see ``ScoreListener``); called in order.
    score_listeners: list[ScoreListener] = field(default_factory=list)
    media_offer_handler: MediaOfferHandler | None = None
    # Answers a seat's receive-only talk-back offer, the same way (evaluation_hub.talkback).
    talkback_offer_handler: MediaOfferHandler | None = None
    # Told (source "seat", outcome, seconds) of every score save handled (api.ops: metrics).
    save_observer: Callable[[str, str, float], None] | None = None
    # Answers ChunksRequested: the chunks released to seats in this process.
    chapter_source: ChapterChunks | None = None
    channels: HubChannels = field(default_factory=HubChannels)
    sockets: dict[HubConnection, SeatSocket] = field(default_factory=dict)
    # Closing a replaced socket waits for its peer's close frame (or aiohttp's timeout); that
    # runs beside the new connection, never in its way. Kept here so the tasks are not lost.
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def connected(self, seat_key: str) -> bool:
        """Whether the seat has a live, authenticated connection to this hub process."""
        if seat_key not in self.channels:
            return False
        live = self.channels.get(seat_key).connection
        return live is not None and live in self.sockets

    async def send(self, seat_key: str, msg: AppMessage) -> bool:
        """Push ``msg`` to the seat: written now if it is connected, else kept for its resume.

        False (nothing queued) if the seat has not authenticated to this hub process since it
        started: a fresh process has no channel to number the message on.
        """
        if seat_key not in self.channels:
            return False
        channel = self.channels.get(seat_key)
        channel.send(msg)
        await self.flush_live(seat_key)
        return True

    async def flush_live(self, seat_key: str) -> None:
        """Write what the seat's channel queued, on whichever connection of the seat is live."""
        if seat_key not in self.channels:
            return
        live = self.channels.get(seat_key).connection
        if live is not None and live in self.sockets:
            await self.sockets[live].flush()

    async def disconnect(self, seat_key: str, code: CloseCode, detail: str) -> bool:
        """Close the seat's live connection (e.g. its key was just revoked); False if none."""
        if not self.connected(seat_key):
            return False
        live = self.channels.get(seat_key).connection
        assert live is not None
        sock = self.sockets[live]
        async with sock.busy:  # not in the middle of a frame's database work
            live.close(code, detail)
            await sock.flush()
        return True

    def spawn(self, task: asyncio.Task[None]) -> asyncio.Task[None]:
        """Keep a background task referenced until it is done."""
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task


SEAT_HUB = web.AppKey("seat_hub", SeatHub)
CHAPTERS = web.AppKey("seat_chapters", ChapterChunks)
