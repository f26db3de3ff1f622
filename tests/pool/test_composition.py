"""The committee's composition follows the procurement type and the configuration: odd, at
least 5, experts at least two thirds, 7 or more for government procurement from 10 million
yuan; a purchaser's representative is recorded outside the pool, counts as a member but not as
an expert, and may not be elected chair under government procurement (the configured rule)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from evaluation_hub.api.keys import CLOCK, DB
from evaluation_hub.sessions import committee as rules
from evaluation_hub.sessions.errors import SessionRuleError
from tests.evaluation.helpers import act
from tests.hub.helpers import confirm_committee, login, problem

Client = TestClient[Any, Any]
BASE = rules.CommitteeRules()
COMPOSITION = rules.CompositionRules()


@pytest.mark.parametrize(
    ("kind", "budget", "least"),
    [
        ("engineering", None, 5),
        ("engineering", Decimal("50000000"), 5),
        ("government", None, 5),
        ("government", Decimal("9999999.99"), 5),
        ("government", Decimal("10000000"), 7),
    ],
    ids=["eng", "eng-large", "gov-no-budget", "gov-below", "gov-large"],
)
def test_the_least_size_by_type_and_budget(kind: str, budget: Decimal | None, least: int) -> None:
    assert rules.rules_for(BASE, COMPOSITION, kind, budget).min_size == least


@pytest.mark.parametrize(
    ("size", "representatives", "message"),
    [
        (5, 1, None),
        (7, 2, None),
        (6, 0, "评标委员会人数必须为 5 人以上的单数，当前为 6 人"),
        (5, 2, "评标委员会 5 人中专家 3 人，不足成员总数的 2/3"),
        (7, 3, "评标委员会 7 人中专家 4 人，不足成员总数的 2/3"),
        (5, 6, "采购人代表人数须在 0 至 5 人之间"),
    ],
)
def test_the_planned_composition(size: int, representatives: int, message: str | None) -> None:
    if message is None:
        rules.check_plan(size, representatives, BASE)
        return
    with pytest.raises(SessionRuleError) as caught:
        rules.check_plan(size, representatives, BASE)
    assert caught.value.detail == message


def test_who_may_chair_and_how_members_are_named() -> None:
    assert rules.may_chair("tenderer_representative", "engineering", COMPOSITION)
    assert not rules.may_chair("tenderer_representative", "government", COMPOSITION)
    assert rules.may_chair("expert", "government", COMPOSITION)
    assert rules.member_titles("government") == {
        "expert": "专家",
        "tenderer_representative": "采购人代表",
    }
    assert rules.member_titles("engineering")["tenderer_representative"] == "招标人代表"
    lenient = rules.CompositionRules(representatives_may_chair_government=True)
    assert rules.may_chair("tenderer_representative", "government", lenient)
    two = rules.Committee(
        (
            rules.Member("E1", "expert", "confirmed"),
            rules.Member("R1", "tenderer_representative", "confirmed"),
        )
    )
    assert rules.assess(two, rules.CommitteeRules(min_size=1, odd=False)).experts == 1
    assert rules.CommitteeRules().min_expert_share == Fraction(2, 3)


def session_body(**extra: Any) -> dict[str, Any]:
    return {
        "project_code": "YNZC-2026-0099",
        "project_name": "昆明市政务云扩容采购",
        "section": "第 1 包",
        "starts_at": "2026-12-01T09:00:00+08:00",
        "ends_at": "2026-12-01T17:30:00+08:00",
        **extra,
    }


async def test_a_government_session_with_representatives(
    client: Client, seeded: dict[str, Any]
) -> None:
    host = await login(client, "km_operator")
    resp = await client.post(
        "/api/sessions",
        json=session_body(committee_size=5, procurement_type="government", budget=12000000),
        headers=host,
    )
    assert (await problem(resp, 422))[
        "detail"
    ] == "评标委员会人数必须为 7 人以上的单数，当前为 5 人"
    resp = await client.post(
        "/api/sessions",
        json=session_body(
            committee_size=7, procurement_type="government", budget=12000000, representatives=3
        ),
        headers=host,
    )
    assert (await problem(resp, 422))["detail"] == "评标委员会 7 人中专家 4 人，不足成员总数的 2/3"
    resp = await client.post(
        "/api/sessions",
        json=session_body(
            committee_size=5, procurement_type="government", budget=800000, representatives=1
        ),
        headers=host,
    )
    created = await resp.json()
    assert resp.status == 201, created
    assert (
        created["procurement_type"],
        created["procurement_type_name"],
        created["budget"],
        created["representatives"],
    ) == (
        "government",
        "政府采购",
        "800000.00",
        1,
    )
    sid = created["id"]
    url = f"/api/sessions/{sid}/representatives"
    resp = await client.post(
        url, json={"code": "R01", "name": "马丽", "employer": "昆明市政务服务管理局"}, headers=host
    )
    assert resp.status == 201, await resp.text()
    resp = await client.post(
        url, json={"code": "R02", "name": "何伟", "employer": "昆明市政务服务管理局"}, headers=host
    )
    assert (await problem(resp, 409))["detail"] == f"评标会 #{sid} 计划采购人代表 1 人，已登记 1 人"
    resp = await client.post(
        url, json={"code": "E01", "name": "赵建国", "employer": "x"}, headers=host
    )
    assert (await problem(resp, 409))[
        "detail"
    ] == "编号 E01 已是专家库中的专家，不能登记为采购人代表"
    for n, code in enumerate(("E01", "E02", "E03", "E04")):
        resp = await client.post(
            f"/api/sessions/{sid}/experts",
            json={"expert_id": seeded["experts"][code], "placement": "host" if n < 2 else "away"},
            headers=host,
        )
        assert resp.status == 201, await resp.text()
    # The pool lists experts only, never the representative.
    pool = await (await client.get("/api/experts", headers=host)).json()
    assert "R01" not in [e["code"] for e in pool]
    assert client.app is not None
    await act(client, host, sid, "confirm_seats", "open_check_in")
    await confirm_committee(client.app[DB], sid, client.app[CLOCK]())
    committee = await (await client.get(f"/api/sessions/{sid}/committee", headers=host)).json()
    assert [(m["code"], m["kind"], m["title"]) for m in committee["members"]] == [
        ("R01", "tenderer_representative", "采购人代表"),
        ("E01", "expert", "专家"),
        ("E02", "expert", "专家"),
        ("E03", "expert", "专家"),
        ("E04", "expert", "专家"),
    ]
    assert (committee["lawful"], committee["confirmed"], committee["experts"]) == (True, 5, 4)
    # Government procurement: the representative is no candidate for the chair.
    assert committee["open_round"]["candidates"] == ["E01", "E02", "E03", "E04"]
    resp = await client.post(
        f"/api/sessions/{sid}/committee/chair-votes",
        json={
            "ballots": [{"voter": "R01", "candidate": "R01"}],
            "reason": "代表未在工位，主场代录",
        },
        headers=host,
    )
    assert (await problem(resp, 422))[
        "detail"
    ] == "第 1 轮候选人为 E01、E02、E03、E04，R01 投给的 R01 不在其中"
