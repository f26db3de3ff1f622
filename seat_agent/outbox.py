"""The seat's offline-safe score outbox (评分离线暂存): every score save lands on local disk
first and leaves only when the hub has acknowledged its commit.

``ScoreOutbox`` is a small SQLite file (stdlib ``sqlite3`` in a worker thread, synchronous=FULL)
holding each save under its idempotency key until ``acknowledged``. ``ScoreDelivery`` connects
it to a ``SeatLink``: a save is written to the outbox, then sent; on every (re)connection that
lost state on either end, and on the first connection of a process, everything still in the
outbox is sent again. The hub's UNIQUE idempotency key makes those replays count once.

Never deletes a save before the hub's ``score_ack`` for its key, and never sends on a channel
before its first handshake of this process (see ``seat_agent.connection``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog

from seat_agent.connection import SeatLink
from seat_agent.errors import OutboxError
from seat_protocol.events import Connected, Event, MessageReceived, ScoreCommitted
from seat_protocol.messages import ErrorNotice, SubmitScore

__all__ = ["PendingScore", "RefusedScore", "ScoreDelivery", "ScoreOutbox"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    idempotency_key TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL,
    sheet           TEXT NOT NULL,
    saved_at        REAL NOT NULL,
    refused_code    TEXT,
    refused_message TEXT
)
"""

# A refusal the hub may not repeat: its commit failed, so the save is simply sent again later.
TRANSIENT_REFUSALS = frozenset({"commit-failed"})


@dataclass(frozen=True)
class PendingScore:
    idempotency_key: str
    session_id: str
    sheet: dict[str, Any]
    saved_at: float


@dataclass(frozen=True)
class RefusedScore:
    idempotency_key: str
    code: str
    message: str


class ScoreOutbox:
    """Score saves waiting for the hub's acknowledgement, in a local SQLite file."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        *,
        new_key: Callable[[], str],
        clock: Callable[[], float],
    ) -> None:
        self._conn = conn
        self.path = path
        self._new_key = new_key
        self._clock = clock
        self._lock = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        new_key: Callable[[], str] = lambda: uuid.uuid4().hex,
        clock: Callable[[], float] = time.time,
    ) -> ScoreOutbox:
        def connect() -> sqlite3.Connection:
            # The scores are the expert's: the file is made 0600 before SQLite opens it (its
            # -wal and -shm files take the same mode), an older one narrowed to 0600.
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            os.chmod(path, 0o600)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                # FULL: a save the expert saw confirmed survives a power cut, not only a crash.
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute(_SCHEMA)
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise OutboxError(
                    f"the score outbox {path} cannot be used ({exc}); keep the file for the "
                    "venue staff and do not delete it: it may hold unsent scores"
                ) from exc
            return conn

        conn = await asyncio.to_thread(connect)
        return cls(conn, path, new_key=new_key, clock=clock)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            return await asyncio.to_thread(fn, self._conn)

    async def save(self, session_id: str, sheet: dict[str, Any]) -> str:
        """Store a save durably and return its idempotency key."""
        key = self._new_key()
        text = json.dumps(sheet, ensure_ascii=False, sort_keys=True)
        now = self._clock()

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO outbox (idempotency_key, session_id, sheet, saved_at) "
                "VALUES (?, ?, ?, ?)",
                (key, session_id, text, now),
            )

        await self._run(insert)
        return key

    async def pending(self) -> list[PendingScore]:
        """Saves not yet acknowledged nor refused, oldest first."""

        def select(conn: sqlite3.Connection) -> list[tuple[str, str, str, float]]:
            rows = conn.execute(
                "SELECT idempotency_key, session_id, sheet, saved_at FROM outbox "
                "WHERE refused_code IS NULL ORDER BY saved_at, rowid"
            )
            return list(rows)

        return [PendingScore(k, s, json.loads(t), at) for k, s, t, at in await self._run(select)]

    async def refused_scores(self) -> list[RefusedScore]:
        def select(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
            rows = conn.execute(
                "SELECT idempotency_key, refused_code, refused_message FROM outbox "
                "WHERE refused_code IS NOT NULL ORDER BY rowid"
            )
            return list(rows)

        return [RefusedScore(*row) for row in await self._run(select)]

    async def acknowledged(self, idempotency_key: str) -> None:
        """The hub committed this save: forget it (a repeated ack changes nothing)."""
        await self._run(
            lambda conn: conn.execute(
                "DELETE FROM outbox WHERE idempotency_key = ?", (idempotency_key,)
            )
        )

    async def refused(self, idempotency_key: str, code: str, message: str) -> None:
        """The hub refused this save for good: keep it, for a person, but stop sending it."""
        await self._run(
            lambda conn: conn.execute(
                "UPDATE outbox SET refused_code = ?, refused_message = ? WHERE idempotency_key = ?",
                (code, message, idempotency_key),
            )
        )

    async def close(self) -> None:
        await self._run(lambda conn: conn.close())


class ScoreDelivery:
    """Sends the outbox's saves over a ``SeatLink`` and forgets them on ``score_ack``.

    Pass ``on_event`` as (or call it from) the link's event handler.
    """

    def __init__(self, outbox: ScoreOutbox, link: SeatLink) -> None:
        self.outbox = outbox
        self.link = link
        self._aligned = False
        # Keys sent on the channel in this process: the channel itself resends those.
        self._in_channel: set[str] = set()

    async def submit(self, session_id: str, sheet: dict[str, Any]) -> str:
        """Save to disk first, then send (now, or on the next connection)."""
        key = await self.outbox.save(session_id, sheet)
        if self._aligned:
            await self._send(key, session_id, sheet)
        return key

    async def _send(self, key: str, session_id: str, sheet: dict[str, Any]) -> None:
        self._in_channel.add(key)
        await self.link.send(SubmitScore(idempotency_key=key, session_id=session_id, sheet=sheet))

    async def on_event(self, event: Event) -> None:
        if isinstance(event, Connected):
            self._aligned = True
            if event.lost_incoming or event.peer_lost:
                # One end restarted: the channel's own resend may not reach the hub's database.
                self._in_channel.clear()
            for score in await self.outbox.pending():
                if score.idempotency_key not in self._in_channel:
                    await self._send(score.idempotency_key, score.session_id, score.sheet)
        elif isinstance(event, ScoreCommitted):
            self._in_channel.discard(event.idempotency_key)
            await self.outbox.acknowledged(event.idempotency_key)
        elif isinstance(event, MessageReceived) and isinstance(event.message, ErrorNotice):
            notice = event.message
            if notice.ref is None or notice.ref not in self._in_channel:
                return
            self._in_channel.discard(notice.ref)
            if notice.code in TRANSIENT_REFUSALS:
                log.warning("seat.score_retry_later", idempotency_key=notice.ref)
            else:
                log.warning("seat.score_refused", idempotency_key=notice.ref, code=notice.code)
                await self.outbox.refused(notice.ref, notice.code, notice.message)
