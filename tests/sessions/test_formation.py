"""The stored committee formation (``sessions.formation``) against real databases: the
lawfulness check follows the configured rules, a recused member's review answers and
signatures are refused by the evaluation engine, and the elected chair is named in the report.
(The API side is in tests/hub/test_committee_api.py.)"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import pytest

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.db.engine import Database
from evaluation_hub.errors import ProblemError
from evaluation_hub.evaluation.models import ReviewRequestRow
from evaluation_hub.evaluation.report import render_report
from evaluation_hub.evaluation.review import answer_request
from evaluation_hub.evaluation.signatures import sign_report
from evaluation_hub.principal import Principal
from evaluation_hub.sessions import formation
from evaluation_hub.sessions.committee import CommitteeRules
from tests.conftest import FakeClock
from tests.evaluation.helpers import Client, act, attach
from tests.evaluation.test_report import _data
from tests.hub.helpers import confirm_members, login


async def _recuse(database: Database, sid: int, code: str, clock: FakeClock) -> None:
    async with database.write() as s:
        await formation.decide(
            s, sid, code, "recused", "近亲属在投标人处任职", actor="test", host=None, now=clock()
        )


async def test_the_lawfulness_check_follows_the_configured_rules(
    seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    sid = seeded["session"]
    async with database.read() as s:
        # Nobody has confirmed yet: pending members are not counted, so there is no committee.
        with pytest.raises(ProblemError) as refused:
            await formation.require_lawful_committee(s, sid)
        with pytest.raises(ProblemError):
            await formation.require_lawful_committee(s, sid, CommitteeRules(min_size=1))
    assert (refused.value.status, refused.value.code) == (409, "committee-unlawful")
    assert refused.value.detail == (
        "评标委员会组成不符合规定，不能开始评审：已确认成员 0 人，评标委员会应为 5 人以上单数"
    )
    await confirm_members(database, sid, ("E01", "E02", "E03"), clock())
    small = CommitteeRules(min_size=3)
    async with database.read() as s:
        await formation.require_lawful_committee(s, sid, small)
        with pytest.raises(ProblemError) as refused:
            await formation.require_lawful_committee(s, sid)
    assert (refused.value.status, refused.value.code) == (409, "committee-unlawful")
    assert refused.value.detail == (
        "评标委员会组成不符合规定，不能开始评审：已确认成员 3 人，评标委员会应为 5 人以上单数"
    )
    await _recuse(database, sid, "E03", clock)
    async with database.read() as s:
        with pytest.raises(ProblemError) as refused:
            await formation.require_lawful_committee(s, sid, small)
        # Without the parity rule two members would do, if two may sit.
        await formation.require_lawful_committee(
            s, sid, CommitteeRules(min_size=2, odd=False, min_expert_share=Fraction(1, 2))
        )
    assert refused.value.detail == (
        "评标委员会组成不符合规定，不能开始评审：已确认成员 2 人，评标委员会应为 3 人以上单数"
    )


async def test_a_recused_member_can_neither_answer_a_review_nor_sign(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    headers = await login(client, "km_operator")
    sid = seeded["session"]
    await act(client, headers, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, headers, sid)).status == 201
    await confirm_members(database, sid, ("E01", "E02", "E03", "E04", "E05"), clock())
    await _recuse(database, sid, "E06", clock)
    async with database.write() as s:
        request = ReviewRequestRow(
            session_id=sid,
            round=1,
            flag_key=f"deviation:ch1:b01:{sid}",
            reason="deviation",
            expert_code="E06",
            part_id="ch1",
            subject="A",
            item_id="1.1",
            message="评分偏离",
            spread={},
            requested_at=clock(),
        )
        s.add(request)
        await s.flush()
        request_id = request.id
    host = Principal("km_operator", "host_operator", seeded["venues"]["KM"])
    assert client.app is not None
    hub = client.app[SERVICES]
    message = f"专家 E06 已声明回避，不能继续参加评标会 #{sid} 的评审"
    with pytest.raises(ProblemError) as refused:
        await answer_request(hub, host, sid, request_id, "keep", "理由", now=clock())
    assert (refused.value.status, refused.value.detail) == (403, message)
    with pytest.raises(ProblemError) as refused:
        await sign_report(
            hub,
            host,
            sid,
            expert="E06",
            decision="agree",
            reason="",
            public_key=None,
            signature=None,
            now=clock(),
        )
    assert (refused.value.status, refused.value.detail) == (403, message)
    # A member who confirmed is still judged by the ordinary rules (here: not the time to
    # sign; the host may record only a refusal to sign, with its written reasons).
    with pytest.raises(ProblemError) as refused:
        await sign_report(
            hub,
            host,
            sid,
            expert="E05",
            decision="refuse",
            reason="对评分有异议",
            public_key=None,
            signature=None,
            now=clock(),
        )
    assert refused.value.code == "not-signing"


def test_the_report_names_the_elected_chair() -> None:
    data = _data()
    assert "主任委员" not in render_report(data)
    html = render_report(dataclasses.replace(data, chair="E3"))
    assert "<p>主任委员（经评标委员会推选）：E3 专家E3</p>" in html
