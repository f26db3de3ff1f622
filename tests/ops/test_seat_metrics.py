"""Score saves arriving over a real seat link are counted and timed (source ``seat``), and the
link shows in the seat-link gauge while it is up."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from evaluation_hub.api.ops import process_state
from evaluation_hub.ops.metrics import HubMetrics, Snapshot
from tests.conftest import FakeClock
from tests.seat_agent.test_delivery import SHEETS, MakeIdentity, _approved_seat, _empty, until
from tests.seats.conftest import NOW, HubUnderTest, db, hub, make_identity

__all__ = ["db", "hub", "make_identity"]


def scrape(
    metrics: HubMetrics, hub: HubUnderTest
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert hub.server is not None
    snapshot = Snapshot(FakeClock(NOW)(), process_state(hub.server.app), None, None)
    text = metrics.render(snapshot).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_seat_saves_are_counted_and_the_link_is_seen(
    hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path
) -> None:
    metrics = HubMetrics()
    assert hub.hub is not None
    hub.hub.save_observer = metrics.record_save
    seat = await _approved_seat(hub, make_identity, tmp_path)
    async with seat.running() as delivery:
        for sheet in SHEETS:
            await delivery.submit("S-2026-0412", sheet)
        await until(lambda: _empty(delivery), "every ack")
        found = scrape(metrics, hub)
        assert found["evalhub_seat_links", (("state", "open"),)] == 1
    # The saves name no session the hub knows: each is stored with the hub's refusal.
    assert found["evalhub_score_saves_total", (("outcome", "refused"), ("source", "seat"))] == 4
    assert found["evalhub_score_save_seconds_count", (("source", "seat"),)] == 4
    assert not any(name == "evalhub_score_saves_total" and ("source", "host") in labels
                   for name, labels in found)  # fmt: skip
