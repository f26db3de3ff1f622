"""A seat's chapters from any hub process (章节跨进程交付).

Several hub processes share the database; a seat is connected to one of them at a time, not
necessarily the one its chapters were released through, and after a hub restart or a
reconnection it may land on another. Every release keeps each seat's manifest on its delivery
row (``seats.deliveries``), and the sealed chunks are never stored: their content keys are
derived from the material (``seats.chapters.seal_for_seat``), so any process re-derives the
very same chunks, hashes included, from the database and the package directory. Only the
wrapped keys in a manifest are fresh randomness, which is why the manifest itself is kept.

:func:`take_over` gives the process the seat is connected to the seat's latest manifest (if
this process does not hold it yet) with its chunks re-derived, records it as sent and returns
it for the seat's channel. It runs when a seat connects (``seats.catch_up``) and when another
process announces a release on the bus (``seats.chapters.announce``, :func:`listen`):
the releasing process hands the manifest to the seats connected to it and announces the rest.

Only material for the expert seated at the seat now, of a session whose reading is not over,
is handed over; re-derived chunks that do not match the kept manifest (the material changed)
are not served, and the seat waits for the next release.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select

from evaluation_hub.booking.seatings import seatings
from evaluation_hub.bus.base import Subscription
from evaluation_hub.db.seat_terminals import SeatEnrolment
from evaluation_hub.errors import ProblemError
from evaluation_hub.evaluation.package import released_context
from evaluation_hub.seats.chapter_chunks import ChapterChunks
from evaluation_hub.seats.chapters import CHANNEL, seal_for_seat
from evaluation_hub.seats.deliveries import manifest_digest, manifest_from_json, record_progress
from evaluation_hub.seats.models import ChapterDeliveryRow
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import session_states
from evaluation_hub.sessions.states import READING_OVER
from seat_protocol.messages import ChapterManifest

__all__ = ["CHANNEL", "KeptRelease", "kept_release", "listen", "take_over"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class KeptRelease:
    """The latest manifest released to a seat for the expert seated there now."""

    session_id: int
    release: int
    expert_code: str
    seat_id: int
    manifest: ChapterManifest


async def kept_release(hub: Services, seat_key: str) -> KeptRelease | None:
    """The seat's latest kept manifest, if a session holding the seat now (with the same
    expert, reading not over) released one to it."""
    async with hub.db.read() as s:
        held = [x for x in await seatings(s, seat_key=seat_key) if x.expert_code is not None]
        if not held:
            return None
        states = await session_states(s, (x.session_id for x in held))
        experts = {
            x.session_id: (x.expert_code, x.seat_id)
            for x in held
            if states.get(x.session_id) not in READING_OVER
        }
        if not experts:
            return None
        rows = (
            await s.execute(
                select(ChapterDeliveryRow)
                .where(
                    ChapterDeliveryRow.seat_key == seat_key,
                    ChapterDeliveryRow.session_id.in_(list(experts)),
                    ChapterDeliveryRow.manifest.is_not(None),
                )
                .order_by(ChapterDeliveryRow.id.desc())
            )
        ).scalars()
        for row in rows:
            expert, seat_id = experts[row.session_id]
            if row.expert_code != expert or row.manifest is None:
                continue
            return KeptRelease(
                row.session_id, row.release, expert or "", seat_id, manifest_from_json(row.manifest)
            )
    return None


async def _derive(
    hub: Services, kept: KeptRelease, seat_key: str, chunk_size: int
) -> dict[str, bytes] | None:
    """The kept manifest's chunks, sealed again; None if they no longer match it."""
    async with hub.db.read() as s:
        public = (
            await s.execute(
                select(SeatEnrolment.x25519_public_key).where(
                    SeatEnrolment.seat_id == kept.seat_id, SeatEnrolment.status == "approved"
                )
            )
        ).scalar_one_or_none()
        if public is None:
            return None
        try:
            ctx = await released_context(s, kept.session_id, kept.expert_code, sealer=hub.sealer)
        except ProblemError as exc:
            log.warning("seat.chapters_not_derivable", seat_key=seat_key, code=exc.code)
            return None
    fresh, chunks = seal_for_seat(
        ctx, kept.expert_code, seat_key, public, hub.sealer, chunk_size=chunk_size
    )

    def shape(m: ChapterManifest) -> list[tuple[str, int, str, tuple[str, ...]]]:
        return [(c.label, c.position, c.sha256, c.chunks) for c in m.chapters]

    if shape(fresh) != shape(kept.manifest):
        log.warning("seat.chapters_changed_since_release", seat_key=seat_key, release=kept.release)
        return None
    return chunks


async def take_over(
    hub: Services, seat_key: str, chunks: ChapterChunks, *, now: datetime
) -> ChapterManifest | None:
    """The seat's latest manifest for its channel in this process, with its chunks ready here,
    recorded as sent; None if there is none or this process holds it already."""
    kept = await kept_release(hub, seat_key)
    if kept is None:
        return None
    held = chunks.manifest(seat_key)
    if held is not None and manifest_digest(held) == manifest_digest(kept.manifest):
        return None
    derived = await _derive(hub, kept, seat_key, chunks.chunk_size)
    if derived is None:
        return None
    chunks.put(seat_key, kept.manifest, derived)
    try:
        await record_progress(
            hub,
            seat_key,
            kept.manifest,
            sent=True,
            received=chunks.completed(seat_key) is not None,
            now=now,
        )
    except Exception:
        log.exception("seat.delivery_record_failed", seat_key=seat_key)
    log.info("seat.chapters_taken_over", seat_key=seat_key, release=kept.release)
    return kept.manifest


async def listen(
    hub: Services,
    chunks: ChapterChunks,
    subscription: Subscription,
    *,
    clock: Callable[[], datetime],
) -> None:
    """Hand announced releases to the seats connected to this process, for as long as the
    subscription lasts."""
    async for _, event in subscription:
        for seat_key in event.get("seats", []):
            if not isinstance(seat_key, str) or not hub.seats.connected(seat_key):
                continue
            try:
                manifest = await take_over(hub, seat_key, chunks, now=clock())
            except Exception:
                log.exception("seat.chapters_take_over_failed", seat_key=seat_key)
                continue
            if manifest is not None:
                await hub.seats.send(seat_key, manifest)
