"""The conduct monitor on ``media_backend = janus``: it subscribes to each live seat's feed
like a viewer (not counted as one), samples keyframes, and its alerts reach the wall, the audit
chain and check-in's picture as with the built-in forwarder."""

from __future__ import annotations

import asyncio

from evaluation_hub.audit.store import load_chain
from media.conduct import ConductRules
from media.testpattern import Scene
from tests.janus.conftest import plane
from tests.live.conftest import Rig, eventually


async def test_the_conduct_monitor_subscribes_like_a_viewer(rig: Rig) -> None:
    monitors = plane(rig).monitors
    assert monitors is not None
    # An empty seat raises its alert quickly here; every number is configuration.
    monitors.rules = ConductRules(empty_after=1.0, clear_after=1.0)
    await rig.publish("QJ-01", "QJ", scene=Scene.ABSENT)
    await rig.publish("DL-01", "DL")
    for seat in ("QJ.QJ-01", "DL.DL-01"):
        await eventually(lambda seat=seat: plane(rig).status(seat).state == "live", seat)

    def kinds(seat: str) -> set[str]:
        return {a.kind.value for a in plane(rig).status(seat).alerts}

    await eventually(lambda: "seat_empty" in kinds("QJ.QJ-01"), "the empty seat's alert")
    await eventually(lambda: plane(rig).latest("DL.DL-01") is not None, "a sampled picture")
    seen = plane(rig).latest("DL.DL-01")
    assert seen is not None and seen.faces == 1
    assert plane(rig).latest("QJ.QJ-01") is not None
    assert "seat_empty" not in kinds("DL.DL-01")
    # The monitor's subscription is not a viewer.
    assert plane(rig).status("QJ.QJ-01").viewers == 0

    headers = await rig.login("km_supervisor")
    row = await rig.seat_row(rig.ids["session"], headers, "QJ-01")
    assert "seat_empty" in {a["kind"] for a in row["alerts"]}
    for _ in range(250):
        async with rig.db.read() as s:
            chain = await load_chain(s)
        raised = [e for e in chain if e.kind == "live.alert_raised"]
        if raised:
            break
        await asyncio.sleep(0.02)
    assert [(e.subject, e.payload["kind"]) for e in raised] == [("seat:QJ.QJ-01", "seat_empty")]
