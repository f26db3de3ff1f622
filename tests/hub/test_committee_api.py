"""Committee formation at check-in through the API: host members confirm or recuse through the
host, the evaluation starts only with a lawful committee of confirmed members, a recused
member loses their seat and their saves are refused, and the chair is elected by vote with a
further round among the tied. (The seeded session has 7 experts: E01, E02 at the host,
E03…E07 away.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import BookingSeat
from evaluation_hub.errors import ProblemError
from evaluation_hub.sessions import formation
from tests.conftest import FakeClock
from tests.evaluation.helpers import Client, act, attach, demo_package, hub_shuffle, proxy
from tests.evaluation.helpers import part_save as make_save
from tests.hub.helpers import confirm_members, login, problem
from tests.support.seed import seed_bookings


def _ballots(votes: dict[str, str]) -> list[dict[str, str]]:
    return [{"voter": v, "candidate": c} for v, c in votes.items()]


def _decision(sid: int, code: str) -> str:
    return f"/api/sessions/{sid}/committee/members/{code}/decision"


async def _start(client: Client, host: dict[str, str], sid: int) -> Any:
    return await client.post(
        f"/api/sessions/{sid}/actions", json={"action": "start_evaluation"}, headers=host
    )


async def _kinds(database: Database, sid: int) -> list[tuple[str, str, dict[str, Any]]]:
    async with database.read() as s:
        rows = (
            await s.execute(
                select(AuditEventRow)
                .where(AuditEventRow.kind.like("committee.%"))
                .where(AuditEventRow.subject == f"session:{sid}")
                .order_by(AuditEventRow.seq)
            )
        ).scalars()
        return [(r.kind, r.actor, r.payload) for r in rows]


async def test_the_evaluation_starts_only_with_a_lawful_committee(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    host = await login(client, "km_operator")
    sid = seeded["session"]
    await act(client, host, sid, "confirm_seats", "open_check_in")

    resp = await client.post(_decision(sid, "E01"), json={"decision": "confirmed"}, headers=host)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["code"], body["decision"], body["placement"]) == ("E01", "confirmed", "host")
    assert body["decided_at"] == clock().isoformat()

    resp = await client.post(_decision(sid, "E01"), json={"decision": "confirmed"}, headers=host)
    assert (await problem(resp, 409))["detail"] == "成员 E01 已确认，无需重复确认"
    resp = await client.post(_decision(sid, "E03"), json={"decision": "confirmed"}, headers=host)
    assert (await problem(resp, 409))["detail"] == (
        "专家 E03 在客场工位，须在本人工位确认承诺或声明回避"
    )
    resp = await client.post(_decision(sid, "E99"), json={"decision": "confirmed"}, headers=host)
    assert (await problem(resp, 404))["detail"] == f"专家 E99 不是评标会 #{sid} 的评标委员会成员"
    resp = await client.post(
        _decision(sid, "E02"), json={"decision": "recused", "reason": "  "}, headers=host
    )
    assert (await problem(resp, 422))["detail"] == "声明回避必须说明回避事由"
    resp = await client.post(_decision(sid, "E02"), json={"decision": "maybe"}, headers=host)
    assert resp.status == 422
    supervisor = await login(client, "km_supervisor")
    resp = await client.post(
        _decision(sid, "E02"), json={"decision": "confirmed"}, headers=supervisor
    )
    assert (await problem(resp, 403))["detail"] == (
        f"只有主场「云南省公共资源交易中心（昆明）」的业务人员可以办理评标会 #{sid} 的评标委员会组建，"
        "当前用户 km_supervisor（监督人员）无此权限"
    )

    # One confirmed member: too few.
    resp = await _start(client, host, sid)
    assert (await problem(resp, 409))["detail"] == (
        "评标委员会组成不符合规定，不能开始评审：已确认成员 1 人，评标委员会应为 5 人以上单数"
    )
    # Four: an even number is refused as well.
    resp = await client.post(_decision(sid, "E02"), json={"decision": "confirmed"}, headers=host)
    assert resp.status == 200, await resp.text()
    await confirm_members(database, sid, ("E03", "E04"), clock())
    view = await (await client.get(f"/api/sessions/{sid}/committee", headers=host)).json()
    assert (view["lawful"], view["confirmed"], view["experts_needed"]) == (False, 4, 1)
    assert view["problems"] == ["已确认成员 4 人，评标委员会应为 5 人以上单数"]
    resp = await _start(client, host, sid)
    assert (await problem(resp, 409))["detail"] == (
        "评标委员会组成不符合规定，不能开始评审：已确认成员 4 人，评标委员会应为 5 人以上单数"
    )
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "check_in"  # nothing moved

    # E05 recuses at their seat (the seat path of ``formation.decide``); E06 confirms: 5.
    async with database.write() as s:
        await formation.decide(
            s, sid, "E05", "recused", "与投标人存在利害关系", actor="seat:HH.HH-01", host=None,
            now=clock(),
        )  # fmt: skip
    await confirm_members(database, sid, ("E06",), clock())
    view = await (await client.get(f"/api/sessions/{sid}/committee", headers=host)).json()
    assert (view["lawful"], view["confirmed"], view["experts_needed"]) == (True, 5, 0)
    assert [(m["code"], m["decision"], m["reason"]) for m in view["members"]] == [
        ("E01", "confirmed", ""),
        ("E02", "confirmed", ""),
        ("E03", "confirmed", ""),
        ("E04", "confirmed", ""),
        ("E05", "recused", "与投标人存在利害关系"),
        ("E06", "confirmed", ""),
        ("E07", "pending", ""),
    ]
    resp = await _start(client, host, sid)
    assert resp.status == 200, await resp.text()
    # Confirmation belongs to check-in: too late once the evaluation has started.
    with pytest.raises(ProblemError) as late:
        await confirm_members(database, sid, ("E07",), clock())
    assert late.value.detail == "评标会当前状态为「评审中」，不能确认评标纪律承诺"
    kinds = await _kinds(database, sid)
    assert [k for k, _, _ in kinds] == [
        "committee.commitment_confirmed",
        "committee.commitment_confirmed",
        "committee.commitment_confirmed",
        "committee.commitment_confirmed",
        "committee.recusal_declared",
        "committee.commitment_confirmed",
    ]
    assert kinds[0] == (
        "committee.commitment_confirmed",
        "km_operator",
        {"expert": "E01", "reason": ""},
    )
    assert kinds[4] == (
        "committee.recusal_declared",
        "seat:HH.HH-01",
        {"expert": "E05", "reason": "与投标人存在利害关系"},
    )  # fmt: skip


async def test_a_committee_still_pending_cannot_start(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    """Nobody has confirmed yet: pending members are not counted, so there is no committee to
    start with; the start succeeds once five members (host and away) confirmed."""
    host = await login(client, "km_operator")
    sid = seeded["session"]
    await act(client, host, sid, "confirm_seats", "open_check_in")
    resp = await _start(client, host, sid)
    body = await problem(resp, 409)
    assert body["type"].endswith("/committee-unlawful")
    assert body["detail"] == (
        "评标委员会组成不符合规定，不能开始评审：已确认成员 0 人，评标委员会应为 5 人以上单数"
    )
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "check_in"
    assert await _kinds(database, sid) == []  # the refusal recorded no decision

    for code in ("E01", "E02"):  # host members, through the host
        resp = await client.post(_decision(sid, code), json={"decision": "confirmed"}, headers=host)
        assert resp.status == 200, await resp.text()
    await confirm_members(database, sid, ("E03", "E04", "E05"), clock())  # as their seats would
    view = await (await client.get(f"/api/sessions/{sid}/committee", headers=host)).json()
    assert (view["lawful"], view["confirmed"]) == (True, 5)
    resp = await _start(client, host, sid)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["state"] == "evaluating"


async def test_a_recused_member_loses_the_seat_and_cannot_score(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    bookings = await seed_bookings(database, seeded, clock())  # QJ-01 and QJ-02 confirmed
    host = await login(client, "km_operator")
    sid = seeded["session"]
    resp = await client.post(
        f"/api/bookings/{bookings['qujing']}/seats/{seeded['seats']['QJ-01']}/expert",
        json={"expert_id": seeded["experts"]["E06"]},
        headers=host,
    )
    assert resp.status == 204, await resp.text()
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    await confirm_members(database, sid, ("E01", "E02", "E03", "E04", "E05", "E06"), clock())
    async with database.write() as s:
        await formation.decide(
            s, sid, "E06", "recused", "曾任投标人技术顾问", actor="seat:QJ.QJ-01", host=None,
            now=clock(),
        )  # fmt: skip
    async with database.read() as s:
        held = (
            await s.execute(
                select(BookingSeat.expert_id).where(
                    BookingSeat.seat_id == seeded["seats"]["QJ-01"], BookingSeat.live.is_(True)
                )
            )
        ).scalar_one()
    assert held is None
    kinds = await _kinds(database, sid)
    assert kinds[-2:] == [
        ("committee.recusal_declared", "seat:QJ.QJ-01", {"expert": "E06", "reason": "曾任投标人技术顾问"}),
        ("committee.seat_released", "seat:QJ.QJ-01", {"expert": "E06", "seat_id": seeded["seats"]["QJ-01"]}),
    ]  # fmt: skip
    # A recused member cannot come back.
    with pytest.raises(ProblemError) as refused:
        await confirm_members(database, sid, ("E06",), clock())
    assert refused.value.detail == "成员 E06 已声明回避，不能继续参加本次评标"

    # The views as committed at attach; the start re-commits to the five confirmed members.
    shuffle = await hub_shuffle(client, database, sid)
    resp = await _start(client, host, sid)  # 5 confirmed experts remain: lawful
    assert resp.status == 200, await resp.text()
    assert list((await hub_shuffle(client, database, sid)).manifest.expert_ids) == [
        "E01", "E02", "E03", "E04", "E05",
    ]  # fmt: skip
    points = {
        (b, i): "3"
        for b in ("b01", "b02", "b03", "b04", "b05")
        for i in ("1.1", "1.2", "2.1", "2.2", "3.1", "3.2")
    }
    save = proxy(make_save(demo_package(), shuffle, "E06", "ch1", points))
    resp = await client.post(f"/api/sessions/{sid}/evaluation/scores", json=save, headers=host)
    assert (await problem(resp, 422))["detail"] == (
        f"评分表未被接受（已记录，不计入）：专家 E06 已声明回避，不能继续参加评标会 #{sid} 的评审"
    )
    save = proxy(make_save(demo_package(), shuffle, "E01", "ch1", points))
    resp = await client.post(f"/api/sessions/{sid}/evaluation/scores", json=save, headers=host)
    assert resp.status == 201, await resp.text()


async def test_the_chair_is_elected_with_a_further_round_among_the_tied(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    host = await login(client, "km_operator")
    sid = seeded["session"]
    url = f"/api/sessions/{sid}/committee/chair-votes"
    ballots = {"E01": "E01", "E02": "E01", "E03": "E03", "E04": "E03", "E05": "E05"}
    resp = await client.post(url, json={"ballots": _ballots(ballots)}, headers=host)
    assert (await problem(resp, 409))["detail"] == "评标会当前状态为「已排期」，不能推选主任委员"
    await act(client, host, sid, "confirm_seats", "open_check_in")
    resp = await client.post(url, json={"ballots": _ballots(ballots)}, headers=host)
    assert (await problem(resp, 409))["detail"] == (
        "尚无确认承诺的评标委员会成员，不能推选主任委员"
    )
    await confirm_members(database, sid, ("E01", "E02", "E03", "E04", "E05"), clock())

    resp = await client.post(
        url, json={"ballots": _ballots(ballots | {"E06": "E01"})}, headers=host
    )
    assert (await problem(resp, 422))["detail"] == "E06 不是评标委员会成员，不能投票"
    twice = [*_ballots(ballots), {"voter": "E01", "candidate": "E03"}]
    resp = await client.post(url, json={"ballots": twice}, headers=host)
    assert (await problem(resp, 422))["detail"] == "E01 在第 1 轮重复投票，每位成员每轮只能投一票"
    resp = await client.post(url, json={"ballots": []}, headers=host)
    assert (await problem(resp, 422))["errors"] == ["字段 ballots 至少需要 1 项"]
    resp = await client.post(url, json={"ballots": _ballots(ballots)}, headers=host)
    assert resp.status == 201, await resp.text()
    assert await resp.json() == {
        "round": 1,
        "votes": {"E01": 2, "E02": 0, "E03": 2, "E04": 0, "E05": 1},
        "chair": None,
        "tied": ["E01", "E03"],
    }
    view = await (await client.get(f"/api/sessions/{sid}/committee", headers=host)).json()
    assert (view["chair"], view["next_candidates"], view["rounds"]) == (
        None,
        ["E01", "E03"],
        [ballots],
    )

    second = {"E01": "E03", "E02": "E01", "E03": "E03", "E04": "E03", "E05": "E05"}
    resp = await client.post(url, json={"ballots": _ballots(second)}, headers=host)
    assert (await problem(resp, 422))[
        "detail"
    ] == "第 2 轮候选人为 E01、E03，E05 投给的 E05 不在其中"
    second["E05"] = "E01"
    resp = await client.post(url, json={"ballots": _ballots(second)}, headers=host)
    assert resp.status == 201, await resp.text()
    assert await resp.json() == {
        "round": 2,
        "votes": {"E01": 2, "E03": 3},
        "chair": "E03",
        "tied": [],
    }
    resp = await client.post(url, json={"ballots": _ballots(second)}, headers=host)
    assert (await problem(resp, 409))["detail"] == "已选出主任委员 E03，不再投票"
    view = await (await client.get(f"/api/sessions/{sid}/committee", headers=host)).json()
    assert view["chair"] == "E03" and view["next_candidates"] == []
    # Each round counted again from the stored ballots: the same answers as when recorded.
    assert view["round_results"] == [
        {"round": 1, "votes": {"E01": 2, "E02": 0, "E03": 2, "E04": 0, "E05": 1}, "chair": None, "tied": ["E01", "E03"]},
        {"round": 2, "votes": {"E01": 2, "E03": 3}, "chair": "E03", "tied": []},
    ]  # fmt: skip
    assert [m["code"] for m in view["members"] if m["is_chair"]] == ["E03"]
    kinds = await _kinds(database, sid)
    assert kinds[-2:] == [
        (
            "committee.chair_round_tied",
            "km_operator",
            {"round": 1, "votes": {"E01": 2, "E02": 0, "E03": 2, "E04": 0, "E05": 1}, "chair": None, "tied": ["E01", "E03"]},
        ),
        (
            "committee.chair_elected",
            "km_operator",
            {"round": 2, "votes": {"E01": 2, "E03": 3}, "chair": "E03", "tied": []},
        ),
    ]  # fmt: skip
    other = await login(client, "dl_admin")
    resp = await client.get(f"/api/sessions/{sid}/committee", headers=other)
    assert (await problem(resp, 403))["detail"] == f"评标会 #{sid} 不由本场地主办，无权查看"


async def test_a_recusal_restarts_an_election_without_a_chair_and_one_that_lost_its_chair(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    host = await login(client, "km_operator")
    sid = seeded["session"]
    url = f"/api/sessions/{sid}/committee/chair-votes"
    committee = f"/api/sessions/{sid}/committee"
    await act(client, host, sid, "confirm_seats", "open_check_in")
    await confirm_members(database, sid, ("E01", "E02", "E03", "E04", "E05", "E06"), clock())
    tied = {"E01": "E01", "E02": "E01", "E03": "E03", "E04": "E03", "E05": "E05", "E06": "E06"}
    resp = await client.post(url, json={"ballots": _ballots(tied)}, headers=host)
    assert (await resp.json())["tied"] == ["E01", "E03"]

    # E05 voted in round 1, then recuses: that round is void and all who remain are candidates.
    async with database.write() as s:
        await formation.decide(
            s, sid, "E05", "recused", "近亲属在投标人处任职", actor="seat:HH.HH-01", host=None,
            now=clock(),
        )  # fmt: skip
    resp = await client.get(committee, headers=host)
    assert resp.status == 200, await resp.text()
    view = await resp.json()
    assert (view["chair"], view["rounds"], view["next_candidates"]) == (
        None,
        [],
        ["E01", "E02", "E03", "E04", "E06"],
    )
    assert (await _kinds(database, sid))[-1] == (
        "committee.chair_election_restarted",
        "seat:HH.HH-01",
        {"recused": "E05", "rounds_voided": 1, "chair_recused": False},
    )
    first = {"E01": "E01", "E02": "E01", "E03": "E01", "E04": "E03", "E06": "E06"}
    resp = await client.post(url, json={"ballots": _ballots(first)}, headers=host)
    assert (await resp.json()) == {
        "round": 1,
        "votes": {"E01": 3, "E02": 0, "E03": 1, "E04": 0, "E06": 1},
        "chair": "E01",
        "tied": [],
    }

    # Somebody else recusing leaves the elected chair in place.
    async with database.write() as s:
        await formation.decide(
            s, sid, "E06", "recused", "曾参与本项目前期咨询", actor="seat:QJ.QJ-01", host=None,
            now=clock(),
        )  # fmt: skip
    view = await (await client.get(committee, headers=host)).json()
    assert (view["chair"], len(view["rounds"])) == ("E01", 1)
    # The history still counts E06's ballot and candidacy as they were.
    assert view["round_results"] == [
        {"round": 1, "votes": {"E01": 3, "E02": 0, "E03": 1, "E04": 0, "E06": 1}, "chair": "E01", "tied": []},
    ]  # fmt: skip

    # The chair recusing starts the election over among the four who remain.
    resp = await client.post(
        _decision(sid, "E01"), json={"decision": "recused", "reason": "发现与投标人存在利害关系"},
        headers=host,
    )  # fmt: skip
    assert resp.status == 200, await resp.text()
    view = await (await client.get(committee, headers=host)).json()
    assert (view["chair"], view["rounds"], view["next_candidates"]) == (
        None,
        [],
        ["E02", "E03", "E04"],
    )
    assert [m["code"] for m in view["members"] if m["is_chair"]] == []
    restarts = [k for k in await _kinds(database, sid) if k[0].endswith("election_restarted")]
    assert restarts[1:] == [
        (
            "committee.chair_election_restarted",
            "km_operator",
            {"recused": "E01", "rounds_voided": 1, "chair_recused": True},
        )
    ]
