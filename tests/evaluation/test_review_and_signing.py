"""Review answers the rules allow, who may seal, and signatures bound to the seat's key."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evaluation_hub.db.engine import Database
from evaluation_hub.db.seat_terminals import SeatEnrolment
from scoring.model import COMMERCIAL_PART
from scoring.shuffle import StaggeredShuffle
from scoring.signing import sign, signature_document
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
BIDDERS = ("b01", "b02", "b03", "b04", "b05")


def _points(**changes: str) -> dict[tuple[str, str], str]:
    points = {(b, i): v for b in BIDDERS for i, v in MID.items()}
    for b in BIDDERS:
        points[b, "c1"], points[b, "c2"] = "12", "5"
    for key, value in changes.items():
        bidder, item = key.split("_")
        points[bidder, item] = value
    return points


async def _score_all(
    client: Client,
    host: dict[str, str],
    sid: int,
    shuffle: StaggeredShuffle,
    odd: dict[str, dict[tuple[str, str], str]] | None = None,
) -> None:
    package = demo_package()
    for expert in shuffle.manifest.expert_ids:
        points = (odd or {}).get(expert, _points())
        for part in (*package.chapter_ids, COMMERCIAL_PART):
            save = make_save(package, shuffle, expert, part, points)
            resp = await client.post(
                f"/api/sessions/{sid}/evaluation/scores", json=save, headers=host
            )
            assert resp.status == 201, await resp.text()


async def _started(client: Client, host: dict[str, str], sid: int) -> None:
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    resp = await client.post(
        f"/api/sessions/{sid}/evaluation/overrides",
        json={"bidder_id": "b03", "chapter_id": "ch2", "reason": "经监督人员确认放行"},
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    await start(client, host, sid)


async def test_an_objective_disagreement_must_be_rescored_not_explained(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    base = f"/api/sessions/{sid}/evaluation"
    await _started(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    await _score_all(client, host, sid, shuffle, {"E03": _points(b03_c2="6")})

    resp = await client.post(f"{base}/review", headers=host)
    assert resp.status == 201, await resp.text()
    created = (await resp.json())["created"]
    assert [(r["expert"], r["reason"], r["subject"], r["item"]) for r in created] == [
        (e, "objective_inconsistent", "b03", "c2") for e in ("E01", "E02", "E03", "E04", "E05")
    ]
    message = (
        "客观评分项 commercial c2 各专家评分不一致（专家 E01 在 b03 给 5、专家 E02 在 b03 给 5、"
        "专家 E03 在 b03 给 6、专家 E04 在 b03 给 5、专家 E05 在 b03 给 5），须核对后统一评分"
    )
    assert created[2]["message"] == message
    e03 = created[2]["id"]
    resp = await client.post(
        f"{base}/review-requests/{e03}/answer",
        json={"answer": "keep", "reason": "我认为是 A 级"},
        headers=host,
    )
    assert (await problem(resp, 409))["detail"] == (
        f"复核请求 #{e03} 属于计分错误、超出分值范围或客观评分项不一致，"
        "不能以书面说明保留原评分，须重新评分"
    )
    supervisor = await login(client, "km_supervisor")
    resp = await client.post(f"{base}/seal", headers=supervisor)
    assert (await problem(resp, 403))["detail"] == (
        f"只有主场「云南省公共资源交易中心（昆明）」的业务人员可以操作评标会 #{sid} 的评审，"
        "当前用户 km_supervisor（监督人员）无此权限"
    )
    resp = await client.post(f"{base}/seal", headers=host)
    body = await problem(resp, 409)
    assert body["open_flags"] == [message]

    # E03 re-scores the commercial part; a changed score needs a comment, which it has.
    clock.advance(minutes=2)
    save = make_save(demo_package(), shuffle, "E03", COMMERCIAL_PART, _points(), "核对信用评价")
    resp = await client.post(f"{base}/scores", json=save, headers=host)
    assert resp.status == 201, await resp.text()
    resp = await client.post(
        f"{base}/review-requests/{e03}/answer", json={"answer": "revise"}, headers=host
    )
    assert resp.status == 200, await resp.text()
    resp = await client.post(
        f"{base}/review-requests/{e03}/answer", json={"answer": "revise"}, headers=host
    )
    assert (await problem(resp, 409))["detail"] == f"复核请求 #{e03} 已答复，不能重复答复"
    # A further round finds nothing left to ask.
    resp = await client.post(f"{base}/review", headers=host)
    assert (await resp.json())["created"] == []
    resp = await client.post(f"{base}/seal", headers=host)
    assert resp.status == 200, await resp.text()
    # After the seal no save counts.
    resp = await client.post(f"{base}/scores", json=save, headers=host)
    assert (await problem(resp, 422))["detail"] == (
        "评分表未被接受（已记录，不计入）：评标会当前状态为「已封存」，不接受评分"
    )


async def test_a_paused_session_takes_no_scores(
    client: Client, seeded: dict[str, Any], database: Database
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    await _started(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    resp = await client.post(
        f"/api/sessions/{sid}/actions",
        json={"action": "pause", "reason": "大理分会场网络中断"},
        headers=host,
    )
    assert resp.status == 200, await resp.text()
    save = make_save(demo_package(), shuffle, "E01", "ch1", _points())
    resp = await client.post(f"/api/sessions/{sid}/evaluation/scores", json=save, headers=host)
    assert (await problem(resp, 422))["detail"] == (
        "评分表未被接受（已记录，不计入）：评标会当前状态为「已暂停」，不接受评分"
    )


async def test_a_signature_must_come_from_the_enrolled_seat_key(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    bookings = await seed_bookings(database, seeded, clock())
    host = await login(client, "km_operator")
    sid = seeded["session"]  # 7 experts
    resp = await client.post(
        f"/api/bookings/{bookings['qujing']}/seats/{seeded['seats']['QJ-01']}/expert",
        json={"expert_id": seeded["experts"]["E06"]},
        headers=host,
    )
    assert resp.status == 204, await resp.text()
    seat_key = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
    async with database.write() as s:
        s.add(
            SeatEnrolment(
                seat_key="QJ.QJ-01",
                seat_id=seeded["seats"]["QJ-01"],
                ed25519_public_key=seat_key.public_key().public_bytes_raw(),
                x25519_public_key=bytes(32),
                enrolment_code="123-456",
                status="approved",
                requested_at=clock(),
            )
        )
    await _started(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    await _score_all(client, host, sid, shuffle)
    base = f"/api/sessions/{sid}/evaluation"
    for step in ("review", "seal", "reveal"):
        resp = await client.post(f"{base}/{step}", headers=host)
        assert resp.status in (200, 201), await resp.text()
    result = (await (await client.get(f"{base}/result", headers=host)).json())["result"]
    # Everyone scored alike: every bidder has the same technical and commercial score, so the
    # price scores decide: b04 29.48 > b02 27.57 > b05 26.88 > b01 23.06 > b03 20.63.
    assert result["candidates"] == ["b04", "b02", "b05"]

    def body(key: Ed25519PrivateKey) -> dict[str, Any]:
        document = signature_document(str(sid), "E06", True, "", result)
        return {
            "expert": "E06",
            "decision": "agree",
            "public_key": key.public_key().public_bytes_raw().hex(),
            "signature": sign(key, document).hex(),
        }

    other = Ed25519PrivateKey.from_private_bytes(bytes([8]) * 32)
    resp = await client.post(f"{base}/signatures", json=body(other), headers=host)
    assert (await problem(resp, 403))["detail"] == (
        "签名公钥与专家 E06 所在工位登记的终端密钥不一致"
    )
    resp = await client.post(f"{base}/signatures", json=body(seat_key), headers=host)
    assert resp.status == 201, await resp.text()
    resp = await client.post(
        f"{base}/signatures",
        json={"expert": "E01", "decision": "refuse", "reason": "对价格分计算方法有异议"},
        headers=host,
    )
    assert resp.status == 201
    refused = await resp.json()
    assert (refused["decision"], refused["counted_as_agreement"], refused["reason"]) == (
        "refused",
        False,
        "对价格分计算方法有异议",
    )
    html = await (await client.get(f"{base}/report", headers=host)).text()
    assert "拒绝签字，书面说明了不同意见和理由" in html and "对价格分计算方法有异议" in html
    assert html.count("尚未签署") == 5
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "revealed"
