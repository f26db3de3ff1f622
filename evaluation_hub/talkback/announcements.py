"""Text announcements to the experts' seats (工位通知): send, list, and catch up a seat.

:func:`send_announcement` checks the caller first (``talkback.recipients.address``), then the
text (not empty after trimming, at most ``MAX_ANNOUNCEMENT_CHARS`` characters), stores it with
the session (``talkback_messages``, so the session's archive holds it) and appends the
``talkback.announcement`` audit event (who, when, to whom, the text and its SHA-256) in the same
unit of work; after the commit it pushes ``announcement`` to each addressed seat through
``hub.seats`` (with several hub processes, over the bus to the process holding the seat's link:
``seats.routed_outlet``). A seat connected nowhere then receives it when it next connects
(:func:`seat_announcements`, from ``seats.catch_up``) while the session's seats are in use; the
seat agent keeps each announcement once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.audit.store import append_event
from evaluation_hub.errors import InvalidInput
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.talkback.models import TalkbackRow
from evaluation_hub.talkback.recipients import ROLE_NAMES, Audience, address, audience
from seat_protocol.messages import MAX_ANNOUNCEMENT_CHARS, Announcement
from seat_protocol.seat_key import SeatKey

__all__ = [
    "AUDIT_KIND",
    "SentAnnouncement",
    "TalkbackEntry",
    "TalkbackPanel",
    "announcement_text",
    "seat_announcements",
    "send_announcement",
    "talkback_panel",
]

log = structlog.get_logger(__name__)

AUDIT_KIND = "talkback.announcement"


@dataclass(frozen=True)
class TalkbackEntry:
    """One announcement or voice turn as the panel and the archive show it."""

    id: int
    kind: str  # text, voice
    seat_key: str | None  # None: every seat
    sender: str
    role: str
    text: str | None
    sent_at: datetime
    duration_s: float | None


@dataclass(frozen=True)
class SentAnnouncement:
    entry: TalkbackEntry
    #: the seats addressed, by key
    seat_keys: tuple[str, ...]
    #: those it was pushed to now (the others receive it when they next connect)
    pushed: tuple[str, ...]


@dataclass(frozen=True)
class TalkbackPanel:
    audience: Audience
    history: tuple[TalkbackEntry, ...]


def announcement_text(text: str) -> str:
    """The announcement as sent: trimmed, not empty, at most ``MAX_ANNOUNCEMENT_CHARS``."""
    text = text.strip()
    if not text:
        raise InvalidInput("announcement-empty", "通知内容不能为空，请填写要发送给专家的内容")
    if len(text) > MAX_ANNOUNCEMENT_CHARS:
        raise InvalidInput(
            "announcement-too-long",
            f"通知内容不能超过 {MAX_ANNOUNCEMENT_CHARS} 个字（现为 {len(text)} 个字）",
        )
    return text


def entry_of(row: TalkbackRow) -> TalkbackEntry:
    return TalkbackEntry(
        row.id,
        row.kind,
        row.seat_key,
        row.sender,
        row.sender_role,
        row.text,
        row.sent_at,
        row.duration_s,
    )


def message_of(row: TalkbackRow) -> Announcement:
    assert row.text is not None
    return Announcement(
        announcement_id=row.id,
        session_id=str(row.session_id),
        role=row.sender_role,
        role_name=ROLE_NAMES[row.sender_role],
        text=row.text,
        at=row.sent_at.timestamp(),
    )


async def send_announcement(
    hub: Services,
    who: Principal,
    session_id: int,
    *,
    seat_id: int | None,
    text: str,
    now: datetime,
) -> SentAnnouncement:
    """Send ``text`` to seat ``seat_id`` of the session, or to all of its seats (None)."""
    async with hub.db.write() as s:
        to = await address(s, who, session_id, seat_id, now=now)
        text = announcement_text(text)
        row = TalkbackRow(
            session_id=session_id,
            kind="text",
            seat_key=None if to.seat is None else to.seat.seat_key,
            sender=who.username,
            sender_role=to.role,
            text=text,
            sent_at=now,
        )
        s.add(row)
        await s.flush()
        keys = tuple(seat.seat_key for seat in to.seats)
        await append_event(
            s,
            kind=AUDIT_KIND,
            subject=f"session:{session_id}",
            actor=who.username,
            payload={
                "announcement_id": row.id,
                "to": "all" if to.seat is None else to.seat.seat_key,
                "seats": list(keys),
                "role": to.role,
                "text": text,
                "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
            },
            at=now,
        )
        entry, msg = entry_of(row), message_of(row)
    pushed = tuple([key for key in keys if await hub.seats.send(key, msg)])
    log.info("talkback.announcement_sent", session_id=session_id, seats=keys, pushed=pushed)
    return SentAnnouncement(entry, keys, pushed)


async def talkback_panel(
    hub: Services, who: Principal, session_id: int, *, now: datetime
) -> TalkbackPanel:
    """The seats ``who`` may address, and what was said to them (newest first)."""
    async with hub.db.read() as s:
        heard = await audience(s, who, session_id, now=now)
        rows = (
            (
                await s.execute(
                    select(TalkbackRow)
                    .where(TalkbackRow.session_id == session_id)
                    .order_by(TalkbackRow.id.desc())
                )
            )
            .scalars()
            .all()
        )
    return TalkbackPanel(heard, tuple(entry_of(r) for r in rows if _concerns(heard, r.seat_key)))


def _concerns(heard: Audience, seat_key: str | None) -> bool:
    """An away supervisor sees what was said to every seat and to their venue's seats."""
    if heard.venue_code is None or seat_key is None:
        return True
    key = SeatKey.parse(seat_key)
    return key is not None and key.venue_code == heard.venue_code


async def seat_announcements(
    s: AsyncSession, seat_key: str, session_ids: Iterable[int]
) -> list[Announcement]:
    """The announcements of these sessions addressed to ``seat_key`` or to all seats, oldest
    first (a reconnecting seat's catch-up, in the caller's unit of work)."""
    ids = set(session_ids)
    if not ids:
        return []
    rows = (
        await s.execute(
            select(TalkbackRow)
            .where(
                TalkbackRow.session_id.in_(ids),
                TalkbackRow.kind == "text",
                or_(TalkbackRow.seat_key == seat_key, TalkbackRow.seat_key.is_(None)),
            )
            .order_by(TalkbackRow.id)
        )
    ).scalars()
    return [message_of(row) for row in rows]
