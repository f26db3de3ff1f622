"""The demo's driver (``evaluation_hub.demo.script.Driver``) on the demo's own data, seeded and
staged through the use cases, one look at a time: it says a line only when what it waits for
changes, says a refused step once (and logs it once) however often it looks, and with the host
played by a person it never starts the evaluation itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import structlog

from evaluation_hub.db.engine import Database
from evaluation_hub.demo.data import DEMO_SEATS
from evaluation_hub.demo.script import Driver, Narrator
from evaluation_hub.demo.seed import seed, seed_bookings
from evaluation_hub.demo.stage import Stage, stage_evaluation
from evaluation_hub.services import Services
from evaluation_hub.sessions import formation
from evaluation_hub.sessions.store import lifecycle_view
from tests.conftest import FakeClock
from tests.support.services import services_for


@pytest.fixture
async def staged(database: Database, clock: FakeClock, tmp_path: Path) -> tuple[Services, Stage]:
    hub = services_for(database)
    ids = await seed(hub, clock())
    ids["bookings"] = await seed_bookings(hub, ids, clock())
    return hub, await stage_evaluation(hub, ids, tmp_path / "seats", clock())


async def _decide(hub: Services, stage: Stage, clock: FakeClock, decisions: dict[str, str]) -> None:
    seats = {expert: seat for seat, expert in DEMO_SEATS.items()}
    for expert, decision in decisions.items():
        reason = "与投标人存在利害关系" if decision == "recused" else ""
        await formation.decide_at_seat(
            hub, seats[expert], stage.session_id, expert, decision, reason, now=clock()
        )


async def _state(hub: Services, stage: Stage, clock: FakeClock) -> str:
    return (await lifecycle_view(hub, stage.host, stage.session_id, now=clock())).state


async def test_the_driver_says_each_change_once_and_a_refusal_once(
    staged: tuple[Services, Stage], clock: FakeClock
) -> None:
    hub, stage = staged
    lines: list[str] = []
    driver = Driver(hub, stage, clock, tell=Narrator(lines.append))
    for _ in range(3):
        assert not await driver.step()
    assert lines == ["等待确认评标纪律承诺：E01、E02、E03、E04、E05、E06、E07"]

    await _decide(
        hub,
        stage,
        clock,
        {"E01": "confirmed", "E02": "confirmed", "E03": "confirmed", "E04": "confirmed"},
    )
    for _ in range(3):
        await driver.step()
    assert lines[1:] == ["等待确认评标纪律承诺：E05、E06、E07"]

    # E05 declares recusal and the others confirm: six confirmed members are no lawful
    # committee (odd, at least five), so the start is refused, said and logged once.
    await _decide(hub, stage, clock, {"E05": "recused", "E06": "confirmed", "E07": "confirmed"})
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            assert not await driver.step()
    refused = [e for e in logs if e["event"] == "demo.step_refused"]
    assert len(refused) == 1 and refused[0]["step"] == "开始评审", logs
    assert lines[2:] == [f"主场未能开始评审：{refused[0]['detail']}"]
    assert await _state(hub, stage, clock) == "check_in"


async def test_with_the_host_played_the_driver_never_starts_the_evaluation(
    staged: tuple[Services, Stage], clock: FakeClock
) -> None:
    hub, stage = staged
    lines: list[Any] = []
    driver = Driver(hub, stage, clock, plays_host=True, tell=Narrator(lines.append))
    await _decide(
        hub,
        stage,
        clock,
        dict.fromkeys(("E01", "E02", "E03", "E04", "E05", "E06", "E07"), "confirmed"),
    )
    for _ in range(3):
        assert not await driver.step()
    assert lines == ["全体委员已确认评标纪律承诺：请在主场页面开始评标会 #1 的评审"]
    assert await _state(hub, stage, clock) == "check_in"
    assert not stage.started.exists()  # the seats' scripts wait for the start
