"""The chair election ballot by ballot (主任委员推选): each confirmed member votes from their seat
(``chair.cast_at_seat``, as the seat link hands it a ``chair_ballot``), the host types in the
ballots of members not at a seat with a reason (代录), and a round closes only when every
confirmed member has voted: then it is counted, and a tie opens a further round among the tied.
Stale, repeated and misdirected ballots are refused (or, repeated as they were, answered as
recorded); a recusal voids the election so far. (The seeded session: E01, E02 at the host,
E03…E07 away.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from evaluation_hub.errors import ProblemError
from evaluation_hub.principal import Principal
from evaluation_hub.sessions import chair, formation
from tests.conftest import FakeClock
from tests.evaluation.helpers import Client, act
from tests.hub.helpers import confirm_members, login
from tests.support.services import services_for

SEATS = {"E03": "DL.DL-01", "E04": "DL.DL-02", "E05": "HH.HH-01", "E06": "QJ.QJ-01"}


async def _refused(coro: Any) -> tuple[str, str]:
    with pytest.raises(ProblemError) as caught:
        await coro
    return caught.value.code, caught.value.detail


async def test_rounds_close_when_every_confirmed_member_has_voted(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    sid = seeded["session"]
    hub = services_for(database)
    host = Principal("km_operator", "host_operator", seeded["venues"]["KM"])
    committee = f"/api/sessions/{sid}/committee"
    headers = await login(client, "km_operator")

    def seat(code: str, round_no: int, candidate: str) -> Any:
        return chair.cast_at_seat(hub, SEATS[code], sid, code, round_no, candidate, now=clock())

    assert await _refused(seat("E03", 1, "E03")) == (
        "not-electing",
        "评标会当前状态为「已排期」，不能推选主任委员",
    )
    await act(client, headers, sid, "confirm_seats", "open_check_in")
    await confirm_members(database, sid, ("E01", "E02", "E03", "E04", "E05"), clock())

    first = await seat("E03", 1, "E01")
    assert (first.round, first.candidate, first.outcome, first.repeated) == (1, "E01", None, False)
    view = await (await client.get(committee, headers=headers)).json()
    # Who has voted shows at once; for whom only once the round closes.
    assert view["open_round"] == {
        "round": 1,
        "candidates": ["E01", "E02", "E03", "E04", "E05"],
        "voted": ["E03"],
        "waiting": ["E01", "E02", "E04", "E05"],
        "proxied": [],
    }
    assert (view["rounds"], view["round_results"]) == ([], [])

    # A seat repeating its ballot (a resend after a reconnection) is answered as recorded; a
    # different one is a second vote.
    repeat = await seat("E03", 1, "E01")
    assert (repeat.repeated, repeat.outcome) == (True, None)
    assert await _refused(seat("E03", 1, "E02")) == (
        "duplicate-ballot",
        "E03 在第 1 轮重复投票，每位成员每轮只能投一票",
    )
    assert await _refused(seat("E04", 2, "E01")) == (
        "round-closed",
        "当前为第 1 轮投票，第 2 轮的选票不能计入，请在第 1 轮候选人中重新投票",
    )
    assert await _refused(seat("E04", 1, "E07")) == (
        "not-a-candidate",
        "第 1 轮候选人为 E01、E02、E03、E04、E05，E04 投给的 E07 不在其中",
    )
    assert await _refused(seat("E06", 1, "E01")) == (
        "not-a-voter",
        "E06 不是评标委员会成员，不能投票",
    )

    # The host types in the ballots of the host members, who sit at no terminal, with why.
    typed = await chair.record_chair_round(
        hub,
        host,
        sid,
        [("E01", "E01"), ("E02", "E03")],
        reason="主场专家未使用评标终端",
        now=clock(),
    )
    assert (typed.closed, typed.waiting, typed.votes) == (False, ["E04", "E05"], {})
    assert typed.proxied == {"E01": "主场专家未使用评标终端", "E02": "主场专家未使用评标终端"}
    assert (await seat("E04", 1, "E03")).outcome is None
    closing = await seat("E05", 1, "E05")
    assert closing.outcome is not None
    assert (closing.outcome.votes, closing.outcome.chair, closing.outcome.tied) == (
        {"E01": 2, "E02": 0, "E03": 2, "E04": 0, "E05": 1},
        None,
        ["E01", "E03"],
    )

    # E06 confirms now: a voter of round 2 (not a candidate: the tied are).
    await confirm_members(database, sid, ("E06",), clock())
    view = await (await client.get(committee, headers=headers)).json()
    assert view["rounds"] == [
        {"E01": "E01", "E02": "E03", "E03": "E01", "E04": "E03", "E05": "E05"}
    ]
    assert view["round_results"][0]["proxied"] == {
        "E01": "主场专家未使用评标终端",
        "E02": "主场专家未使用评标终端",
    }
    assert view["open_round"] == {
        "round": 2,
        "candidates": ["E01", "E03"],
        "voted": [],
        "waiting": ["E01", "E02", "E03", "E04", "E05", "E06"],
        "proxied": [],
    }
    assert await _refused(seat("E06", 1, "E01")) == (
        "round-closed",
        "当前为第 2 轮投票，第 1 轮的选票不能计入，请在第 2 轮候选人中重新投票",
    )
    for code in ("E03", "E04", "E05"):
        await seat(code, 2, "E03")

    # A recusal before a chair is elected voids every round held, closed or open.
    async with database.write() as s:
        await formation.decide(
            s, sid, "E05", "recused", "近亲属在投标人处任职", actor="seat:HH.HH-01", host=None,
            now=clock(),
        )  # fmt: skip
    view = await (await client.get(committee, headers=headers)).json()
    assert (view["rounds"], view["open_round"]) == (
        [],
        {
            "round": 1,
            "candidates": ["E01", "E02", "E03", "E04", "E06"],
            "voted": [],
            "waiting": ["E01", "E02", "E03", "E04", "E06"],
            "proxied": [],
        },
    )
    await chair.record_chair_round(
        hub,
        host,
        sid,
        [("E01", "E04"), ("E02", "E04")],
        reason="主场专家未使用评标终端",
        now=clock(),
    )
    for code, candidate in (("E03", "E04"), ("E04", "E03")):
        await seat(code, 1, candidate)
    elected = await seat("E06", 1, "E04")
    assert elected.outcome is not None
    assert (elected.outcome.chair, elected.outcome.votes) == (
        "E04",
        {"E01": 0, "E02": 0, "E03": 1, "E04": 4, "E06": 0},
    )
    view = await (await client.get(committee, headers=headers)).json()
    assert (view["chair"], view["open_round"], view["next_candidates"]) == ("E04", None, [])
    assert [m["code"] for m in view["members"] if m["is_chair"]] == ["E04"]
    assert await _refused(seat("E03", 1, "E04")) == (
        "already-elected",
        "已选出主任委员 E04，不再投票",
    )

    # Every ballot is on the audit chain, with the seat (or the operator and the reason).
    async with database.read() as s:
        events = [e for e in await load_chain(s) if e.kind.startswith("committee.chair")]
    last = events[-6:]
    assert [(e.kind, e.actor, e.payload) for e in last] == [
        ("committee.chair_ballot", "km_operator", {"round": 1, "voter": "E01", "candidate": "E04", "reason": "主场专家未使用评标终端"}),
        ("committee.chair_ballot", "km_operator", {"round": 1, "voter": "E02", "candidate": "E04", "reason": "主场专家未使用评标终端"}),
        ("committee.chair_ballot", "seat:DL.DL-01", {"round": 1, "voter": "E03", "candidate": "E04", "reason": ""}),
        ("committee.chair_ballot", "seat:DL.DL-02", {"round": 1, "voter": "E04", "candidate": "E03", "reason": ""}),
        ("committee.chair_ballot", "seat:QJ.QJ-01", {"round": 1, "voter": "E06", "candidate": "E04", "reason": ""}),
        ("committee.chair_elected", "seat:QJ.QJ-01", {"round": 1, "votes": {"E01": 0, "E02": 0, "E03": 1, "E04": 4, "E06": 0}, "chair": "E04", "tied": []}),
    ]  # fmt: skip
    assert [e.kind for e in events].count("committee.chair_election_restarted") == 1


async def test_ballots_cast_at_once_close_the_round_once(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    """Five seats vote at the same moment: every ballot is recorded once, the round closes
    once, with the count of all five (the session's row lock serialises the ballots)."""
    sid = seeded["session"]
    hub = services_for(database)
    await act(client, await login(client, "km_operator"), sid, "confirm_seats", "open_check_in")
    voters = ("E03", "E04", "E05", "E06", "E07")
    await confirm_members(database, sid, voters, clock())
    seats = {**SEATS, "E07": "QJ.QJ-02"}
    cast = await asyncio.gather(
        *(chair.cast_at_seat(hub, seats[code], sid, code, 1, "E05", now=clock()) for code in voters)
    )
    closings = [c.outcome for c in cast if c.outcome is not None]
    assert len(closings) == 1
    assert (closings[0].chair, closings[0].votes) == (
        "E05",
        {"E03": 0, "E04": 0, "E05": 5, "E06": 0, "E07": 0},
    )
    async with database.read() as s:
        kinds = [e.kind for e in await load_chain(s) if e.kind.startswith("committee.chair")]
        election = await chair.load_election(s, sid)
    assert kinds.count("committee.chair_ballot") == 5
    assert kinds.count("committee.chair_elected") == 1
    assert (election.chair, len(election.closed), election.open) == ("E05", 1, None)
