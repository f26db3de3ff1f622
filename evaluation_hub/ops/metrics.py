"""Prometheus metrics of one hub process (``/metrics``, for operators only).

Most figures are read when Prometheus scrapes, never counted along the way: a custom collector
(:class:`HubCollector`) turns a :class:`Snapshot` into metric families, and the snapshot is
what the process holds now (seat links, live media, event streams, chapter chunks, the
database pool) plus what :func:`read_stored` reads from the database (sessions by state, open
review requests, chapter deliveries, the audit chain's length and last checkpoint). Only what
happens and is gone, a score save and a refusal, is counted as it happens
(:meth:`HubMetrics.observe_save`, :meth:`HubMetrics.count_refusal`; the problem middleware is
the one place refusals pass).

One :class:`HubMetrics` per application, each with its own registry, so that tests (and several
applications in one process) count their own. Forwarding CPU is the process's CPU
(``process_cpu_seconds_total``): the built-in forwarder does not transcode, it passes encoded
frames on inside the hub process, so the process's CPU is what forwarding costs plus the API.

On ``media_backend = janus`` the same live families (seats by state, viewers per seat, stopped
recordings) are the Janus plane's publishers, subscriptions and recordings in this process, and
the plane adds its own (:class:`~evaluation_hub.live.janus_census.JanusFigures`): segments
converted, recording outages by reason, and whether each Janus instance answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from evaluation_hub.audit.models import AuditCheckpointRow, AuditEventRow
from evaluation_hub.db.models import EvaluationSession
from evaluation_hub.errors import ProblemError
from evaluation_hub.evaluation.models import ReviewRequestRow
from evaluation_hub.live.janus_census import JanusFigures
from evaluation_hub.live.status import SeatStatus
from evaluation_hub.ops.readiness import Readiness, calendar_days_left
from evaluation_hub.seats.models import ChapterDeliveryRow
from evaluation_hub.services import Services
from evaluation_hub.sessions.states import SessionState

__all__ = [
    "CONTENT_TYPE",
    "EXPORTED",
    "HubCollector",
    "HubMetrics",
    "PoolUse",
    "Process",
    "SaveTiming",
    "Snapshot",
    "Stored",
    "read_stored",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Score saves take milliseconds when all is well; the alert fires on a p99 above 1 s.
SAVE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class PoolUse:
    size: int
    checked_out: int
    overflow: int


@dataclass(frozen=True)
class Process:
    """What this hub process holds now, read by the shell at scrape time."""

    #: seat websocket connections by protocol state (``open``, ``await_auth``, …)
    seat_links: Mapping[str, int]
    live: Mapping[str, SeatStatus]
    live_running: bool
    #: open event streams (the pages' server-sent events) and their buffered/dropped events
    event_streams: int
    bus_backlog: int
    bus_dropped: int
    chapter_bytes_held: int
    chapter_chunks_held: int
    chapter_chunks_served: int
    pool: PoolUse | None
    #: seats with a recorder, by seat key: ``recording``, or ``stopped`` (its disk is full)
    recordings: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stored:
    """What the database says, read at scrape time by :func:`read_stored`."""

    sessions_by_state: Mapping[str, int]
    review_requests_open: int
    #: chapter deliveries by how far they got: released, sent, received, verified, skipped
    deliveries: Mapping[str, int]
    audit_events: int
    last_checkpoint_seq: int | None
    last_checkpoint_at: datetime | None


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    process: Process
    #: None when the database could not be read within the scrape's limit
    stored: Stored | None
    #: a PING's round trip to the bus in seconds; None when it failed
    bus_round_trip_s: float | None
    #: the readiness checks run for this scrape (``evaluation_hub.ops.readiness``)
    ready: Readiness | None = None
    #: the Janus plane's own figures (None: the built-in forwarder is the media backend)
    janus: JanusFigures | None = None


async def read_stored(hub: Services) -> Stored:
    """One read transaction over the counts the metrics show."""
    async with hub.db.read() as s:
        by_state = select(EvaluationSession.state, func.count()).group_by(EvaluationSession.state)
        states = {str(state): int(count) for state, count in (await s.execute(by_state)).all()}
        open_reviews = await s.scalar(
            select(func.count())
            .select_from(ReviewRequestRow)
            .where(ReviewRequestRow.answer.is_(None), ReviewRequestRow.informational.is_(False))
        )
        d = ChapterDeliveryRow
        released, sent, received, verified, skipped = (
            await s.execute(
                select(
                    func.count(),
                    func.count(d.sent_at),
                    func.count(d.received_at),
                    func.count(d.verified_at),
                    func.count(d.skipped),
                )
            )
        ).one()
        events = await s.scalar(select(func.coalesce(func.max(AuditEventRow.seq), 0)))
        checkpoint = (
            await s.execute(
                select(AuditCheckpointRow.seq, AuditCheckpointRow.at)
                .order_by(AuditCheckpointRow.seq.desc())
                .limit(1)
            )
        ).first()
    return Stored(
        sessions_by_state=states,
        review_requests_open=int(open_reviews or 0),
        deliveries={
            "released": released,
            "sent": sent,
            "received": received,
            "verified": verified,
            "skipped": skipped,
        },
        audit_events=int(events or 0),
        last_checkpoint_seq=None if checkpoint is None else int(checkpoint[0]),
        last_checkpoint_at=None if checkpoint is None else checkpoint[1],
    )


def _gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


#: Every metric family the hub exports (the dashboard and alert rules may use only these,
#: plus the ``_bucket``/``_count``/``_sum``/``_total`` series of the counters and histogram).
EXPORTED: dict[str, str] = {
    "evalhub_seat_links": "Seat websocket connections to this process, by protocol state.",
    "evalhub_sessions": "Evaluation sessions by state.",
    "evalhub_review_requests_open": "Deviation-review requests waiting for the expert's answer.",
    "evalhub_chapter_deliveries": "Chapter deliveries to seats by how far they got.",
    "evalhub_chapter_bytes_held": "Bytes of sealed chapter chunks held for seats in this process.",
    "evalhub_chapter_chunks_held": "Sealed chapter chunks held for seats in this process.",
    "evalhub_chapter_chunks_served": "Chapter chunks handed to seats (current releases).",
    "evalhub_live_running": "1 while the media forwarder's stats loop runs.",
    "evalhub_live_seats": "Seats publishing to this process, by live state.",
    "evalhub_live_viewers": "Supervisors' viewer streams per seat.",
    "evalhub_seat_media_fps": "Frames per second arriving from the seat, by kind.",
    "evalhub_seat_media_bitrate_bps": "Bits per second arriving from the seat, by kind.",
    "evalhub_seat_media_loss_ratio": "Fraction of packets lost over the last interval, by kind.",
    "evalhub_recording_stopped": (
        "1 while the seat's recording is stopped (its recordings disk is full, or Janus's recorder"
        " fails), 0 while it records."
    ),
    "evalhub_janus_up": "1 when the Janus instance answered the scrape's info request.",
    "evalhub_janus_recording_segments": "Recording segments Janus wrote that this process converted.",
    "evalhub_janus_recording_outages": "Recording outages begun in this process, by reason.",
    "evalhub_event_streams": "Open event streams (the pages' server-sent events).",
    "evalhub_bus_backlog_events": "Events buffered for open event streams, not yet sent.",
    "evalhub_bus_dropped_events": "Events dropped for event streams that fell behind.",
    "evalhub_bus_round_trip_seconds": "A PING's round trip to the bus at scrape time.",
    "evalhub_bus_up": "1 when the bus answered the scrape's PING.",
    "evalhub_db_pool_size": "Database connections kept in the pool.",
    "evalhub_db_pool_checked_out": "Database connections in use now.",
    "evalhub_db_pool_overflow": "Database connections opened beyond the pool size.",
    "evalhub_db_up": "1 when the scrape could read the database.",
    "evalhub_audit_chain_length": "Events in the audit chain (its head sequence number).",
    "evalhub_audit_checkpoint_seq": "The sequence number the last signed checkpoint covers.",
    "evalhub_audit_checkpoint_age_seconds": "Seconds since the last signed checkpoint.",
    "evalhub_calendar_coverage_days": "Days left that the working-day calendar covers.",
    "evalhub_ready": "1 when every readiness check passes (what /api/ready answers 200 to).",
    "evalhub_ready_check": "1 when the readiness check passes, by check.",
    "evalhub_ready_check_seconds": "How long the readiness check took, by check.",
    "evalhub_score_saves": "Score saves handled by this process, by source and outcome.",
    "evalhub_score_save_seconds": "Time to judge and store a score save, by source.",
    "evalhub_refusals": "Requests refused with a problem response, by status and reason.",
}


class HubCollector(Collector):
    """Turns the snapshot taken for this scrape into metric families."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def describe(self) -> list[Metric]:
        return []  # families depend on the snapshot; describing none skips a collect() at start

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        yield from self._process(snap.process)
        yield from self._bus(snap)
        yield from self._stored(snap)
        if snap.ready is not None:
            yield from self._ready(snap.ready)
        if snap.janus is not None:
            yield from self._janus(snap.janus)
        days = _gauge("evalhub_calendar_coverage_days", EXPORTED["evalhub_calendar_coverage_days"])
        days.add_metric([], calendar_days_left(snap.now))
        yield days

    def _process(self, p: Process) -> Iterator[Metric]:
        links = _gauge("evalhub_seat_links", EXPORTED["evalhub_seat_links"], ("state",))
        for state, count in sorted(p.seat_links.items()):
            links.add_metric([state], count)
        yield links
        for name, value in (
            ("evalhub_chapter_bytes_held", p.chapter_bytes_held),
            ("evalhub_chapter_chunks_held", p.chapter_chunks_held),
            ("evalhub_chapter_chunks_served", p.chapter_chunks_served),
            ("evalhub_live_running", int(p.live_running)),
            ("evalhub_event_streams", p.event_streams),
            ("evalhub_bus_backlog_events", p.bus_backlog),
            ("evalhub_bus_dropped_events", p.bus_dropped),
        ):
            gauge = _gauge(name, EXPORTED[name])
            gauge.add_metric([], value)
            yield gauge
        yield from self._live(p.live)
        stopped = _gauge(
            "evalhub_recording_stopped", EXPORTED["evalhub_recording_stopped"], ("seat",)
        )
        for seat, state in sorted(p.recordings.items()):
            stopped.add_metric([seat], int(state == "stopped"))
        yield stopped
        if p.pool is not None:
            for name, value in (
                ("evalhub_db_pool_size", p.pool.size),
                ("evalhub_db_pool_checked_out", p.pool.checked_out),
                ("evalhub_db_pool_overflow", p.pool.overflow),
            ):
                gauge = _gauge(name, EXPORTED[name])
                gauge.add_metric([], value)
                yield gauge

    def _live(self, live: Mapping[str, SeatStatus]) -> Iterator[Metric]:
        states: dict[str, int] = {"live": 0, "lost": 0, "connecting": 0, "offline": 0}
        viewers = _gauge("evalhub_live_viewers", EXPORTED["evalhub_live_viewers"], ("seat",))
        figures = {
            name: _gauge(name, EXPORTED[name], ("seat", "kind"))
            for name in (
                "evalhub_seat_media_fps",
                "evalhub_seat_media_bitrate_bps",
                "evalhub_seat_media_loss_ratio",
            )
        }
        for seat, status in sorted(live.items()):
            states[status.state] = states.get(status.state, 0) + 1
            viewers.add_metric([seat], status.viewers)
            for stream in status.stats:
                if stream.direction != "inbound":
                    continue  # what arrives from the seat; outbound streams go to viewers
                for name, value in (
                    ("evalhub_seat_media_fps", stream.fps),
                    ("evalhub_seat_media_bitrate_bps", stream.bitrate_bps),
                    ("evalhub_seat_media_loss_ratio", stream.loss_fraction),
                ):
                    if value is not None:
                        figures[name].add_metric([seat, stream.kind], value)
        seats = _gauge("evalhub_live_seats", EXPORTED["evalhub_live_seats"], ("state",))
        for state, count in sorted(states.items()):
            seats.add_metric([state], count)
        yield seats
        yield viewers
        yield from figures.values()

    def _janus(self, janus: JanusFigures) -> Iterator[Metric]:
        up = _gauge("evalhub_janus_up", EXPORTED["evalhub_janus_up"], ("instance",))
        for url, answered in sorted(janus.instances.items()):
            up.add_metric([url], int(answered))
        yield up
        name = "evalhub_janus_recording_segments"
        segments = CounterMetricFamily(name, EXPORTED[name])
        segments.add_metric([], janus.segments)
        yield segments
        name = "evalhub_janus_recording_outages"
        outages = CounterMetricFamily(name, EXPORTED[name], labels=["reason"])
        for reason, count in sorted(janus.outages.items()):
            outages.add_metric([reason], count)
        yield outages

    def _ready(self, ready: Readiness) -> Iterator[Metric]:
        whole = _gauge("evalhub_ready", EXPORTED["evalhub_ready"])
        whole.add_metric([], int(ready.ok))
        yield whole
        passed = _gauge("evalhub_ready_check", EXPORTED["evalhub_ready_check"], ("check",))
        took = _gauge(
            "evalhub_ready_check_seconds", EXPORTED["evalhub_ready_check_seconds"], ("check",)
        )
        for check in ready.checks:
            passed.add_metric([check.name], int(check.ok))
            took.add_metric([check.name], check.ms / 1000)
        yield passed
        yield took

    def _bus(self, snap: Snapshot) -> Iterator[Metric]:
        up = _gauge("evalhub_bus_up", EXPORTED["evalhub_bus_up"])
        up.add_metric([], int(snap.bus_round_trip_s is not None))
        yield up
        if snap.bus_round_trip_s is not None:
            rtt = _gauge(
                "evalhub_bus_round_trip_seconds", EXPORTED["evalhub_bus_round_trip_seconds"]
            )
            rtt.add_metric([], snap.bus_round_trip_s)
            yield rtt

    def _stored(self, snap: Snapshot) -> Iterator[Metric]:
        up = _gauge("evalhub_db_up", EXPORTED["evalhub_db_up"])
        up.add_metric([], int(snap.stored is not None))
        yield up
        stored = snap.stored
        if stored is None:
            return
        sessions = _gauge("evalhub_sessions", EXPORTED["evalhub_sessions"], ("state",))
        for state in SessionState:
            sessions.add_metric([state.value], stored.sessions_by_state.get(state.value, 0))
        yield sessions
        reviews = _gauge("evalhub_review_requests_open", EXPORTED["evalhub_review_requests_open"])
        reviews.add_metric([], stored.review_requests_open)
        yield reviews
        deliveries = _gauge(
            "evalhub_chapter_deliveries", EXPORTED["evalhub_chapter_deliveries"], ("stage",)
        )
        for stage, count in stored.deliveries.items():
            deliveries.add_metric([stage], count)
        yield deliveries
        length = _gauge("evalhub_audit_chain_length", EXPORTED["evalhub_audit_chain_length"])
        length.add_metric([], stored.audit_events)
        yield length
        if stored.last_checkpoint_at is not None and stored.last_checkpoint_seq is not None:
            seq = _gauge("evalhub_audit_checkpoint_seq", EXPORTED["evalhub_audit_checkpoint_seq"])
            seq.add_metric([], stored.last_checkpoint_seq)
            yield seq
            age = _gauge(
                "evalhub_audit_checkpoint_age_seconds",
                EXPORTED["evalhub_audit_checkpoint_age_seconds"],
            )
            at = stored.last_checkpoint_at
            if at.tzinfo is None:  # SQLite hands datetimes back naive; they are UTC
                at = at.replace(tzinfo=snap.now.tzinfo)
            age.add_metric([], max(0.0, (snap.now - at).total_seconds()))
            yield age


@dataclass
class SaveTiming:
    """Filled in by the caller of :meth:`HubMetrics.observe_save` with the save's outcome."""

    outcome: str = "failed"


@dataclass
class HubMetrics:
    """The registry of one hub application: the scrape-time collector and the two counts."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    clock: Callable[[], float] = time.perf_counter

    def __post_init__(self) -> None:
        self.collector = HubCollector()
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)
        self.saves = Counter(
            "evalhub_score_saves",
            EXPORTED["evalhub_score_saves"],
            ["source", "outcome"],
            registry=self.registry,
        )
        self.save_seconds = Histogram(
            "evalhub_score_save_seconds",
            EXPORTED["evalhub_score_save_seconds"],
            ["source"],
            buckets=SAVE_BUCKETS,
            registry=self.registry,
        )
        self.refusals = Counter(
            "evalhub_refusals",
            EXPORTED["evalhub_refusals"],
            ["status", "reason"],
            registry=self.registry,
        )

    def record_save(self, source: str, outcome: str, seconds: float) -> None:
        self.saves.labels(source, outcome).inc()
        self.save_seconds.labels(source).observe(seconds)

    @contextmanager
    def observe_save(self, source: str) -> Iterator[SaveTiming]:
        """Time the block; its outcome is what the block sets, ``refused`` if it raised a
        refusal (a ``ProblemError``), ``failed`` if it raised anything else."""
        timing = SaveTiming()
        started = self.clock()
        try:
            yield timing
        except ProblemError:
            timing.outcome = "refused"
            raise
        finally:
            self.record_save(source, timing.outcome, self.clock() - started)

    def count_refusal(self, status: int, reason: str) -> None:
        self.refusals.labels(str(status), reason).inc()

    def render(self, snapshot: Snapshot) -> bytes:
        """The text exposition of everything, the collector reading ``snapshot``."""
        self.collector.snapshot = snapshot
        try:
            return generate_latest(self.registry)
        finally:
            self.collector.snapshot = None
