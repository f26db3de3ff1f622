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

The sealed chunks are kept in this process's memory (``ChapterChunks``), keyed by content hash,
until the session's reading is over (``seat_protocol.session_states.READING_OVER``, see
``evaluation_hub.seats.session_notices``):
they are derived data, cheap to rebuild from the database and the package directory by
releasing again, and they must not outlive the process in clear reach of the database's
readers. A seat asking for a chunk the hub no longer holds (after a restart) is refused by the
protocol machine (the channel's entitlements went with the process) and waits for the next
release.

The seat websocket shell asks this module for chunks (``SeatHub.chapter_source``); a seat that
had no connection to this process at release time receives its manifest when it connects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy import select

from evaluation_hub.api.auth import principal
from evaluation_hub.api.directory import path_id
from evaluation_hub.api.keys import CLOCK, DB, SEALER
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking import rules as booking_rules
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Booking, BookingSeat, EvaluationSession, Expert, Seat, Venue
from evaluation_hub.errors import Conflict, Forbidden, NotFound
from evaluation_hub.evaluation.context import Context
from evaluation_hub.evaluation.package import released_context
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.seats.models import SeatEnrolment
from evaluation_hub.seats.store import seat_key_for
from evaluation_hub.seats.websocket import SEAT_HUB, SeatHub
from evaluation_hub.sessions.states import CHAPTERS_RELEASABLE
from seat_protocol.chapter_crypto import chapter_context, seal_chapter
from seat_protocol.messages import CHUNK_SIZE as PROTOCOL_CHUNK_SIZE
from seat_protocol.messages import ChapterManifest, ManifestChapter

__all__ = [
    "CHAPTERS",
    "RELEASE_STATES",
    "ChapterChunks",
    "SeatRelease",
    "release",
    "routes",
    "seal_for_seat",
    "setup",
]

log = structlog.get_logger(__name__)

RELEASE_STATES = CHAPTERS_RELEASABLE
_KEY_PURPOSE = "seat-chapter-content-key"
_LIVE = tuple(booking_rules.LIVE_STATES)


@dataclass
class ChapterChunks:
    """Sealed chunks by content hash, and which seat each prepared set belongs to."""

    chunk_size: int = PROTOCOL_CHUNK_SIZE
    _chunks: dict[str, bytes] = field(default_factory=dict)
    # seat key -> (manifest, its chunk hashes); the latest release for that seat
    _seats: dict[str, tuple[ChapterManifest, frozenset[str]]] = field(default_factory=dict)
    # seat keys whose manifest could not be handed to a channel yet (no connection so far)
    _waiting: set[str] = field(default_factory=set)

    def put(self, seat_key: str, manifest: ChapterManifest, chunks: dict[str, bytes]) -> None:
        self._seats[seat_key] = (manifest, frozenset(chunks))
        self._chunks.update(chunks)
        self._drop_unreferenced()

    def forget_session(self, session_id: str) -> list[str]:
        """Drop every seat's release of ``session_id`` (its reading is over); the seat keys."""
        gone = [
            key for key, (manifest, _) in self._seats.items() if manifest.session_id == session_id
        ]
        for key in gone:
            del self._seats[key]
            self._waiting.discard(key)
        self._drop_unreferenced()
        return gone

    def _drop_unreferenced(self) -> None:
        live = {h for _, hashes in self._seats.values() for h in hashes}
        for digest in [h for h in self._chunks if h not in live]:
            del self._chunks[digest]

    def chunk(self, seat_key: str, sha256: str) -> bytes | None:
        """The chunk if it belongs to this seat's latest release (defence in depth: the
        protocol machine already refuses hashes outside the seat's manifests)."""
        entry = self._seats.get(seat_key)
        if entry is None or sha256 not in entry[1]:
            return None
        return self._chunks.get(sha256)

    async def seat_connected(self, hub: SeatHub, seat_key: str) -> None:
        """Deliver a manifest released while the seat had no connection to this process."""
        if seat_key not in self._waiting or seat_key not in self._seats:
            return
        if await hub.send(seat_key, self._seats[seat_key][0]) is not None:
            self._waiting.discard(seat_key)
            log.info("seat.chapters_delivered_late", seat_key=seat_key)

    def wait_for(self, seat_key: str) -> None:
        self._waiting.add(seat_key)

    def manifest(self, seat_key: str) -> ChapterManifest | None:
        entry = self._seats.get(seat_key)
        return entry[0] if entry else None

    @property
    def held_bytes(self) -> int:
        return sum(len(c) for c in self._chunks.values())


CHAPTERS = web.AppKey("seat_chapters", ChapterChunks)


@dataclass(frozen=True)
class _SeatedExpert:
    seat_key: str
    expert_code: str
    x25519: bytes | None  # the approved enrolment's key; None if the seat is not enrolled


@dataclass(frozen=True)
class SeatRelease:
    seat_key: str
    expert_code: str
    chapters: int
    size: int
    delivery: str  # "sent" (on the seat's channel now) or "waiting" (on its next connection)


async def _seated(db: Database, session_id: int) -> list[_SeatedExpert]:
    async with db.read() as s:
        rows = await s.execute(
            select(Venue.code, Seat.label, Expert.code, Seat.id)
            .select_from(BookingSeat)
            .join(Booking, Booking.id == BookingSeat.booking_id)
            .join(Seat, Seat.id == BookingSeat.seat_id)
            .join(Venue, Venue.id == Seat.venue_id)
            .join(Expert, Expert.id == BookingSeat.expert_id)
            .where(
                Booking.session_id == session_id,
                Booking.state.in_(_LIVE),
                BookingSeat.live.is_(True),
            )
            .order_by(Venue.code, Seat.label)
        )
        seated = list(rows.all())
        keys = await s.execute(
            select(SeatEnrolment.seat_id, SeatEnrolment.x25519_public_key).where(
                SeatEnrolment.seat_id.in_([r[3] for r in seated]),
                SeatEnrolment.status == "approved",
            )
        )
        approved: dict[int, bytes] = {row[0]: row[1] for row in keys.all()}
    return [
        _SeatedExpert(seat_key_for(venue, label), expert, approved.get(seat_id))
        for venue, label, expert, seat_id in seated
    ]


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
    public = X25519PublicKey.from_public_bytes(seat_public_key)
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
            key = bytes.fromhex(
                sealer.mac(context.encode() + b"\0" + hashlib.sha256(text).digest(), _KEY_PURPOSE)
            )
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


def _require_host(actor: Principal, session: EvaluationSession, host: Venue) -> None:
    if actor.role == "host_operator" and actor.venue_id == session.host_venue_id:
        return
    raise Forbidden(
        "not-host",
        f"只有主场「{host.name}」的业务人员可以向工位发放评标会 #{session.id} 的章节，"
        f"当前用户 {actor.username} 无此权限",
    )


async def release(
    db: Database,
    actor: Principal,
    session_id: int,
    *,
    hub: SeatHub,
    cache: ChapterChunks,
    sealer: Sealer,
    now: datetime,
) -> tuple[list[SeatRelease], list[dict[str, str]]]:
    """Seal and send every seated expert's chapters; returns what was sent and what was not."""
    async with db.read() as s:
        session = await s.get(EvaluationSession, session_id)
        if session is None:
            raise NotFound("session-not-found", f"评标会 #{session_id} 不存在")
        host = await s.get(Venue, session.host_venue_id)
        assert host is not None
    _require_host(actor, session, host)
    if session.state not in RELEASE_STATES:
        raise Conflict(
            "chapters-not-releasable",
            f"评标会 #{session_id} 当前状态不能发放章节，只有签到中、评审中、偏离复核中或已暂停时可以发放",
        )
    seated = await _seated(db, session_id)
    if not seated:
        raise Conflict(
            "no-seated-experts", f"评标会 #{session_id} 尚无安排到工位的专家，无法发放章节"
        )
    released: list[SeatRelease] = []
    skipped: list[dict[str, str]] = []
    for seat in seated:
        if seat.x25519 is None:
            skipped.append(
                {
                    "seat_key": seat.seat_key,
                    "expert_code": seat.expert_code,
                    "reason": "工位终端尚未登记或登记未获批准，无法为其加密章节",
                }
            )
            continue
        async with db.read() as s:
            ctx = await released_context(s, session_id, seat.expert_code, sealer=sealer)
        manifest, chunks = seal_for_seat(
            ctx, seat.expert_code, seat.seat_key, seat.x25519, sealer, chunk_size=cache.chunk_size
        )
        cache.put(seat.seat_key, manifest, chunks)
        sent = await hub.send(seat.seat_key, manifest)
        if sent is None:
            cache.wait_for(seat.seat_key)
        released.append(
            SeatRelease(
                seat.seat_key,
                seat.expert_code,
                len(manifest.chapters),
                sum(c.size for c in manifest.chapters),
                "sent" if sent is not None else "waiting",
            )
        )
    async with db.write() as s:
        await append_event(
            s,
            kind="session.chapters_released",
            subject=f"session:{session_id}",
            actor=actor.username,
            payload={
                "seats": [
                    {"seat_key": r.seat_key, "expert": r.expert_code, "chapters": r.chapters}
                    for r in released
                ],
                "skipped": [k["seat_key"] for k in skipped],
            },
            at=now,
        )
    log.info(
        "seat.chapters_released",
        session_id=session_id,
        seats=len(released),
        skipped=len(skipped),
        held_bytes=cache.held_bytes,
    )
    return released, skipped


# --- HTTP --------------------------------------------------------------------------------

routes = ApiRoutes()

_RELEASE_RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "session_id": {"type": "integer"},
        "seats": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "seat_key": {"type": "string"},
                    "expert_code": {"type": "string"},
                    "chapters": {"type": "integer"},
                    "size": {"type": "integer"},
                    "delivery": {"type": "string", "enum": ["sent", "waiting"]},
                },
            },
        },
        "skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "seat_key": {"type": "string"},
                    "expert_code": {"type": "string"},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}


@routes.route(
    "POST",
    "/api/sessions/{session_id}/chapters",
    summary="向已安排专家的工位发放（或重新发放）按工位加密的评审章节（主场）",
    tag="章节发放",
    response=_RELEASE_RESPONSE,
    errors=(403, 404, 409),
)
async def post_release(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    app = request.app
    released, skipped = await release(
        app[DB],
        who,
        session_id,
        hub=app[SEAT_HUB],
        cache=app[CHAPTERS],
        sealer=app[SEALER],
        now=app[CLOCK](),
    )
    return web.json_response(
        {
            "session_id": session_id,
            "seats": [
                {
                    "seat_key": r.seat_key,
                    "expert_code": r.expert_code,
                    "chapters": r.chapters,
                    "size": r.size,
                    "delivery": r.delivery,
                }
                for r in released
            ],
            "skipped": skipped,
        }
    )


def setup(app: web.Application, *, chunk_size: int = PROTOCOL_CHUNK_SIZE) -> ChapterChunks:
    """Keep the chunks on the app and let the seat websocket answer chunk requests from them;
    call after ``evaluation_hub.seats.websocket.setup``."""
    cache = ChapterChunks(chunk_size=chunk_size)
    app[CHAPTERS] = cache
    app[SEAT_HUB].chapter_source = cache
    return cache
