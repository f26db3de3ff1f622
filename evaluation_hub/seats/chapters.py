"""Chapter release (发放章节): each seated expert's chapters, encrypted for their seat only.

Trigger: the host operator releases the chapters of a session with
``POST /api/sessions/{session_id}/chapters`` once experts are seated and the package is
attached (states 签到中, 评审中, 偏离复核中 or 已暂停); calling it again re-sends (after a
re-seating, a seat re-enrolment or a hub restart). A release is explicit, not tied to each
check-in, so the host decides when the material leaves the hub and every release is one audit
event.

For every live booked seat with an expert, from the evaluation engine's ``released_context`` (which
refuses while the package is not attached or an anonymity finding is open): each (chapter,
blind label) the expert sees becomes one cached chapter labelled ``<chapter id>-<blind label>``
with the rubric chapter's title, in the expert's shuffled order. Its text is the bid's text
for that chapter; no bidder name, code or id is ever sent. It is sealed with
``seat_protocol.chapter_crypto`` for the seat's approved X25519 key, bound to
(session, seat, position, label).

The content key is derived (``Sealer.mac``) from the chapter's context and the digest of its
text, so re-releasing the same material yields the same chunks and hashes: a seat that has part
of them keeps it and fetches only the rest, even after a hub restart. (The wrapped key differs
each time; it is fresh randomness around the same content key.)

The sealed chunks are kept in this process's memory (``seats.chapter_chunks.ChapterChunks``),
keyed by content hash, until the session's reading is over; each seat's manifest is kept on its
delivery row. A seat connected to this process receives its manifest at once; the others are
announced on the bus (:data:`CHANNEL`), and whichever hub process a seat is connected to, now
or when it next connects (after a restart too), re-derives the chunks and hands the kept
manifest over (``seats.chapter_handover``).

Each release is numbered and each seat's delivery followed (sent, received, verified) in
``evaluation_hub.seats.deliveries``.

Only the host venue's operators release (``access.Action.RELEASE_CHAPTERS``), checked before
anything else is read. The HTTP route is ``evaluation_hub.api.chapters``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.db.seat_terminals import SeatEnrolment
from evaluation_hub.errors import BusError, Conflict
from evaluation_hub.evaluation.context import Context
from evaluation_hub.evaluation.package import released_context
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.seats.chapter_chunks import ChapterChunks
from evaluation_hub.seats.deliveries import PlannedDelivery, plan_release, record_sent
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import CHAPTERS_RELEASABLE
from seat_protocol.chapter_crypto import chapter_context, seal_chapter
from seat_protocol.messages import CHUNK_SIZE as PROTOCOL_CHUNK_SIZE
from seat_protocol.messages import ChapterManifest, ManifestChapter
from seat_protocol.sm2 import SM2PublicKey

__all__ = [
    "CHANNEL",
    "RELEASE_STATES",
    "ChapterRelease",
    "SeatRelease",
    "SkippedSeat",
    "announce",
    "release_chapters",
    "seal_for_seat",
]

log = structlog.get_logger(__name__)

RELEASE_STATES = CHAPTERS_RELEASABLE
_KEY_PURPOSE = "seat-chapter-content-key"
#: bus channel: a release was made; the seats it names may be connected to another hub process
#: (``seats.chapter_handover`` hands them their manifest there)
CHANNEL = "seat.chapters"
_NOT_ENROLLED = "工位终端尚未登记或登记未获批准，无法为其加密章节"


@dataclass(frozen=True)
class SeatRelease:
    seat_key: str
    expert_code: str
    chapters: int
    size: int
    delivery: str  # "sent" (on the seat's channel now) or "waiting" (on its next connection)


@dataclass(frozen=True)
class SkippedSeat:
    """A seated expert whose seat could not be sent chapters, and why."""

    seat_key: str
    expert_code: str
    reason: str


@dataclass(frozen=True)
class ChapterRelease:
    session_id: int
    seats: tuple[SeatRelease, ...]
    skipped: tuple[SkippedSeat, ...]
    #: the release's number in the session (1, 2, …; ``seats.deliveries``)
    release: int = 0


@dataclass(frozen=True)
class _SeatedExpert:
    seat_key: str
    expert_code: str
    x25519: bytes | None  # the approved enrolment's key; None if the seat is not enrolled


def seal_for_seat(
    ctx: Context,
    expert: str,
    seat_key: str,
    seat_public_key: bytes,
    sealer: Sealer,
    *,
    chunk_size: int = PROTOCOL_CHUNK_SIZE,
) -> tuple[ChapterManifest, dict[str, bytes]]:
    """The expert's chapters in their shuffled order, sealed for one seat."""
    # 32 bytes: the seat's X25519 key (default suite); 65: its SM2 encryption key (national).
    public: X25519PublicKey | SM2PublicKey = (
        SM2PublicKey.from_encoded(seat_public_key)
        if len(seat_public_key) == 65
        else X25519PublicKey.from_public_bytes(seat_public_key)
    )
    view = ctx.shuffle.view(expert)
    chapters: list[ManifestChapter] = []
    chunks: dict[str, bytes] = {}
    for cview in view.chapters:
        title = ctx.package.chapter(cview.chapter_id).title
        for blind in cview.labels:
            bidder = ctx.shuffle.bidder_for(expert, cview.chapter_id, blind)
            text = ctx.package.texts[bidder, cview.chapter_id].encode("utf-8")
            label = f"{cview.chapter_id}-{blind}"
            position = len(chapters)
            context = chapter_context(ctx.sid, seat_key, label, position)
            # The chunk size is in the key's input: chunk i's nonce is its index, so one key
            # sealed at two chunk sizes (two hub processes configured differently) would reuse
            # AES-GCM nonces on different plaintext. A key per (text, place, chunk size) never does.
            key = bytes.fromhex(
                sealer.mac(
                    context.encode()
                    + b"\0"
                    + hashlib.sha256(text).digest()
                    + chunk_size.to_bytes(8, "big"),
                    _KEY_PURPOSE,
                )
            )
            if isinstance(public, SM2PublicKey):
                key = key[:16]  # an SM4 content key is 128 bits
            sealed = seal_chapter(
                text,
                label=label,
                position=position,
                seat_public_key=public,
                context=context,
                chunk_size=chunk_size,
                content_key=key,
            )
            chapters.append(
                ManifestChapter(
                    label=sealed.manifest.label,
                    position=position,
                    sha256=sealed.manifest.sha256,
                    size=sealed.manifest.size,
                    wrapped_key=sealed.manifest.wrapped_key,
                    chunks=sealed.manifest.chunks,
                    title=title,
                )
            )
            chunks.update(sealed.chunks)
    return ChapterManifest(session_id=ctx.sid, chapters=tuple(chapters)), chunks


async def release_chapters(
    hub: Services,
    actor: Principal,
    session_id: int,
    *,
    chunks: ChapterChunks,
    now: datetime,
) -> ChapterRelease:
    """Seal and send every seated expert's chapters; what was sent and what was not.

    The release is numbered and each seat's delivery row written (``seats.deliveries``)
    before any manifest leaves, so a seat's progress never arrives ahead of its row."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.RELEASE_CHAPTERS, loaded.target)
        if loaded.session.state not in RELEASE_STATES:
            raise Conflict(
                "chapters-not-releasable",
                f"评标会 #{session_id} 当前状态不能发放章节，只有签到中、评审中、偏离复核中或已暂停时可以发放",
            )
        seated = await _seated(s, session_id)
    if not seated:
        raise Conflict(
            "no-seated-experts", f"评标会 #{session_id} 尚无安排到工位的专家，无法发放章节"
        )
    planned: list[PlannedDelivery] = []
    sealed_for: dict[str, dict[str, bytes]] = {}
    for seat in seated:
        if seat.x25519 is None:
            planned.append(PlannedDelivery(seat.seat_key, seat.expert_code, None, _NOT_ENROLLED))
            continue
        async with hub.db.read() as s:
            ctx = await released_context(s, session_id, seat.expert_code, sealer=hub.sealer)
        manifest, sealed = seal_for_seat(
            ctx,
            seat.expert_code,
            seat.seat_key,
            seat.x25519,
            hub.sealer,
            chunk_size=chunks.chunk_size,
        )
        planned.append(PlannedDelivery(seat.seat_key, seat.expert_code, manifest))
        sealed_for[seat.seat_key] = sealed
    async with hub.db.write() as s:
        release = await plan_release(s, session_id, planned, actor=actor.username, now=now)
        await append_event(
            s,
            kind="session.chapters_released",
            subject=f"session:{session_id}",
            actor=actor.username,
            payload={
                "release": release,
                "seats": [
                    {"seat_key": p.seat_key, "expert": p.expert_code, "chapters": len(m.chapters)}
                    for p in planned
                    if (m := p.manifest) is not None
                ],
                "skipped": [p.seat_key for p in planned if p.manifest is None],
            },
            at=now,
        )
    released: list[SeatRelease] = []
    sent_keys: list[str] = []
    received_keys: list[str] = []
    for p in planned:
        if p.manifest is None:
            continue
        chunks.put(p.seat_key, p.manifest, sealed_for[p.seat_key])
        # Handed over here only on a live connection here: a seat connected to another hub
        # process is told by that process (``announce`` below, ``seats.chapter_handover``).
        sent = hub.seats.connected(p.seat_key) and await hub.seats.send(p.seat_key, p.manifest)
        if sent:
            sent_keys.append(p.seat_key)
            # Every chunk already went to this seat for an earlier release: nothing to fetch.
            if chunks.completed(p.seat_key) is not None:
                received_keys.append(p.seat_key)
        else:
            chunks.wait_for(p.seat_key)
        released.append(
            SeatRelease(
                p.seat_key,
                p.expert_code,
                len(p.manifest.chapters),
                sum(c.size for c in p.manifest.chapters),
                "sent" if sent else "waiting",
            )
        )
    await record_sent(
        hub, session_id, release, sent_keys, received_keys, actor=actor.username, now=now
    )
    # Every seat, not only those waiting: one that moved to another process a moment ago is
    # handed its manifest there (a process already holding it does nothing).
    await announce(hub, session_id, release, [r.seat_key for r in released])
    skipped = tuple(
        SkippedSeat(p.seat_key, p.expert_code, p.skipped or "")
        for p in planned
        if p.manifest is None
    )
    log.info(
        "seat.chapters_released",
        session_id=session_id,
        release=release,
        seats=len(released),
        skipped=len(skipped),
        held_bytes=chunks.held_bytes,
    )
    return ChapterRelease(session_id, tuple(released), skipped, release)


async def announce(hub: Services, session_id: int, release: int, seat_keys: Sequence[str]) -> None:
    """Tell every hub process that ``seat_keys`` have a new manifest: those connected to another
    process are handed it there; the release stands if the bus is down (the seats then receive
    it when they next connect)."""
    if not seat_keys:
        return
    try:
        await hub.bus.publish(
            CHANNEL, {"session_id": session_id, "release": release, "seats": list(seat_keys)}
        )
    except BusError:
        log.warning("seat.chapters_announce_failed", session_id=session_id, release=release)


async def _seated(s: AsyncSession, session_id: int) -> list[_SeatedExpert]:
    """The session's seated experts by seat key, with their seat's approved chapter key."""
    seated = sorted(
        await seatings(s, session_id=session_id, with_expert=True),
        key=lambda x: (x.venue_code, x.seat_label),
    )
    keys = await s.execute(
        select(SeatEnrolment.seat_id, SeatEnrolment.x25519_public_key).where(
            SeatEnrolment.seat_id.in_([x.seat_id for x in seated]),
            SeatEnrolment.status == "approved",
        )
    )
    approved: dict[int, bytes] = {row[0]: row[1] for row in keys.all()}
    return [_SeatedExpert(x.seat_key, x.expert_code or "", approved.get(x.seat_id)) for x in seated]
