"""Chapter delivery to seats (章节送达进度): per seat and release, how far the material got.

Each release of a session's chapters (``evaluation_hub.seats.chapters``) is numbered and gives
every seated expert's seat a row (``seats.models.ChapterDeliveryRow``) before any manifest
leaves the hub, so nothing a seat does can arrive before the row it updates. Then:

* **sent** (已发送): the hub handed the seat's manifest to the seat's channel: at the release if
  the seat was connected to this process, else when it connects (``record_progress`` from the
  seat's catch-up);
* **received** (已接收): every chunk of the manifest has been handed to the seat, counting chunks
  of an earlier release it names again (``ChapterChunks.served``, then ``record_progress``);
* **verified** (已校验): the seat reported with ``chapter_status`` that it decrypted and
  hash-checked every chapter of exactly that manifest (``record_chapter_status``); a seat that
  could not open some chapters is recorded with their labels (校验失败). A verified delivery was
  received too, whatever this process saw (a seat that already held every chunk asks for none).

Each step is recorded once, with an audit event on the session (``chapters.*``), which is also
what tells the host's console (``sessions.changes``). The seat speaks only for its own seat key
and only about a manifest released to it; anything else is logged and ignored. The host's
console reads the board with :func:`delivery_board` (``access.Action.SEE_SESSION``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.principal import Principal
from evaluation_hub.seats.models import ChapterDeliveryRow
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from seat_protocol.messages import ChapterManifest, ChapterStatus, ManifestChapter

__all__ = [
    "DELIVERY_STATES",
    "DeliveryBoard",
    "PlannedDelivery",
    "SeatDelivery",
    "delivery_board",
    "delivery_status",
    "manifest_digest",
    "manifest_from_json",
    "manifest_json",
    "plan_release",
    "record_chapter_status",
    "record_progress",
    "record_sent",
]

log = structlog.get_logger(__name__)

#: every state a seat's delivery can be in, from nothing to the seat's word
DELIVERY_STATES = (
    "not_released",
    "skipped",
    "waiting",
    "sent",
    "received",
    "verified",
    "failed",
)


def manifest_digest(manifest: ChapterManifest) -> str:
    """The name both ends give a manifest (``ChapterStatus.digest_of``)."""
    return ChapterStatus.digest_of(manifest.session_id, manifest.chapters)


def manifest_json(manifest: ChapterManifest) -> dict[str, Any]:
    """The manifest as kept on its delivery row (``seats.chapter_handover`` reads it back)."""
    return {
        "session_id": manifest.session_id,
        "chapters": [dataclasses.asdict(c) for c in manifest.chapters],
    }


def manifest_from_json(body: dict[str, Any]) -> ChapterManifest:
    """The manifest :func:`manifest_json` kept (the same digest: same fields, same order)."""
    return ChapterManifest(
        session_id=str(body["session_id"]),
        chapters=tuple(
            ManifestChapter(**{**c, "chunks": tuple(c["chunks"])}) for c in body["chapters"]
        ),
    )


def delivery_status(row: ChapterDeliveryRow | None) -> str:
    """How far one seat's delivery got (one of ``DELIVERY_STATES``)."""
    if row is None:
        return "not_released"
    if row.skipped is not None:
        return "skipped"
    if row.failed:
        return "failed"
    if row.verified_at is not None:
        return "verified"
    if row.received_at is not None:
        return "received"
    if row.sent_at is not None:
        return "sent"
    return "waiting"


@dataclass(frozen=True)
class PlannedDelivery:
    """What a release prepared for one seated expert's seat (or why nothing)."""

    seat_key: str
    expert_code: str
    manifest: ChapterManifest | None
    skipped: str | None = None


async def plan_release(
    s: AsyncSession,
    session_id: int,
    planned: Sequence[PlannedDelivery],
    *,
    actor: str,
    now: datetime,
) -> int:
    """Inside the release's unit of work: number the release and write a row per seat (none
    sent yet); the release number."""
    previous = (
        await s.execute(
            select(func.max(ChapterDeliveryRow.release)).where(
                ChapterDeliveryRow.session_id == session_id
            )
        )
    ).scalar_one()
    release = (previous or 0) + 1
    for p in planned:
        s.add(
            ChapterDeliveryRow(
                session_id=session_id,
                release=release,
                seat_key=p.seat_key,
                expert_code=p.expert_code,
                manifest_sha256=None if p.manifest is None else manifest_digest(p.manifest),
                manifest=None if p.manifest is None else manifest_json(p.manifest),
                chapters=0 if p.manifest is None else len(p.manifest.chapters),
                skipped=p.skipped,
                released_by=actor,
                released_at=now,
            )
        )
    await s.flush()
    return release


async def _row(
    s: AsyncSession, seat_key: str, session_ref: str, digest: str
) -> ChapterDeliveryRow | None:
    """The latest delivery to ``seat_key`` of the manifest named ``digest``."""
    if not session_ref.isdigit():
        return None
    found: ChapterDeliveryRow | None = (
        await s.execute(
            select(ChapterDeliveryRow)
            .where(
                ChapterDeliveryRow.session_id == int(session_ref),
                ChapterDeliveryRow.seat_key == seat_key,
                ChapterDeliveryRow.manifest_sha256 == digest,
            )
            .order_by(ChapterDeliveryRow.release.desc())
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()
    return found


async def _event(
    s: AsyncSession, kind: str, row: ChapterDeliveryRow, now: datetime, **extra: object
) -> None:
    await append_event(
        s,
        kind=kind,
        subject=f"session:{row.session_id}",
        actor=f"seat:{row.seat_key}",
        payload={
            "seat_key": row.seat_key,
            "expert": row.expert_code,
            "release": row.release,
            **extra,
        },
        at=now,
    )


async def record_sent(
    hub: Services,
    session_id: int,
    release: int,
    sent: Sequence[str],
    received: Sequence[str],
    *,
    actor: str,
    now: datetime,
) -> None:
    """After a release handed manifests to seats' channels: which seats have theirs now, and
    which of them already hold every chunk (handed over for an earlier release)."""
    if not sent:
        return
    async with hub.db.write() as s:
        rows = (
            await s.execute(
                select(ChapterDeliveryRow)
                .where(
                    ChapterDeliveryRow.session_id == session_id,
                    ChapterDeliveryRow.release == release,
                    ChapterDeliveryRow.seat_key.in_(list(sent)),
                )
                .with_for_update()
            )
        ).scalars()
        for row in rows:
            row.sent_at = row.sent_at or now
            if row.seat_key in received:
                row.received_at = row.received_at or now
        await append_event(
            s,
            kind="chapters.sent",
            subject=f"session:{session_id}",
            actor=actor,
            payload={"release": release, "seats": list(sent), "received": list(received)},
            at=now,
        )


async def record_progress(
    hub: Services,
    seat_key: str,
    manifest: ChapterManifest,
    *,
    sent: bool,
    received: bool,
    now: datetime,
) -> bool:
    """The seat's manifest was handed to its channel (``sent``) and/or every chunk of it has
    been (``received``); recorded once each. False if no release of that manifest to that
    seat is known (nothing is written)."""
    async with hub.db.write() as s:
        row = await _row(s, seat_key, manifest.session_id, manifest_digest(manifest))
        if row is None:
            log.warning("seat.delivery_unknown", seat_key=seat_key, session=manifest.session_id)
            return False
        if sent and row.sent_at is None:
            row.sent_at = now
            await _event(s, "chapters.sent", row, now)
        if received and row.received_at is None:
            row.sent_at = row.sent_at or now
            row.received_at = now
            await _event(s, "chapters.received", row, now)
        return True


async def record_chapter_status(
    hub: Services, seat_key: str, status: ChapterStatus, *, now: datetime
) -> bool:
    """The seat's word on the manifest it holds: every chapter opened (verified), or the
    labels it could not open. False (nothing written) if no release of that manifest to that
    seat is known; a repeat of what is recorded writes nothing."""
    async with hub.db.write() as s:
        row = await _row(s, seat_key, status.session_id, status.manifest)
        if row is None:
            log.warning("seat.chapter_status_unknown", seat_key=seat_key, session=status.session_id)
            return False
        if status.chapters != row.chapters:
            log.warning("seat.chapter_status_mismatch", seat_key=seat_key, release=row.release)
            return False
        row.sent_at = row.sent_at or now
        row.received_at = row.received_at or now
        if not status.failed:
            if row.verified_at is not None and not row.failed:
                return True
            row.verified_at, row.failed = now, None
            await _event(s, "chapters.verified", row, now, chapters=row.chapters)
            return True
        failed = list(status.failed)
        if row.failed == failed:
            return True
        row.verified_at, row.failed = None, failed
        await _event(s, "chapters.unverified", row, now, chapters=row.chapters, failed=failed)
        return True


@dataclass(frozen=True)
class SeatDelivery:
    """One seat of the session on the delivery board."""

    seat_key: str
    venue_name: str
    #: the expert seated there now (or, for a seat no longer held, the one delivered to)
    expert_code: str
    #: the seat holds an expert of the session now
    seated: bool
    checked_in: bool
    #: the release the status is about (None: nothing released to this expert here yet)
    release: int | None
    status: str
    chapters: int
    skipped: str | None
    failed: tuple[str, ...]
    released_at: datetime | None
    sent_at: datetime | None
    received_at: datetime | None
    verified_at: datetime | None


@dataclass(frozen=True)
class DeliveryBoard:
    session_id: int
    #: how many releases the session has had
    releases: int
    seats: tuple[SeatDelivery, ...]


def _board_entry(
    seat_key: str,
    venue_name: str,
    expert: str,
    seated: bool,
    checked_in: bool,
    row: ChapterDeliveryRow | None,
) -> SeatDelivery:
    # Material prepared for another expert (the seat was re-seated since) is not this one's.
    if row is not None and seated and row.expert_code != expert:
        row = None
    return SeatDelivery(
        seat_key=seat_key,
        venue_name=venue_name,
        expert_code=expert,
        seated=seated,
        checked_in=checked_in,
        release=None if row is None else row.release,
        status=delivery_status(row),
        chapters=0 if row is None else row.chapters,
        skipped=None if row is None else row.skipped,
        failed=tuple(row.failed or ()) if row is not None else (),
        released_at=None if row is None else row.released_at,
        sent_at=None if row is None else row.sent_at,
        received_at=None if row is None else row.received_at,
        verified_at=None if row is None else row.verified_at,
    )


async def delivery_board(hub: Services, actor: Principal, session_id: int) -> DeliveryBoard:
    """Every seat of the session with an expert, and any seat that was sent chapters, with
    its latest release's delivery status."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        seated = sorted(
            await seatings(s, session_id=session_id, with_expert=True),
            key=lambda x: (x.venue_code, x.seat_label),
        )
        rows = (
            await s.execute(
                select(ChapterDeliveryRow)
                .where(ChapterDeliveryRow.session_id == session_id)
                .order_by(ChapterDeliveryRow.release, ChapterDeliveryRow.id)
            )
        ).scalars()
        latest: dict[str, ChapterDeliveryRow] = {}
        releases = 0
        for row in rows:
            latest[row.seat_key] = row
            releases = max(releases, row.release)
    entries = [
        _board_entry(
            x.seat_key,
            x.venue_name,
            x.expert_code or "",
            True,
            x.checked_in,
            latest.pop(x.seat_key, None),
        )
        for x in seated
    ]
    entries.extend(
        _board_entry(key, "", row.expert_code, False, False, row)
        for key, row in sorted(latest.items())
    )
    return DeliveryBoard(session_id, releases, tuple(entries))
