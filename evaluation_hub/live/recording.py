"""Recording in the hub (工位录像): one :class:`~media.recording.SeatRecorder` per publishing
seat, every closed segment hashed into the audit chain, retention applied on a timer.

Segments go to ``<recordings dir>/<seat key>/<start>-<n>-<index>.webm``: one recorder per
publication (a seat that reconnects after a network drop starts a new one, so a segment never
spans two connections' timestamps). Each closed segment is handed to a :data:`SegmentSink`
with its path relative to the recordings directory, the form the archive reads
(``archive --with-recordings DIR``). :func:`record_segment` records it through
:func:`~evaluation_hub.archive.recordings.append_segment_event` once for each session the
seat's media belongs to when the segment closed (``live.owners``: from the expert's check-in
until the session is over for them, or inside the booked window; subject ``seat:<seat id>``);
a segment no session claims is still hashed into the chain, as ``recording.segment_unassigned``
with subject ``seat:<seat key>``.

A full recordings disk stops a seat's recorder, not the evaluation: the recorder reports it
(``media.recording``: :class:`~media.recording.RecordingStopped`, later
:class:`~media.recording.RecordingResumed` once ``resume_free_bytes`` are free again), and
:func:`record_outage` hashes it into the audit chain as ``recording.stopped`` /
``recording.resumed`` (subject ``seat:<seat key>``, with the sessions the seat's media belongs
to); :meth:`SeatRecordings.state` is what the wall and the metrics show.

Retention (:class:`RecordingPolicy` ``keep_seconds``) deletes closed segments older than that,
by file modification time, every ``prune_interval`` seconds; without it nothing is deleted —
recordings are evidence, deleting them is a deliberate setting. The audit events stay. With
several hub processes, each prunes the directory it records into, on its own timer and without
a lease: where each has a directory of its own (the compose stack's state volume per hub) a
lease would leave all but one growing; where they share one, they apply the same rule to the
same files, and a file another process deleted first is skipped (``media.diskspace.prune``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation_hub.archive.recordings import (
    RESUMED_EVENT,
    STOPPED_EVENT,
    append_segment_event,
)
from evaluation_hub.audit.store import append_event
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.live.owners import media_owners
from evaluation_hub.secretfile import PRIVATE_FILE, private_dir
from media.errors import MediaError
from media.forwarding import PublisherForwarder
from media.recording import (
    RecordedSegment,
    RecordingResumed,
    RecordingStopped,
    SeatRecorder,
    prune,
)

__all__ = [
    "RESUMED_EVENT",
    "STOPPED_EVENT",
    "UNASSIGNED_EVENT",
    "OutageSink",
    "RecordingPolicy",
    "RecordingState",
    "SeatRecordings",
    "SegmentSink",
    "outage_audit_sink",
    "record_outage",
    "record_segment",
    "recordings_from_config",
    "seat_directory_name",
    "segment_audit_sink",
]

logger = logging.getLogger(__name__)

UNASSIGNED_EVENT = "recording.segment_unassigned"

SegmentSink = Callable[[str, str, RecordedSegment], Awaitable[None]]
"""Called with (seat key, file relative to the recordings directory, segment)."""

OutageSink = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""Called with (event kind, seat key, payload) when a seat's recording stops or resumes."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class RecordingPolicy:
    """Where and how the hub records seats."""

    directory: Path
    segment_seconds: float = 10.0
    keep_seconds: float | None = None  # None: never delete
    prune_interval: float = 3600.0
    #: after a full disk, recording resumes once this much is free again
    resume_free_bytes: int = 64 << 20


@dataclass(frozen=True, slots=True)
class RecordingState:
    """Whether a publishing seat is being recorded: ``recording``, or ``stopped`` (``reason``
    ``disk_full``) since ``since`` (wall-clock seconds)."""

    state: str
    reason: str | None = None
    since: float | None = None


def seat_directory_name(seat_key: str) -> str:
    """A seat key as one safe path component (the archive accepts only ``[A-Za-z0-9._-]``)."""
    name = _UNSAFE.sub("_", seat_key) or "_"
    return "_" + name if name.startswith(".") else name


class SeatRecordings:
    """The hub's recorders, one per publishing seat, and the retention timer."""

    def __init__(
        self,
        policy: RecordingPolicy,
        sink: SegmentSink | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
        outages: OutageSink | None = None,
    ) -> None:
        self.policy = policy
        self._sink = sink
        self._outages = outages
        self._wall_clock = wall_clock
        self._recorders: dict[str, SeatRecorder] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        #: told each seat's new recording state as it stops or resumes (the wall's live event)
        self.announce: Callable[[str, RecordingState], Coroutine[Any, Any, None]] | None = None
        self._pruner: asyncio.Task[None] | None = None

    def recorder(self, seat_key: str) -> SeatRecorder | None:
        return self._recorders.get(seat_key)

    def state(self, seat_key: str) -> RecordingState | None:
        """The seat's recording now; None when it has no recorder (not publishing here)."""
        recorder = self._recorders.get(seat_key)
        if recorder is None:
            return None
        outage = recorder.outage
        if outage is None:
            return RecordingState("recording")
        return RecordingState("stopped", outage.reason, outage.at)

    def states(self) -> dict[str, RecordingState]:
        """Every seat with a recorder, by seat key (the metrics)."""
        found = ((key, self.state(key)) for key in list(self._recorders))
        return {key: state for key, state in found if state is not None}

    def position(self, seat_key: str, at: float) -> tuple[str, float] | None:
        """Where wall-clock time ``at`` falls in the seat's recording: the segment's file,
        relative to the recordings directory as its audit event names it, and the offset."""
        recorder = self._recorders.get(seat_key)
        found = recorder.position(at) if recorder is not None else None
        if found is None:
            return None
        name, offset = found
        return f"{seat_directory_name(seat_key)}/{name}", offset

    def start(self) -> None:
        """Start the retention timer (call on the event loop); no timer without retention."""
        if self._pruner is None and self.policy.keep_seconds is not None:
            self._pruner = asyncio.ensure_future(self._prune_loop())

    async def restart(self, seat_key: str, forwarder: PublisherForwarder) -> SeatRecorder | None:
        """Close the seat's current recorder, if any, and start one for its new publication.

        Returns ``None`` (logged) when the seat's media cannot be recorded: not VP8/Opus, or
        the directory cannot be made. The stream is forwarded all the same.
        """
        await self.stop(seat_key)
        directory = self.policy.directory / seat_directory_name(seat_key)
        try:
            # Recordings show the experts at work: the hub's user alone reads them (folders
            # 0700 here, segments 0600 as they close).
            private_dir(self.policy.directory)
            private_dir(directory)
            recorder = SeatRecorder(
                forwarder,
                directory,
                self._fresh_prefix(directory),
                lambda segment: self._closed(seat_key, directory.name, segment),
                segment_seconds=self.policy.segment_seconds,
                on_outage=lambda change: self._outage(seat_key, change),
                resume_free_bytes=self.policy.resume_free_bytes,
            )
            recorder.start()
        except (MediaError, OSError):
            logger.exception("seat %s cannot be recorded", seat_key)
            return None
        self._recorders[seat_key] = recorder
        return recorder

    async def stop(self, seat_key: str, recorder: SeatRecorder | None = None) -> None:
        """Close the seat's recorder (only if it is still ``recorder``, when given): its open
        segment is written and reported first."""
        current = self._recorders.get(seat_key)
        if current is None or (recorder is not None and current is not recorder):
            return
        del self._recorders[seat_key]
        await current.stop()

    def stop_soon(self, seat_key: str, recorder: SeatRecorder | None = None) -> None:
        """:meth:`stop` in a task of its own, which :meth:`close` and :meth:`drain` wait for."""
        self._track(self.stop(seat_key, recorder))

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        for seat_key in list(self._recorders):
            await self.stop(seat_key)
        await self.drain()

    async def drain(self) -> None:
        """Wait until recorders being stopped have stopped and their segments reached the sink."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def prune_once(self) -> list[Path]:
        """Apply retention to every seat directory now; returns the deleted files."""
        keep = self.policy.keep_seconds
        root = self.policy.directory
        if keep is None or not root.is_dir():
            return []
        now = self._wall_clock()
        deleted: list[Path] = []
        for directory in sorted(p for p in root.iterdir() if p.is_dir()):
            deleted += prune(directory, keep_seconds=keep, now=now)
        return deleted

    async def _prune_loop(self) -> None:
        while True:
            try:
                deleted = await asyncio.to_thread(self.prune_once)
                if deleted:
                    logger.info("recording retention deleted %d segment(s)", len(deleted))
            except OSError:
                logger.exception("recording retention failed")
            await asyncio.sleep(self.policy.prune_interval)

    def _fresh_prefix(self, directory: Path) -> str:
        started = datetime.fromtimestamp(self._wall_clock(), UTC).strftime("%Y%m%dT%H%M%SZ")
        for n in itertools.count():
            prefix = f"{started}-{n}"
            if not any(directory.glob(f"{prefix}-*")):
                return prefix
        raise AssertionError("unreachable")

    def _closed(self, seat_key: str, directory: str, segment: RecordedSegment) -> None:
        try:
            segment.path.chmod(PRIVATE_FILE)
        except OSError:
            logger.exception("recording segment %s: mode not narrowed", segment.path)
        if self._sink is None:
            return
        self._track(self._report(seat_key, f"{directory}/{segment.path.name}", segment))

    def _outage(self, seat_key: str, change: RecordingStopped | RecordingResumed) -> None:
        if self.announce is not None and (state := self.state(seat_key)) is not None:
            self._track(self.announce(seat_key, state))
        if self._outages is None:
            return
        if isinstance(change, RecordingStopped):
            kind = STOPPED_EVENT
            payload: dict[str, Any] = {
                "reason": change.reason,
                "detail": change.detail,
                "stopped_at": _iso(change.at),
            }
        else:
            kind = RESUMED_EVENT
            payload = {
                "stopped_at": _iso(change.stopped_at),
                "resumed_at": _iso(change.at),
                "outage_ms": round((change.at - change.stopped_at) * 1000),
                "free_bytes": change.free_bytes,
                "dropped_frames": change.dropped_frames,
            }
        self._track(self._report_outage(kind, seat_key, payload))

    async def _report_outage(self, kind: str, seat_key: str, payload: dict[str, Any]) -> None:
        assert self._outages is not None
        try:
            await self._outages(kind, seat_key, payload)
        except Exception:
            logger.exception("recording %s of seat %s not audited", kind, seat_key)

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self, seat_key: str, file: str, segment: RecordedSegment) -> None:
        assert self._sink is not None
        try:
            await self._sink(seat_key, file, segment)
        except Exception:
            logger.exception("recording segment %s of seat %s not audited", file, seat_key)


async def record_segment(
    db: Database, seat_key: str, file: str, segment: RecordedSegment, *, now: datetime
) -> None:
    """Hash one closed segment into the audit chain for every session the seat's media belongs
    to now (``live.owners``), or as unassigned when it belongs to none."""
    async with db.write() as s:
        seated = await media_owners(s, seat_key, now)
        for seating in seated:
            await append_segment_event(
                s,
                session_id=seating.session_id,
                seat_id=seating.seat_id,
                file=file,
                sha256=segment.sha256,
                size=segment.size,
                duration_s=segment.duration,
                actor="recorder",
                at=now,
            )
        if not seated:
            await append_event(
                s,
                kind=UNASSIGNED_EVENT,
                subject=f"seat:{seat_key}",
                actor="recorder",
                payload={
                    "file": file,
                    "sha256": segment.sha256,
                    "size": segment.size,
                    "duration_ms": round(segment.duration * 1000),
                },
                at=now,
            )


async def record_outage(
    db: Database, kind: str, seat_key: str, payload: dict[str, Any], *, now: datetime
) -> None:
    """Hash a seat's recording stopping or resuming into the audit chain, naming the sessions
    the seat's media belongs to now (``live.owners``)."""
    async with db.write() as s:
        seated = await media_owners(s, seat_key, now)
        await append_event(
            s,
            kind=kind,
            subject=f"seat:{seat_key}",
            actor="recorder",
            payload={**payload, "session_ids": sorted({x.session_id for x in seated})},
            at=now,
        )


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def segment_audit_sink(db: Database, clock: Callable[[], datetime]) -> SegmentSink:
    """Record each closed segment (:func:`record_segment`) when the recorder reports it."""

    async def record(seat_key: str, file: str, segment: RecordedSegment) -> None:
        await record_segment(db, seat_key, file, segment, now=clock())

    return record


def outage_audit_sink(db: Database, clock: Callable[[], datetime]) -> OutageSink:
    """Record each recording outage and its end (:func:`record_outage`) as it is reported."""

    async def record(kind: str, seat_key: str, payload: dict[str, Any]) -> None:
        await record_outage(db, kind, seat_key, payload, now=clock())

    return record


def recordings_from_config(
    config: HubConfig, db: Database, clock: Callable[[], datetime]
) -> SeatRecordings | None:
    """The hub's recordings as configured (``None`` when recording is off)."""
    if not config.recordings_enabled:
        return None
    retention = config.recording_retention
    policy = RecordingPolicy(
        directory=config.recordings_dir,
        segment_seconds=config.recording_segment_s,
        keep_seconds=None if retention is None else retention.total_seconds(),
        prune_interval=config.recording_prune_interval_s,
        resume_free_bytes=round(config.recording_resume_free_mb * (1 << 20)),
    )

    return SeatRecordings(
        policy, segment_audit_sink(db, clock), outages=outage_audit_sink(db, clock)
    )
