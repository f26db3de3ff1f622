"""Reading the evaluation writes nothing: ``GET …/evaluation`` leaves every table's rows and the
audit chain as they were, while seats are scoring and during the review. (It used to judge the
seat saves not judged yet, so a read wrote score rows and audit events.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from evaluation_hub.tables import metadata
from scoring.model import COMMERCIAL_PART
from tests.conftest import FakeClock
from tests.evaluation.helpers import (
    Client,
    act,
    attach,
    demo_package,
    hub_shuffle,
    part_save,
    proxy,
    seat_members,
    seat_save,
    start,
)
from tests.hub.helpers import login

MID = {"1.1": "7", "1.2": "3.5", "2.1": "6", "2.2": "5", "3.1": "4", "3.2": "3"}


def _points(**odd: str) -> dict[tuple[str, str], str]:
    points = {(b, i): v for b in ("b01", "b02", "b03", "b04", "b05") for i, v in MID.items()}
    for b in ("b01", "b02", "b03", "b04", "b05"):
        points[b, "c1"], points[b, "c2"] = "12", "5"
    points.update({tuple(k.split("_")): v for k, v in odd.items()})  # type: ignore[misc]
    return points


async def _snapshot(database: Database) -> tuple[dict[str, int], int, int | None]:
    """Row counts of every table, and the audit chain's length and head."""
    async with database.read() as s:
        counts = {
            t.name: (await s.execute(select(func.count()).select_from(t))).scalar_one()
            for t in metadata.sorted_tables
        }
        length = (await s.execute(select(func.count(AuditEventRow.seq)))).scalar_one()
        head = (await s.execute(select(func.max(AuditEventRow.seq)))).scalar_one()
    return counts, length, head


async def test_reading_the_evaluation_writes_nothing(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    sid = seeded["session"]
    seat_of = await seat_members(client, seeded, database, sid, {"E06": "QJ-01"}, clock())
    host = await login(client, "km_operator")
    supervisor = await login(client, "km_supervisor")
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    resp = await client.post(
        f"/api/sessions/{sid}/evaluation/overrides",
        json={"bidder_id": "b03", "chapter_id": "ch2", "reason": "经监督人员确认放行"},
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    await start(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    package = demo_package()
    base = f"/api/sessions/{sid}/evaluation"

    async def read_twice() -> None:
        before = await _snapshot(database)
        for who in (host, supervisor):
            resp = await client.get(base, headers=who)
            assert resp.status == 200, await resp.text()
        assert await _snapshot(database) == before

    # E06 saves from the seat: one accepted, one refused (E07's sheet at E06's seat).
    e06 = part_save(package, shuffle, "E06", "ch1", _points())
    del e06["expert"]
    assert (await seat_save(client, seat_of["E06"], "k1", str(sid), e06)).accepted
    wrong = part_save(package, shuffle, "E07", "ch1", _points())
    assert not (await seat_save(client, seat_of["E06"], "k2", str(sid), wrong)).accepted
    await read_twice()
    overview = await (await client.get(base, headers=host)).json()
    assert [(r["expert"], r["code"]) for r in overview["scoring"]["refused"]] == [
        ("E06", "expert-mismatch")
    ]

    # Everyone's sheets in (the others entered at the host), then the review round.
    for part in (*package.chapter_ids[1:], COMMERCIAL_PART):
        sheet = part_save(package, shuffle, "E06", part, _points())
        del sheet["expert"]
        assert (await seat_save(client, seat_of["E06"], f"k-{part}", str(sid), sheet)).accepted
    for expert in shuffle.manifest.expert_ids:
        if expert == "E06":
            continue
        odd = {"b01_c1": "16"} if expert == "E07" else {}
        for part in (*package.chapter_ids, COMMERCIAL_PART):
            save = proxy(part_save(package, shuffle, expert, part, _points(**odd)))
            resp = await client.post(f"{base}/scores", json=save, headers=host)
            assert resp.status == 201, await resp.text()
    resp = await client.post(f"{base}/review", headers=host)
    assert resp.status == 201, await resp.text()
    await read_twice()
