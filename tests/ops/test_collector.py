"""The scrape-time collector over a snapshot with what the flows of test_metrics.py do not
produce: a publishing seat with its stream figures, a signed checkpoint, a database pool, a
bus that answered and one that did not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from evaluation_hub.live.status import SeatStatus
from evaluation_hub.ops.metrics import HubMetrics, PoolUse, Process, Snapshot, Stored
from evaluation_hub.ops.readiness import Check, Readiness
from media.stats import StreamStats

NOW = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)


def samples(snapshot: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = HubMetrics().render(snapshot).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def stream(kind: str, direction: str, fps: float | None, bps: float, loss: float) -> StreamStats:
    return StreamStats(kind, direction, 1234, fps, bps, 3, loss, 4.0, 20.0)


def test_a_publishing_seat_a_checkpoint_and_the_pool() -> None:
    live = {
        "DL.DL-01": SeatStatus(
            "live",
            (),
            (
                stream("video", "inbound", 15.0, 350_000.0, 0.02),
                stream("audio", "inbound", None, 32_000.0, 0.0),
                stream("video", "outbound", 15.0, 340_000.0, 0.0),  # to a viewer: not the seat's
            ),
            2,
            1,
        ),
        "HH.HH-02": SeatStatus("lost", (), (), 0, 3),
    }
    process = Process(
        {"open": 2, "await_auth": 1}, live, True, 3, 5, 1, 2048, 4, 3, PoolUse(10, 2, 1)
    )
    stored = Stored(
        {"evaluating": 2, "report_signed": 5}, 3, {"released": 6, "sent": 6, "received": 5,
        "verified": 4, "skipped": 1}, 120, 118, (NOW - timedelta(seconds=90)).replace(tzinfo=None),
    )  # fmt: skip
    ready = Readiness((Check("database", True, 3.5, "正常"), Check("calendar", False, 0.0, "x")))
    found = samples(Snapshot(NOW, process, stored, 0.0015, ready))

    def value(name: str, **labels: str) -> float:
        return found[name, tuple(sorted(labels.items()))]

    assert value("evalhub_seat_links", state="open") == 2
    assert value("evalhub_seat_links", state="await_auth") == 1
    assert value("evalhub_live_seats", state="live") == 1
    assert value("evalhub_live_seats", state="lost") == 1
    assert value("evalhub_live_seats", state="offline") == 0
    assert value("evalhub_live_viewers", seat="DL.DL-01") == 2
    assert value("evalhub_seat_media_fps", seat="DL.DL-01", kind="video") == 15.0
    assert value("evalhub_seat_media_bitrate_bps", seat="DL.DL-01", kind="video") == 350_000.0
    assert value("evalhub_seat_media_bitrate_bps", seat="DL.DL-01", kind="audio") == 32_000.0
    assert value("evalhub_seat_media_loss_ratio", seat="DL.DL-01", kind="video") == 0.02
    assert ("evalhub_seat_media_fps", (("kind", "audio"), ("seat", "DL.DL-01"))) not in found
    assert value("evalhub_event_streams") == 3
    assert value("evalhub_bus_backlog_events") == 5
    assert value("evalhub_bus_dropped_events") == 1
    assert value("evalhub_bus_up") == 1
    assert value("evalhub_bus_round_trip_seconds") == 0.0015
    assert value("evalhub_chapter_bytes_held") == 2048
    assert value("evalhub_chapter_chunks_held") == 4
    assert value("evalhub_chapter_chunks_served") == 3
    assert value("evalhub_db_pool_size") == 10
    assert value("evalhub_db_pool_checked_out") == 2
    assert value("evalhub_db_pool_overflow") == 1
    assert value("evalhub_sessions", state="evaluating") == 2
    assert value("evalhub_sessions", state="report_signed") == 5
    assert value("evalhub_sessions", state="scheduled") == 0
    assert value("evalhub_review_requests_open") == 3
    assert value("evalhub_chapter_deliveries", stage="verified") == 4
    assert value("evalhub_audit_chain_length") == 120
    assert value("evalhub_audit_checkpoint_seq") == 118
    assert value("evalhub_audit_checkpoint_age_seconds") == 90.0
    assert value("evalhub_ready") == 0
    assert value("evalhub_ready_check", check="database") == 1
    assert value("evalhub_ready_check", check="calendar") == 0
    assert value("evalhub_ready_check_seconds", check="database") == 0.0035
    assert value("evalhub_db_up") == 1


def test_what_could_not_be_read_is_said_not_guessed() -> None:
    process = Process({}, {}, False, 0, 0, 0, 0, 0, 0, None)
    found = samples(Snapshot(NOW, process, None, None))
    names = {name for name, _ in found}
    assert found["evalhub_db_up", ()] == 0
    assert found["evalhub_bus_up", ()] == 0
    assert found["evalhub_live_running", ()] == 0
    for absent in ("evalhub_sessions", "evalhub_audit_chain_length", "evalhub_db_pool_size",
                   "evalhub_bus_round_trip_seconds", "evalhub_ready"):  # fmt: skip
        assert absent not in names, absent
