"""The evaluation's members follow the committee until the review starts: a replacement for a
recused member (增补专家) joins the committed shuffle without changing anyone else's view, and
the review starts with exactly the members who confirmed the integrity commitment. Each change
re-commits the same seed, on the audit chain, and the stored commitment still verifies.
(The seeded session has 7 experts: E01, E02 at the host, E03…E07 away; committee size 7.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from evaluation_hub.api.keys import SEALER
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Expert
from evaluation_hub.errors import ProblemError
from evaluation_hub.evaluation.context import seed_purpose
from evaluation_hub.evaluation.models import EvaluationPackageRow
from evaluation_hub.sessions import formation
from scoring.model import COMMERCIAL_PART
from scoring.shuffle import verify as verify_shuffle
from tests.conftest import FakeClock
from tests.evaluation.helpers import (
    Client,
    act,
    attach,
    demo_package,
    hub_shuffle,
    part_save,
    proxy,
    start,
)
from tests.hub.helpers import confirm_committee, confirm_members, login, problem
from tests.support.seed import seed_bookings

STAYING = ("E01", "E02", "E03", "E04", "E05", "E07")


async def _recommits(database: Database, sid: int) -> list[dict[str, Any]]:
    async with database.read() as s:
        rows = await s.execute(
            select(AuditEventRow.payload)
            .where(
                AuditEventRow.kind == "evaluation.members_recommitted",
                AuditEventRow.subject == f"session:{sid}",
            )
            .order_by(AuditEventRow.seq)
        )
        return [dict(p) for p in rows.scalars()]


async def _package(database: Database, sid: int) -> EvaluationPackageRow:
    async with database.read() as s:
        return (
            await s.execute(
                select(EvaluationPackageRow).where(EvaluationPackageRow.session_id == sid)
            )
        ).scalar_one()


async def _new_expert(database: Database, code: str, name: str) -> int:
    async with database.write() as s:
        expert = Expert(code=code, name=name, home_region="530300", employer="曲靖市交通设计院")
        s.add(expert)
        await s.flush()
        return expert.id


async def test_a_replacement_joins_the_committed_shuffle_before_the_start(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    bookings = await seed_bookings(database, seeded, clock())  # QJ-01 and QJ-02 confirmed
    host = await login(client, "km_operator")
    sid = seeded["session"]
    qj01 = seeded["seats"]["QJ-01"]
    seat_url = f"/api/bookings/{bookings['qujing']}/seats/{qj01}/expert"
    resp = await client.post(seat_url, json={"expert_id": seeded["experts"]["E06"]}, headers=host)
    assert resp.status == 204, await resp.text()
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    before = await hub_shuffle(client, database, sid)
    attached = (await _package(database, sid)).seed_commitment

    # E06 declares recusal at the seat; the seat is released.
    async with database.write() as s:
        await formation.decide(
            s, sid, "E06", "recused", "与投标人存在利害关系", actor="seat:QJ.QJ-01", host=None,
            now=clock(),
        )  # fmt: skip
    e08 = await _new_expert(database, "E08", "冯立新")
    e09 = await _new_expert(database, "E09", "陈玉兰")

    # The host draws a replacement: E08 takes E06's place in the evaluation.
    resp = await client.post(
        f"/api/sessions/{sid}/experts", json={"expert_id": e08, "placement": "away"}, headers=host
    )
    assert resp.status == 201, await resp.text()
    after = await hub_shuffle(client, database, sid)
    assert after.manifest.expert_ids == (*STAYING, "E08")
    # Nobody who stays sees anything different; the newcomer has a view of their own.
    for expert in STAYING:
        for chapter in after.manifest.chapter_ids:
            assert after.chapter(expert, chapter) == before.chapter(expert, chapter)
    assert [c.chapter_id for c in after.view("E08").chapters] == list(after.manifest.chapter_ids)
    stored = (await _package(database, sid)).seed_commitment
    assert stored != attached
    assert await _recommits(database, sid) == [
        {
            "why": "member_added",
            "experts": [*STAYING, "E08"],
            "left_out": ["E06"],
            "added": ["E08"],
            "seed_commitment": stored,
            "previous_commitment": attached,
        }
    ]

    # Seven serve again: the committee is full.
    resp = await client.post(f"/api/sessions/{sid}/experts", json={"expert_id": e09}, headers=host)
    assert (await problem(resp, 409))["detail"] == f"评标会 #{sid} 的评标委员会已满 7 人"

    # E08 takes the released seat, everyone confirms, and the review starts with the seven.
    resp = await client.post(seat_url, json={"expert_id": e08}, headers=host)
    assert resp.status == 204, await resp.text()
    view = await (await client.get(f"/api/sessions/{sid}/committee", headers=host)).json()
    seated = {m["code"]: m["seat"] for m in view["members"]}
    assert seated["E08"] == {"venue_name": "曲靖市公共资源交易中心", "label": "QJ-01"}
    assert seated["E06"] is None and seated["E01"] is None
    assert await confirm_committee(database, sid, clock()) == [*STAYING, "E08"]
    await act(client, host, sid, "start_evaluation")
    row = await _package(database, sid)
    assert row.manifest["experts"] == [*STAYING, "E08"]
    assert len(await _recommits(database, sid)) == 1  # the start changed nothing
    seed = client.app[SEALER].open(row.sealed_seed, seed_purpose(sid))
    verify_shuffle(seed, after.manifest, row.seed_commitment)

    # The newcomer scores like anyone else.
    points = {
        (b, i): "3"
        for b in ("b01", "b02", "b03", "b04", "b05")
        for i in ("1.1", "1.2", "2.1", "2.2", "3.1", "3.2")
    }
    save = proxy(part_save(demo_package(), after, "E08", "ch1", points))
    resp = await client.post(f"/api/sessions/{sid}/evaluation/scores", json=save, headers=host)
    assert resp.status == 201, await resp.text()

    # Once the review has started, nobody joins.
    resp = await client.post(f"/api/sessions/{sid}/experts", json={"expert_id": e09}, headers=host)
    assert (await problem(resp, 409))["detail"] == (
        "评标会当前状态为「评审中」，评审已开始，不能再增补专家；"
        "如评标委员会人数不足，请暂停并封存，重新组建评标委员会"
    )


async def test_the_review_starts_with_exactly_the_members_who_confirmed(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    host = await login(client, "km_operator")
    sid = seeded["session"]
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    attached = await hub_shuffle(client, database, sid)
    assert len(attached.manifest.expert_ids) == 7
    await confirm_members(database, sid, ("E01", "E02", "E03", "E04", "E05"), clock())

    await act(client, host, sid, "start_evaluation")  # five confirmed: lawful
    started = await hub_shuffle(client, database, sid)
    assert started.manifest.expert_ids == ("E01", "E02", "E03", "E04", "E05")
    [recommit] = await _recommits(database, sid)
    assert (recommit["why"], recommit["left_out"], recommit["added"]) == (
        "start_evaluation",
        ["E06", "E07"],
        [],
    )

    # Those who never confirmed are not members of the review: too late to confirm, and their
    # saves do not count.
    with pytest.raises(ProblemError) as late:
        await confirm_members(database, sid, ("E06",), clock())
    assert late.value.detail == "评标会当前状态为「评审中」，不能确认评标纪律承诺"
    points = {
        (b, i): "3"
        for b in ("b01", "b02", "b03", "b04", "b05")
        for i in ("1.1", "1.2", "2.1", "2.2", "3.1", "3.2")
    }
    save = proxy(part_save(demo_package(), attached, "E06", "ch1", points))
    resp = await client.post(f"/api/sessions/{sid}/evaluation/scores", json=save, headers=host)
    assert (await problem(resp, 422))["detail"] == (
        f"评分表未被接受（已记录，不计入）：专家 E06 不是评标会 #{sid} 的评标委员会成员，评分不予计入"
    )


MID = {"1.1": "7", "1.2": "3.5", "2.1": "6", "2.2": "5", "3.1": "4", "3.2": "3"}


async def test_a_recusal_during_the_review_takes_the_member_out_of_the_result(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    host = await login(client, "km_operator")
    sid = seeded["session"]
    evaluation = f"/api/sessions/{sid}/evaluation"
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    await start(client, host, sid)  # all seven confirm
    shuffle = await hub_shuffle(client, database, sid)
    committed = (await _package(database, sid)).seed_commitment

    async def recuse(code: str, seat: str, reason: str) -> None:
        async with database.write() as s:
            await formation.decide(
                s, sid, code, "recused", reason, actor=f"seat:{seat}", host=None, now=clock()
            )

    # E07 finds a conflict of interest half-way: nothing of theirs will count.
    await recuse("E07", "QJ.QJ-02", "评审中发现曾为投标人编制过施工方案")
    package = demo_package()
    points = {(b, i): v for b in ("b01", "b02", "b03", "b04", "b05") for i, v in MID.items()}
    points |= {(b, c): v for b in ("b01", "b02", "b03", "b04", "b05") for c, v in (("c1", "12"), ("c2", "5"))}  # fmt: skip
    for expert in ("E01", "E02", "E03", "E04", "E05", "E06"):
        for part in (*package.chapter_ids, COMMERCIAL_PART):
            save = proxy(part_save(package, shuffle, expert, part, points))
            resp = await client.post(f"{evaluation}/scores", json=save, headers=host)
            assert resp.status == 201, await resp.text()
    overview = await (await client.get(evaluation, headers=host)).json()
    assert overview["package"]["experts"] == ["E01", "E02", "E03", "E04", "E05", "E06"]
    assert overview["package"]["recused"] == ["E07"]
    assert [e["complete"] for e in overview["scoring"]["experts"]] == [True] * 6  # not E07

    resp = await client.post(f"{evaluation}/review", headers=host)
    assert resp.status == 201, await resp.text()
    # Six members are not a lawful committee: the result cannot be sealed.
    resp = await client.post(f"{evaluation}/seal", headers=host)
    assert (await problem(resp, 409))["detail"] == (
        "评标委员会组成不符合规定，不能封存评审结果：已确认成员 6 人，评标委员会应为 5 人以上单数"
    )
    # A second recusal leaves five: lawful again, and the result is theirs alone.
    await recuse("E06", "QJ.QJ-01", "评审中发现近亲属在投标人处任职")
    resp = await client.post(f"{evaluation}/seal", headers=host)
    assert resp.status == 200, await resp.text()
    resp = await client.post(f"{evaluation}/reveal", headers=host)
    assert resp.status == 200, await resp.text()
    result = (await resp.json())["result"]
    assert result["aggregation"]["experts"] == ["E01", "E02", "E03", "E04", "E05"]
    # The commitment published before the review still stands and verifies.
    row = await _package(database, sid)
    assert row.seed_commitment == committed
    seed = client.app[SEALER].open(row.sealed_seed, seed_purpose(sid))
    verify_shuffle(seed, shuffle.manifest, row.seed_commitment)
