"""The seat's offline-safe score outbox (评分离线暂存): every score save lands on local disk
first and is sent until the hub has committed its verdict on it.

``ScoreOutbox`` is a small SQLite file (stdlib ``sqlite3`` in a worker thread, synchronous=FULL)
holding each save under its idempotency key, and the hub's verdict once it came: accepted
(``acknowledged``) or refused with the hub's reason (``refused``). A save with a verdict is kept
(the record of what the seat sent and what the hub said) and never sent again.

``ScoreDelivery`` connects it to a ``SeatLink``: a save is written to the outbox, then sent,
signed with the seat's Ed25519 key over ``scoring.signing.save_document``; on every
(re)connection that lost state on either end, and on the first connection of a process,
everything still waiting is sent again. The hub's UNIQUE idempotency key makes those replays
count once. A failure at the hub that is no verdict (``commit-failed``: its database was down)
is sent again on the same link after a backoff delay (full jitter, growing to ``retry_cap``),
for as long as the link stays up; a reconnection resends it anyway. Saves go out in the order
they were made (the hub counts the latest save of a part), and a waiting save that a later save
of the same part replaced is not sent again (recorded as ``superseded``, the seat's own note).
"The order they were made" is the order of the rows (SQLite's rowid), never the terminal's
clock: a clock stepped back (an NTP correction, a wrong time set by hand) must not put a later
save before an earlier one.

Never forgets a save before the hub's verdict on its key, and never sends on a channel before
its first handshake of this process (see ``seat_agent.connection``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random as _random
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog

from scoring.signing import save_document, sign
from seat_agent.connection import SeatLink
from seat_agent.errors import OutboxError
from seat_protocol.backoff import Backoff
from seat_protocol.events import (
    Connected,
    Disconnected,
    Event,
    MessageReceived,
    ScoreCommitted,
    ScoreRefused,
)
from seat_protocol.messages import ErrorNotice, SubmitScore

__all__ = [
    "SUPERSEDED",
    "TRANSIENT_REFUSALS",
    "PendingScore",
    "RefusedScore",
    "ScoreDelivery",
    "ScoreOutbox",
    "Verdict",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    idempotency_key TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL,
    sheet           TEXT NOT NULL,
    saved_at        REAL NOT NULL,
    refused_code    TEXT,
    refused_message TEXT,
    accepted_at     REAL,
    verdict_message TEXT
)
"""
# Outbox files written before verdicts were kept lack the last two columns.
_ADDED_COLUMNS = (("accepted_at", "REAL"), ("verdict_message", "TEXT"))

# A refusal the hub may not repeat: its commit failed, so the save is simply sent again later.
TRANSIENT_REFUSALS = frozenset({"commit-failed"})
# The seat's own record for a save it stopped resending because a later save of the same part
# was sent after it (the later one is the one that counts).
SUPERSEDED = "superseded"
_SUPERSEDED_MESSAGE = "本部分之后的评分已提交，此前未保存成功的这次评分不再重新发送"


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


@dataclass(frozen=True)
class Verdict:
    """The hub's verdict on one save, as the outbox recorded it."""

    idempotency_key: str
    session_id: str
    accepted: bool
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
                have = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
                for name, kind in _ADDED_COLUMNS:
                    if name not in have:
                        conn.execute(f"ALTER TABLE outbox ADD COLUMN {name} {kind}")
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
            work = asyncio.ensure_future(asyncio.to_thread(fn, self._conn))
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                # The worker thread cannot be interrupted: keep the lock until it is done, or
                # ``close`` (say, at shutdown) would close the connection under it (a crash).
                await asyncio.wait({work})
                raise

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
        """Saves with no verdict yet, oldest first."""

        def select(conn: sqlite3.Connection) -> list[tuple[str, str, str, float]]:
            rows = conn.execute(
                "SELECT idempotency_key, session_id, sheet, saved_at FROM outbox "
                "WHERE refused_code IS NULL AND accepted_at IS NULL ORDER BY rowid"
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

    async def superseded(self, idempotency_key: str) -> bool:
        """Whether a save of the same session and part was made after this one."""

        def select(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT session_id, sheet, rowid FROM outbox WHERE idempotency_key = ?",
                (idempotency_key,),
            ).fetchone()
            if row is None:
                return False
            session, sheet, rowid = row
            part = json.loads(sheet).get("part")
            if part is None:
                return False
            later = conn.execute(
                "SELECT sheet FROM outbox WHERE session_id = ? AND rowid > ?",
                (session, rowid),
            )
            return any(json.loads(text).get("part") == part for (text,) in later)

        return await self._run(select)

    async def verdicts(self) -> list[Verdict]:
        """Every save the hub has judged, in the order they were saved."""

        def select(conn: sqlite3.Connection) -> list[tuple[str, str, float | None, str, str]]:
            rows = conn.execute(
                "SELECT idempotency_key, session_id, accepted_at, refused_code, "
                "COALESCE(refused_message, verdict_message, '') FROM outbox "
                "WHERE refused_code IS NOT NULL OR accepted_at IS NOT NULL "
                "ORDER BY rowid"
            )
            return list(rows)

        return [
            Verdict(key, session, code is None, code or "accepted", message)
            for key, session, _, code, message in await self._run(select)
        ]

    async def acknowledged(self, idempotency_key: str, message: str = "") -> None:
        """The hub committed this save and accepted it: record the verdict (it is no longer
        sent; a repeated ack changes nothing)."""
        now = self._clock()
        await self._run(
            lambda conn: conn.execute(
                "UPDATE outbox SET accepted_at = ?, verdict_message = ? "
                "WHERE idempotency_key = ? AND accepted_at IS NULL AND refused_code IS NULL",
                (now, message, idempotency_key),
            )
        )

    async def refused(self, idempotency_key: str, code: str, message: str) -> None:
        """The hub refused this save for good: keep it, for a person, but stop sending it."""
        await self._run(
            lambda conn: conn.execute(
                "UPDATE outbox SET refused_code = ?, refused_message = ? "
                "WHERE idempotency_key = ? AND accepted_at IS NULL",
                (code, message, idempotency_key),
            )
        )

    async def close(self) -> None:
        await self._run(lambda conn: conn.close())


Sleep = Callable[[float], Awaitable[None]]


class ScoreDelivery:
    """Sends the outbox's saves over a ``SeatLink``, signed with the seat's key, and records
    the hub's verdict on each (``score_ack``); a save the hub could not judge for now
    (``commit-failed``) is sent again after a backoff delay while the link stays up.

    Pass ``on_event`` as (or call it from) the link's event handler.
    """

    def __init__(
        self,
        outbox: ScoreOutbox,
        link: SeatLink,
        *,
        random: Callable[[], float] = _random.random,
        sleep: Sleep = asyncio.sleep,
        retry_base: float = 1.0,
        retry_cap: float = 30.0,
    ) -> None:
        self.outbox = outbox
        self.link = link
        self._aligned = False
        # Keys sent on the channel in this process: the channel itself resends those.
        self._in_channel: set[str] = set()
        self._random = random
        self._sleep = sleep
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        # Per key: the backoff of its transient failures, and the pending resend.
        self._backoffs: dict[str, Backoff] = {}
        self._retries: dict[str, asyncio.Task[None]] = {}
        self._order = asyncio.Lock()
        self.retried = 0  # resends after a transient failure, for logs and tests

    async def submit(self, session_id: str, sheet: dict[str, Any]) -> str:
        """Save to disk first, then send (now, or on the next connection)."""
        key = await self.outbox.save(session_id, sheet)
        if self._aligned:
            await self._flush()
        return key

    async def _flush(self) -> None:
        """Send every save still waiting and not on the channel, oldest first: the hub counts
        the latest save of a part, so saves must reach it in the order they were made (a save
        made while the connection's own resend is running waits its turn)."""
        async with self._order:
            for score in await self.outbox.pending():
                key = score.idempotency_key
                if key in self._in_channel or await self._superseded(key):
                    continue
                await self._send(key, score.session_id, score.sheet)

    async def _superseded(self, key: str) -> bool:
        """Record and report a waiting save that a later save of its part replaced: sent now,
        it would reach the hub after the later one and count instead of it."""
        if not await self.outbox.superseded(key):
            return False
        log.info("seat.score_superseded", idempotency_key=key)
        await self.outbox.refused(key, SUPERSEDED, _SUPERSEDED_MESSAGE)
        self._forget(key)
        return True

    def signature(self, key: str, session_id: str, sheet: dict[str, Any]) -> str:
        """The seat key's hex signature over the save's canonical document."""
        identity = self.link.identity
        return sign(identity.ed25519, save_document(session_id, key, sheet)).hex()

    async def _send(self, key: str, session_id: str, sheet: dict[str, Any]) -> None:
        self._in_channel.add(key)
        await self.link.send(
            SubmitScore(
                idempotency_key=key,
                session_id=session_id,
                sheet=sheet,
                signature=self.signature(key, session_id, sheet),
            )
        )

    def _forget(self, key: str) -> None:
        self._in_channel.discard(key)
        self._backoffs.pop(key, None)
        retry = self._retries.pop(key, None)
        if retry is not None:
            retry.cancel()

    def _cancel_retries(self) -> None:
        for retry in self._retries.values():
            retry.cancel()
        self._retries.clear()

    async def _retry(self, key: str, delay: float) -> None:
        """Send the save again after ``delay`` if it still waits and the link is still up
        (the link going down cancels this: the reconnection resends it)."""
        try:
            await self._sleep(delay)
        finally:
            if self._retries.get(key) is asyncio.current_task():
                del self._retries[key]
        try:
            async with self._order:
                waiting = {p.idempotency_key: p for p in await self.outbox.pending()}
                score = waiting.get(key)
                if score is None or key in self._in_channel or await self._superseded(key):
                    return
                self.retried += 1
                log.info("seat.score_resent", idempotency_key=key, delay=round(delay, 3))
                await self._send(key, score.session_id, score.sheet)
        except Exception:
            # The next connection sends it again; a resend that failed must not go unseen.
            log.exception("seat.score_resend_failed", idempotency_key=key)

    def _schedule_retry(self, key: str) -> None:
        backoff = self._backoffs.get(key)
        if backoff is None:
            backoff = self._backoffs[key] = Backoff(
                self._random, base=self._retry_base, cap=self._retry_cap
            )
        delay = backoff.next_delay()
        previous = self._retries.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._retries[key] = asyncio.create_task(self._retry(key, delay))

    async def close(self) -> None:
        """Stop any resend waiting for its delay."""
        tasks = list(self._retries.values())
        self._cancel_retries()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def on_event(self, event: Event) -> None:
        if isinstance(event, Connected):
            self._aligned = True
            if event.lost_incoming or event.peer_lost:
                # One end restarted: the channel's own resend may not reach the hub's database.
                self._in_channel.clear()
            await self._flush()
        elif isinstance(event, Disconnected):
            # The reconnection sends every waiting save again; no resend waits for a delay.
            self._cancel_retries()
        elif isinstance(event, ScoreCommitted):
            self._forget(event.idempotency_key)
            await self.outbox.acknowledged(event.idempotency_key)
        elif isinstance(event, ScoreRefused):
            self._forget(event.idempotency_key)
            log.warning(
                "seat.score_refused", idempotency_key=event.idempotency_key, code=event.code
            )
            await self.outbox.refused(event.idempotency_key, event.code, event.message)
        elif isinstance(event, MessageReceived) and isinstance(event.message, ErrorNotice):
            notice = event.message
            if notice.ref is None or notice.ref not in self._in_channel:
                return
            self._in_channel.discard(notice.ref)
            if notice.code in TRANSIENT_REFUSALS:
                # No verdict: the hub forgot the key; send it again once the delay is over.
                log.warning("seat.score_retry_later", idempotency_key=notice.ref)
                self._schedule_retry(notice.ref)
            else:
                # A version-1 hub's refusal (a version-2 hub sends its verdict in score_ack).
                self._backoffs.pop(notice.ref, None)
                log.warning("seat.score_refused", idempotency_key=notice.ref, code=notice.code)
                await self.outbox.refused(notice.ref, notice.code, notice.message)
