"""The sections of a bundle: a small registry of functions that each write some of its files.

A section is ``async def build(ctx: ArchiveContext) -> list[BundleFile]``. The writer runs every
registered section in order, writes their files, and lists each file in the manifest under the
section's name. Built-in sections, in order:

    session      session.json: the session, its host venue, committee and state transitions
    bookings     bookings.json: bookings with their seats, experts seated and booking events
    checkin      checkin.json: PIN credentials (without the PIN's MAC) and check-in events
    scores       scores.json: submitted score sheets exactly as committed, each with the verdict
                 and the seat key's signature over it (``archive verify`` checks each one)
    supervision  supervision/*.json: the supervision record, incidents with handling, 函告,
                 copy notices, handovers (as a system principal sees them; ``supervision``)
    talkback     talkback/announcements.json: announcements and push-to-talk turns to the seats
    recordings   recordings/segments.json (from audit events) and, with --with-recordings,
                 recordings/files/<file>, each checked against its event's hash
    audit        audit/events.json, audit/checkpoints.json, audit/slice.json, hub-public-key.pem

Adding a section is one call, :func:`register_section`. The evaluation module (score seal,
reveal, report, signatures) plugs in by providing ``evaluation_hub.evaluation.archive`` with
``async def archive_section(ctx: ArchiveContext) -> list[BundleFile]``; :func:`sections` finds it
and adds it as section ``evaluation`` after ``scores`` — nothing in this package changes.

Data files are canonical JSON (``json_file``). Floats in stored JSON (score sheets arrive as
wire JSON) are written as decimal strings, since the canonical encoding refuses floats.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from evaluation_hub.archive import supervision as documents
from evaluation_hub.archive.auditslice import AuditSlice
from evaluation_hub.archive.bundle import PUBLIC_KEY, path_problem
from evaluation_hub.archive.errors import ArchiveError
from evaluation_hub.archive.recordings import RecordingSegment, find_segment, segment_of
from evaluation_hub.audit.canonical import canonical
from evaluation_hub.audit.chain import AuditEvent
from evaluation_hub.audit.checkpoint import Checkpoint
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import (
    Booking,
    BookingSeat,
    CheckinCredential,
    EvaluationSession,
    SessionExpert,
    SessionTransition,
    Venue,
)
from evaluation_hub.db.seat_terminals import SubmittedScore
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.supervision.assistance import read_assistance_requests
from evaluation_hub.supervision.copy_notices import read_copy_notices
from evaluation_hub.supervision.handovers import read_handovers
from evaluation_hub.supervision.incidents import read_incidents
from evaluation_hub.supervision.record import read_record
from seat_protocol.suites import PublicKey, suite_of_key

__all__ = [
    "EVALUATION_PLUGIN",
    "REPORT_PDF",
    "SCORES",
    "ArchiveContext",
    "BundleFile",
    "Preparation",
    "Section",
    "checkpoint_json",
    "event_json",
    "json_file",
    "preparations",
    "register_section",
    "sections",
]

# The module the evaluation package provides to add its report and signatures.
EVALUATION_PLUGIN = "evaluation_hub.evaluation.archive"
#: the talk-back section (announcements and push-to-talk turns), registered the same way
TALKBACK_PLUGIN = "evaluation_hub.talkback.archive"


@dataclass(frozen=True, slots=True)
class BundleFile:
    """One file a section contributes: bytes in memory, or a file on disk copied as is."""

    path: str
    data: bytes | None = None
    source: Path | None = None
    # For copied files: the SHA-256 the copy must have (checked while copying).
    expect_sha256: str | None = None

    def __post_init__(self) -> None:
        if (problem := path_problem(self.path)) is not None:
            raise ArchiveError(f"a section produced an invalid bundle path: {problem}")
        if (self.data is None) == (self.source is None):
            raise ArchiveError(f"bundle file {self.path} needs exactly one of data or source")


@dataclass(frozen=True, slots=True)
class ArchiveContext:
    """What a section may use: the database, the session, the audit slice, the time."""

    db: Database
    session_id: int
    now: datetime
    audit: AuditSlice
    public_key: PublicKey
    #: each hub process's recordings directory (``--with-recordings``, repeated)
    recordings_dirs: tuple[Path, ...] = ()
    # The hub's sealing key, when the archiving process has it: sections that must open sealed
    # values (the evaluation report re-derives the result) use it and skip that part without it.
    sealer: Sealer | None = None
    #: the session's segments found in none of ``recordings_dirs`` (filled by the section)
    missing: list[RecordingSegment] = field(default_factory=list)


Section = Callable[[ArchiveContext], Awaitable[list[BundleFile]]]
#: Run before the archive's own audit event and the audit slice is read, so what it stores and
#: audits (the signed report's PDF, rendered if nobody downloaded it yet) is in the bundle and
#: vouched for by the chain the bundle carries. Arguments: db, session id, sealer, actor, now.
Preparation = Callable[[Database, int, Sealer | None, str, datetime], Awaitable[None]]

_REGISTRY: dict[str, Section] = {}
_PREPARATIONS: list[Preparation] = []


def register_section(name: str, build: Section, *, after: str | None = None) -> None:
    """Add a section (after the section ``after``, or at the end). Names are unique."""
    if name in _REGISTRY:
        raise ArchiveError(f"archive section {name!r} is already registered")
    if after is None:
        _REGISTRY[name] = build
        return
    if after not in _REGISTRY:
        raise ArchiveError(f"archive section {after!r} is not registered")
    items = list(_REGISTRY.items())
    at = [n for n, _ in items].index(after) + 1
    items.insert(at, (name, build))
    _REGISTRY.clear()
    _REGISTRY.update(items)


def sections() -> list[tuple[str, Section]]:
    """The registered sections in order, with the evaluation plug-in if it is installed."""
    if "talkback" not in _REGISTRY:  # a plug-in like the evaluation's: talk-back builds on us
        talkback = importlib.import_module(TALKBACK_PLUGIN)
        register_section("talkback", talkback.archive_section, after="supervision")
    if "evaluation" not in _REGISTRY and _plugin_present():
        plugin = importlib.import_module(EVALUATION_PLUGIN)
        register_section("evaluation", plugin.archive_section, after="scores")
        prepare = getattr(plugin, "prepare_archive", None)  # optional: a plug-in may need none
        if prepare is not None:
            _PREPARATIONS.append(prepare)
    return list(_REGISTRY.items())


def preparations() -> list[Preparation]:
    """What the registered sections need done before the archive event (see ``Preparation``)."""
    sections()
    return list(_PREPARATIONS)


def _plugin_present() -> bool:
    try:
        return importlib.util.find_spec(EVALUATION_PLUGIN) is not None
    except ModuleNotFoundError:  # evaluation_hub.evaluation itself does not exist
        return False


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def json_file(path: str, value: Any) -> BundleFile:
    """A canonical-JSON data file (floats become decimal strings)."""
    return BundleFile(path, data=canonical(_plain(value)))


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at,
        "actor": event.actor,
        "kind": event.kind,
        "subject": event.subject,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def checkpoint_json(cp: Checkpoint) -> dict[str, Any]:
    return {
        "seq": cp.seq,
        "head_hash": cp.head_hash,
        "at": cp.at,
        "key_id": cp.key_id,
        "signature": cp.signature,
    }


def _venue(v: Venue) -> dict[str, Any]:
    return {
        "id": v.id,
        "code": v.code,
        "name": v.name,
        "region_code": v.region_code,
        "supervising_department": v.supervising_department,
    }


# -- built-in sections ------------------------------------------------------------------------


async def session_section(ctx: ArchiveContext) -> list[BundleFile]:
    async with ctx.db.read() as s:
        session = (
            await s.execute(
                select(EvaluationSession)
                .where(EvaluationSession.id == ctx.session_id)
                .options(
                    selectinload(EvaluationSession.experts).selectinload(SessionExpert.expert),
                    selectinload(EvaluationSession.host_venue),
                )
            )
        ).scalar_one()
        transitions = (
            await s.execute(
                select(SessionTransition)
                .where(SessionTransition.session_id == ctx.session_id)
                .order_by(SessionTransition.id)
            )
        ).scalars()
        return [
            json_file(
                "session.json",
                {
                    "id": session.id,
                    "project_code": session.project_code,
                    "project_name": session.project_name,
                    "section": session.section,
                    "host_venue": _venue(session.host_venue),
                    "starts_at": session.starts_at,
                    "ends_at": session.ends_at,
                    "committee_size": session.committee_size,
                    "state": session.state,
                    "created_at": session.created_at,
                    "committee": [
                        {
                            "expert_id": a.expert_id,
                            "code": a.expert.code,
                            "name": a.expert.name,
                            "employer": a.expert.employer,
                            "home_region": a.expert.home_region,
                            "placement": a.placement,
                        }
                        for a in sorted(session.experts, key=lambda a: a.id)
                    ],
                    "transitions": [
                        {
                            "action": t.action,
                            "from_state": t.from_state,
                            "to_state": t.to_state,
                            "actor": t.actor,
                            "actor_role": t.actor_role,
                            "at": t.at,
                            "reason": t.reason,
                        }
                        for t in transitions
                    ],
                },
            )
        ]


async def bookings_section(ctx: ArchiveContext) -> list[BundleFile]:
    async with ctx.db.read() as s:
        bookings = (
            await s.execute(
                select(Booking)
                .where(Booking.session_id == ctx.session_id)
                .options(
                    selectinload(Booking.seats).selectinload(BookingSeat.seat),
                    selectinload(Booking.events),
                )
                .order_by(Booking.id)
            )
        ).scalars()
        out = []
        for b in bookings:
            venue = await s.get(Venue, b.venue_id)
            assert venue is not None  # a foreign key
            out.append(
                {
                    "id": b.id,
                    "venue": _venue(venue),
                    "seat_count": b.seat_count,
                    "starts_at": b.starts_at,
                    "ends_at": b.ends_at,
                    "state": b.state,
                    "requested_by": b.requested_by,
                    "requested_at": b.requested_at,
                    "expires_at": b.expires_at,
                    "replaces_id": b.replaces_id,
                    "reason": b.reason,
                    "drawn": b.drawn,
                    "updated_at": b.updated_at,
                    "seats": [
                        {
                            "booking_seat_id": h.id,
                            "seat_id": h.seat_id,
                            "label": h.seat.label,
                            "room": h.seat.room,
                            "starts_at": h.starts_at,
                            "ends_at": h.ends_at,
                            "live": h.live,
                            "expert_id": h.expert_id,
                        }
                        for h in sorted(b.seats, key=lambda h: h.id)
                    ],
                    "events": [
                        {
                            "from_state": e.from_state,
                            "to_state": e.to_state,
                            "actor": e.actor,
                            "at": e.at,
                            "reason": e.reason,
                            "details": e.details,
                        }
                        for e in sorted(b.events, key=lambda e: e.id)
                    ],
                }
            )
        return [json_file("bookings.json", out)]


async def checkin_section(ctx: ArchiveContext) -> list[BundleFile]:
    async with ctx.db.read() as s:
        rows = (
            await s.execute(
                select(CheckinCredential, BookingSeat)
                .join(BookingSeat, BookingSeat.id == CheckinCredential.booking_seat_id)
                .join(Booking, Booking.id == BookingSeat.booking_id)
                .where(Booking.session_id == ctx.session_id)
                .order_by(CheckinCredential.id)
            )
        ).all()
        # The PIN's MAC is left out on purpose: it is a secret check value, not a record.
        credentials = [
            {
                "booking_seat_id": c.booking_seat_id,
                "booking_id": h.booking_id,
                "seat_id": h.seat_id,
                "expert_id": c.expert_id,
                "issued_by": c.issued_by,
                "issued_at": c.issued_at,
                "used_at": c.used_at,
                "attempts_left": c.attempts_left,
            }
            for c, h in rows
        ]
    events = [
        event_json(e)
        for e in ctx.audit.session_events()
        if e.kind.startswith("checkin.") or e.kind == "booking.expert_seated"
    ]
    return [json_file("checkin.json", {"credentials": credentials, "events": events})]


async def scores_section(ctx: ArchiveContext) -> list[BundleFile]:
    async with ctx.db.read() as s:
        # The seat protocol carries the session id as text (``session_ref``).
        rows = (
            await s.execute(
                select(SubmittedScore)
                .where(SubmittedScore.session_ref == str(ctx.session_id))
                .order_by(SubmittedScore.id)
            )
        ).scalars()
        scores = [
            {
                "id": r.id,
                "idempotency_key": r.idempotency_key,
                "seat_key": r.seat_key,
                "session_ref": r.session_ref,
                "sheet": r.sheet,
                "payload_digest": r.payload_digest,
                "received_at": r.received_at,
                "accepted": r.accepted,
                "verdict_code": r.verdict_code,
                "verdict_message": r.verdict_message,
                "seat_signature": r.seat_signature,
                "seat_public_key": r.seat_public_key,
            }
            for r in rows
        ]
    return [json_file(SCORES, scores)]


_ARCHIVIST = Principal("archive", "system_admin", None)


async def supervision_section(ctx: ArchiveContext) -> list[BundleFile]:
    sid, who = ctx.session_id, _ARCHIVIST
    async with ctx.db.read() as s:
        record = await read_record(s, who, sid, now=ctx.now)
        incidents = await read_incidents(s, who, sid)
        assistance = await read_assistance_requests(s, who, sid)
        notices = await read_copy_notices(s, who, sid, now=ctx.now)
        handovers = await read_handovers(s, who, sid, now=ctx.now)
    return [
        json_file("supervision/record.json", documents.record_document(record)),
        json_file("supervision/incidents.json", documents.incident_documents(incidents)),
        json_file("supervision/assistance.json", documents.assistance_documents(assistance)),
        json_file("supervision/copy-notices.json", documents.copy_notice_documents(notices)),
        json_file("supervision/handovers.json", documents.handover_documents(handovers)),
    ]


def session_segments(events: list[AuditEvent], session_id: int) -> list[RecordingSegment]:
    """The recording segments of the session stated by ``events``, in chain order."""
    found = (segment_of(e) for e in events)
    return [seg for seg in found if seg is not None and seg.session_id == session_id]


RECORDING_FILES = "recordings/files"
SCORES = "scores.json"
#: the signed report's PDF as the hub stored and served it (written by the evaluation section)
REPORT_PDF = "evaluation/report.pdf"


async def recordings_section(ctx: ArchiveContext) -> list[BundleFile]:
    segments = session_segments(ctx.audit.session_events(), ctx.session_id)
    files: list[BundleFile] = []
    listed = []
    for seg in segments:
        source = find_segment(seg, ctx.recordings_dirs) if ctx.recordings_dirs else None
        included = source is not None
        if source is not None:
            path = f"{RECORDING_FILES}/{seg.file}"
            files.append(BundleFile(path, source=source, expect_sha256=seg.sha256))
        elif ctx.recordings_dirs:
            ctx.missing.append(seg)
        # A pruned (retention) or missing file is listed as not included, never guessed.
        listed.append({**seg.as_json(), "included": included})
    return [json_file("recordings/segments.json", listed), *files]


async def audit_section(ctx: ArchiveContext) -> list[BundleFile]:
    pem = suite_of_key(ctx.public_key).public_pem(ctx.public_key)
    a = ctx.audit
    return [
        json_file("audit/events.json", [event_json(e) for e in a.events]),
        json_file("audit/checkpoints.json", [checkpoint_json(c) for c in a.checkpoints]),
        json_file(
            "audit/slice.json",
            {
                "session_id": ctx.session_id,
                "first_seq": a.first_seq,
                "last_seq": a.last_seq,
                "anchor_seq": a.anchor_seq,
                "session_seqs": a.session_seqs,
            },
        ),
        BundleFile(PUBLIC_KEY, data=pem),
    ]


for _name, _build in (
    ("session", session_section),
    ("bookings", bookings_section),
    ("checkin", checkin_section),
    ("scores", scores_section),
    ("supervision", supervision_section),
    ("recordings", recordings_section),
    ("audit", audit_section),
):
    register_section(_name, _build)
