"""Score collection: saves through the host API and from seats (``submitted_scores``), judged
once each; refusals recorded with their reason and never counted. (That the latest accepted
save per expert and part is the one that counts is shown end to end: E02's re-scored chapter
decides b02's technical score in test_end_to_end.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from evaluation_hub.db.engine import Database
from evaluation_hub.evaluation.models import ScoreSaveRow
from evaluation_hub.seats.scores import commit_score
from seat_protocol.seat_key import SeatKey
from tests.conftest import FakeClock
from tests.evaluation.helpers import (
    Client,
    act,
    attach,
    demo_package,
    hub_shuffle,
    new_session,
    start,
)
from tests.evaluation.helpers import part_save as make_save
from tests.hub.helpers import login, problem
from tests.support.seed import seed_bookings

MID = {"1.1": "7", "1.2": "3.5", "2.1": "6", "2.2": "5", "3.1": "4", "3.2": "3"}


def _points() -> dict[tuple[str, str], str]:
    points = {(b, i): v for b in ("b01", "b02", "b03", "b04", "b05") for i, v in MID.items()}
    for b in ("b01", "b02", "b03", "b04", "b05"):
        points[b, "c1"], points[b, "c2"] = "12", "5"
    return points


async def test_host_saves_refusals_are_recorded_not_counted(
    client: Client, seeded: dict[str, Any], database: Database
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    base = f"/api/sessions/{sid}/evaluation"
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    shuffle = await hub_shuffle(client, database, sid)
    package = demo_package()
    save = make_save(package, shuffle, "E01", "ch1", _points())

    resp = await client.post(f"{base}/scores", json=save, headers=host)
    body = await problem(resp, 422)
    assert (
        body["detail"] == "评分表未被接受（已记录，不计入）：评标会当前状态为「签到中」，不接受评分"
    )
    await start(client, host, sid)

    supervisor = await login(client, "km_supervisor")
    resp = await client.post(f"{base}/scores", json=save, headers=supervisor)
    assert (await problem(resp, 403))["detail"] == (
        f"只有主场「云南省公共资源交易中心（昆明）」的业务人员可以操作评标会 #{sid} 的评审，"
        "当前用户 km_supervisor（监督人员）无此权限"
    )
    resp = await client.post(f"{base}/scores", json=save | {"expert": "E07"}, headers=host)
    assert (await problem(resp, 422))["detail"] == (
        f"评分表未被接受（已记录，不计入）：专家 E07 不是评标会 #{sid} 的评标委员会成员，评分不予计入"
    )
    resp = await client.post(f"{base}/scores", json=save | {"part": "ch9"}, headers=host)
    body = await problem(resp, 422)
    assert body["detail"] == (
        "评分表未被接受（已记录，不计入）：评分表所属章节「ch9」不在本评标会的标书包中"
    )
    broken = save | {"entries": save["entries"][:-2]}
    resp = await client.post(f"{base}/scores", json=broken, headers=host)
    body = await problem(resp, 422)
    last = save["entries"][-1]["subject"]
    assert body["problems"] == [f"ch1 {last} 1.1：未评分", f"ch1 {last} 1.2：未评分"]
    assert body["detail"] == f"评分表未被接受（已记录，不计入）：ch1 {last} 1.1：未评分 等 2 个问题"

    resp = await client.post(f"{base}/scores", json=save, headers=host)
    assert resp.status == 201, await resp.text()
    overview = await (await client.get(base, headers=host)).json()
    assert overview["scoring"]["experts"][0] == {
        "expert": "E01",
        "scored_parts": ["ch1"],
        "parts_total": 4,
        "complete": False,
    }
    assert [(r["expert"], r["part"], r["source"], r["code"]) for r in overview["scoring"]["refused"]] == [
        ("E01", "ch1", "host", "not-scoring"),
        ("E07", "ch1", "host", "not-a-member"),
        ("E01", "ch9", "host", "unknown-part"),
        ("E01", "ch1", "host", "sheet-invalid"),
    ]  # fmt: skip
    # Review cannot start while sheets are missing.
    resp = await client.post(f"{base}/review", headers=host)
    detail = (await problem(resp, 409))["detail"]
    assert detail.startswith(
        "尚有评分未提交，不能进入偏离复核：专家 E01 缺 ch2、ch3、commercial；专家 E02 缺 ch1、ch2"
    )


async def test_seat_saves_are_judged_once_and_tied_to_the_booked_expert(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    bookings = await seed_bookings(database, seeded, clock())  # QJ-01 and QJ-02 confirmed
    host = await login(client, "km_operator")
    for expert, seat in (("E06", "QJ-01"), ("E07", "QJ-02")):
        resp = await client.post(
            f"/api/bookings/{bookings['qujing']}/seats/{seeded['seats'][seat]}/expert",
            json={"expert_id": seeded["experts"][expert]},
            headers=host,
        )
        assert resp.status == 204, await resp.text()
    sid = seeded["session"]
    base = f"/api/sessions/{sid}/evaluation"
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    await start(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    package = demo_package()

    async def submit(seat: str, key: str, sheet: dict[str, Any]) -> str:
        return await commit_score(
            database,
            seat_key=seat,
            idempotency_key=key,
            session_ref=str(sid),
            sheet=sheet,
            digest=key + "-digest",
            now=clock(),
        )

    e06 = make_save(package, shuffle, "E06", "ch2", _points())
    del e06["expert"]  # the booked seat says who sits there
    assert await submit(SeatKey.of("QJ", "QJ-01"), "k1", e06) == "committed"
    assert await submit(SeatKey.of("QJ", "QJ-01"), "k1", e06) == "replayed"
    forged = make_save(package, shuffle, "E07", "ch2", _points())
    assert await submit(SeatKey.of("QJ", "QJ-01"), "k2", forged) == "committed"
    assert await submit(SeatKey.of("DL", "DL-03"), "k3", e06) == "committed"
    assert await submit(SeatKey.of("QJ", "QJ-02"), "k4", {"part": 3}) == "committed"

    for _ in range(2):  # reading twice judges nothing twice
        overview = await (await client.get(base, headers=host)).json()
        scored = {e["expert"]: e["scored_parts"] for e in overview["scoring"]["experts"]}
        assert scored["E06"] == ["ch2"] and scored["E07"] == []
        refused = overview["scoring"]["refused"]
        assert [(r["expert"], r["source"], r["code"], r["problems"]) for r in refused] == [
            ("E06", "seat", "expert-mismatch",
             ["评分表署名专家 E07 与工位 QJ.QJ-01 安排的专家 E06 不一致"]),
            (None, "seat", "seat-not-seated", [f"工位 DL.DL-03 未安排评标会 #{sid} 的专家"]),
            ("E07", "seat", "invalid-sheet",
             ["缺少字段 part（评分的章节编号或 commercial）", "缺少字段 entries（评分项列表）"]),
        ]  # fmt: skip
    async with database.read() as s:
        count = (await s.execute(select(func.count(ScoreSaveRow.id)))).scalar_one()
    assert count == 4
