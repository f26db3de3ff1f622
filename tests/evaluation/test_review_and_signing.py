"""Review answers the rules allow, an objective disagreement that settles itself once the values
agree, who may seal, and signatures that only the seat where the expert is checked in makes."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from evaluation_hub.seats import expert_requests
from scoring.model import COMMERCIAL_PART
from scoring.shuffle import StaggeredShuffle
from scoring.signing import sign, signature_document
from seat_protocol.messages import ReportSignature, RequestResult
from tests.conftest import FakeClock
from tests.evaluation.helpers import (
    FIVE,
    PROXY_REASON,
    Client,
    act,
    attach,
    check_in_at_seat,
    demo_package,
    enrol_seat,
    hub_shuffle,
    new_session,
    proxy,
    seat_save,
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
    skip: tuple[str, ...] = (),
) -> None:
    """Every member's saves entered at the host (代录), but those in ``skip``."""
    package = demo_package()
    for expert in shuffle.manifest.expert_ids:
        if expert in skip:
            continue
        points = (odd or {}).get(expert, _points())
        for part in (*package.chapter_ids, COMMERCIAL_PART):
            save = proxy(make_save(package, shuffle, expert, part, points))
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


async def test_an_objective_disagreement_settles_itself_once_the_values_agree(
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
    # Four members gave 5, E03 gave 6: E03 is asked, the four are told (not asked).
    assert [
        (r["expert"], r["reason"], r["subject"], r["item"], r["informational"]) for r in created
    ] == [
        ("E01", "objective_inconsistent", "b03", "c2", True),
        ("E02", "objective_inconsistent", "b03", "c2", True),
        ("E03", "objective_inconsistent", "b03", "c2", False),
        ("E04", "objective_inconsistent", "b03", "c2", True),
        ("E05", "objective_inconsistent", "b03", "c2", True),
    ]
    # The member asked sees the others anonymously, never who gave what.
    message = (
        "客观评分项 commercial c2 各专家评分不一致：您在 b03 给 6，多数专家给 5，须核对后统一评分"
    )
    assert created[2]["message"] == message
    assert created[0]["message"] == (
        "客观评分项 commercial c2 各专家评分不一致；您的评分 5 与多数专家一致，无需答复。"
        "其他专家核对后，本通知将自动关闭"
    )
    e01, e03 = created[0]["id"], created[2]["id"]
    resp = await client.post(
        f"{base}/review-requests/{e03}/answer",
        json={"answer": "keep", "reason": "我认为是 A 级"},
        headers=host,
    )
    assert (await problem(resp, 409))["detail"] == (
        f"复核请求 #{e03} 属于计分错误、超出分值范围或客观评分项不一致，"
        "不能以书面说明保留原评分，须重新评分"
    )
    resp = await client.post(
        f"{base}/review-requests/{e01}/answer", json={"answer": "revise"}, headers=host
    )
    assert (await problem(resp, 409))["detail"] == (
        f"复核通知 #{e01} 仅供知悉，无需答复；其他专家核对后将自动关闭"
    )
    supervisor = await login(client, "km_supervisor")
    resp = await client.post(f"{base}/seal", headers=supervisor)
    assert (await problem(resp, 403))["detail"] == (
        f"只有主场「云南省公共资源交易中心（昆明）」的业务人员可以操作评标会 #{sid} 的评审，"
        "当前用户 km_supervisor（监督人员）无此权限"
    )
    resp = await client.post(f"{base}/seal", headers=host)
    body = await problem(resp, 409)
    # The host's refusal names each member's value: the host runs the review.
    assert body["open_flags"] == [
        "客观评分项 commercial c2 各专家评分不一致（专家 E01 在 b03 给 5、专家 E02 在 b03 给 5、"
        "专家 E03 在 b03 给 6、专家 E04 在 b03 给 5、专家 E05 在 b03 给 5），须核对后统一评分"
    ]

    # E03 re-scores the commercial part to the value the others gave: every request and
    # notice about the item closes itself, with the values, in the same unit of work.
    clock.advance(minutes=2)
    save = make_save(demo_package(), shuffle, "E03", COMMERCIAL_PART, _points(), "核对信用评价")
    resp = await client.post(f"{base}/scores", json=proxy(save), headers=host)
    assert resp.status == 201, await resp.text()
    overview = await (await client.get(base, headers=host)).json()
    requests = overview["review"]["requests"]
    assert [(r["expert"], r["answer"], r["answered_by"]) for r in requests] == [
        (e, "settled", "hub") for e in FIVE
    ]
    agreed = dict.fromkeys(FIVE, "5")
    assert all(r["settled_values"] == agreed for r in requests)
    assert requests[2]["answer_reason"] == "各专家评分已一致（5），复核自动关闭"
    async with database.read() as s:
        settled = (
            (
                await s.execute(
                    select(AuditEventRow.payload).where(
                        AuditEventRow.kind == "evaluation.review_settled"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert settled == [
        {
            "requests": [r["id"] for r in created],
            "part": "commercial",
            "item": "c2",
            "values": agreed,
        }
    ]
    resp = await client.post(
        f"{base}/review-requests/{e03}/answer", json={"answer": "revise"}, headers=host
    )
    assert (await problem(resp, 409))["detail"] == (
        f"复核请求 #{e03} 已因各专家评分一致而自动关闭，无需答复"
    )
    # A further round finds nothing left to ask.
    resp = await client.post(f"{base}/review", headers=host)
    assert (await resp.json())["created"] == []
    resp = await client.post(f"{base}/seal", headers=host)
    assert resp.status == 200, await resp.text()
    # After the seal no save counts.
    resp = await client.post(f"{base}/scores", json=proxy(save), headers=host)
    assert (await problem(resp, 422))["detail"] == (
        "评分表未被接受（已记录，不计入）：评标会当前状态为「已封存」，不接受评分"
    )


async def test_without_a_value_most_members_gave_everyone_is_asked(
    client: Client, seeded: dict[str, Any], database: Database
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    await _started(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    # c1 for b02: 12, 12, 16, 16, 20: two values have two members each, none has the most.
    await _score_all(
        client,
        host,
        sid,
        shuffle,
        {
            "E03": _points(b02_c1="16"),
            "E04": _points(b02_c1="16"),
            "E05": _points(b02_c1="20"),
        },
    )
    resp = await client.post(f"/api/sessions/{sid}/evaluation/review", headers=host)
    created = (await resp.json())["created"]
    assert [(r["expert"], r["item"], r["informational"]) for r in created] == [
        (e, "c1", False) for e in FIVE
    ]


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
    resp = await client.post(
        f"/api/sessions/{sid}/evaluation/scores", json=proxy(save), headers=host
    )
    assert (await problem(resp, 422))["detail"] == (
        "评分表未被接受（已记录，不计入）：评标会当前状态为「已暂停」，不接受评分"
    )


async def test_a_signature_must_come_from_the_seat_where_the_expert_is_checked_in(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    bookings = await seed_bookings(database, seeded, clock())
    host = await login(client, "km_operator")
    sid = seeded["session"]  # 7 experts
    for expert, seat in (("E06", "QJ-01"), ("E07", "QJ-02")):
        resp = await client.post(
            f"/api/bookings/{bookings['qujing']}/seats/{seeded['seats'][seat]}/expert",
            json={"expert_id": seeded["experts"][expert]},
            headers=host,
        )
        assert resp.status == 204, await resp.text()
    qj01 = await enrol_seat(database, seeded, "QJ.QJ-01", clock())
    qj02 = await enrol_seat(database, seeded, "QJ.QJ-02", clock())
    await act(client, host, sid, "confirm_seats", "open_check_in")
    host = await check_in_at_seat(client, seeded, clock, sid, "QJ-01", "E06")
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
    # E06 scores from its seat (checked in there); the others are entered at the host (代录).
    for part in (*package.chapter_ids, COMMERCIAL_PART):
        sheet = make_save(package, shuffle, "E06", part, _points())
        del sheet["expert"]
        assert (await seat_save(client, "QJ.QJ-01", f"e06-{part}", str(sid), sheet)).accepted
    await _score_all(client, host, sid, shuffle, skip=("E06",))
    base = f"/api/sessions/{sid}/evaluation"
    for step in ("review", "seal", "reveal"):
        resp = await client.post(f"{base}/{step}", headers=host)
        assert resp.status in (200, 201), await resp.text()
    result = (await (await client.get(f"{base}/result", headers=host)).json())["result"]
    # Everyone scored alike: every bidder has the same technical and commercial score, so the
    # price scores decide: b04 29.48 > b02 27.57 > b05 26.88 > b01 23.06 > b03 20.63.
    assert result["candidates"] == ["b04", "b02", "b05"]

    def message(key: Ed25519PrivateKey, reason: str = "") -> ReportSignature:
        document = signature_document(str(sid), "E06", not reason, reason, result)
        return ReportSignature(
            session_id=str(sid),
            decision="disagree" if reason else "agree",
            reason=reason,
            public_key=key.public_key().public_bytes_raw().hex(),
            signature=sign(key, document).hex(),
        )

    def body(key: Ed25519PrivateKey, expert: str = "E06") -> dict[str, Any]:
        signed = message(key)
        return {
            "expert": expert,
            "decision": "agree",
            "public_key": signed.public_key,
            "signature": signed.signature,
        }

    services = client.app[SERVICES]  # type: ignore[union-attr]

    async def at_seat(seat: str, msg: ReportSignature) -> RequestResult:
        [answer] = await expert_requests.sign_report(services, seat, msg, now=clock())
        assert isinstance(answer, RequestResult)
        return answer

    # The host signs for nobody, not even with the seat's own key.
    resp = await client.post(f"{base}/signatures", json=body(qj01), headers=host)
    assert (await problem(resp, 403))["detail"] == (
        "评标报告须由专家本人在其签到的工位终端签署（以该工位的终端密钥签名），主场不能代为签署"
    )
    resp = await client.post(f"{base}/signatures", json=body(qj02, "E07"), headers=host)
    await problem(resp, 403)
    # From the seat: another key (even another enrolled seat's) is refused.
    refused = await at_seat("QJ.QJ-01", message(qj02))
    assert (refused.accepted, refused.code, refused.message) == (
        False,
        "key-mismatch",
        "签名公钥与专家 E06 所在工位登记的终端密钥不一致",
    )
    other = Ed25519PrivateKey.from_private_bytes(bytes([8]) * 32)
    assert (await at_seat("QJ.QJ-01", message(other))).code == "key-mismatch"
    # A seat signs only for the expert seated there: E06's document from QJ-02 is taken as
    # E07's signature, which it is not.
    refused = await at_seat("QJ.QJ-02", message(qj02))
    assert (refused.code, refused.message) == (
        "signature-invalid",
        "专家 E07 的签名与评标结果不符：不是该公钥对本评标结果和所填意见的签名",
    )
    # A refusal to sign is recorded at the host only with written reasons, and never for an
    # expert checked in at a seat.
    resp = await client.post(
        f"{base}/signatures", json={"expert": "E01", "decision": "refuse"}, headers=host
    )
    assert (await problem(resp, 422))["detail"] == (
        "记录专家拒绝签字须附其书面说明的不同意见和理由；未说明理由的拒签视为同意，不能由主场代为记录"
    )
    resp = await client.post(
        f"{base}/signatures",
        json={"expert": "E06", "decision": "refuse", "reason": "有异议"},
        headers=host,
    )
    assert (await problem(resp, 403))["detail"] == (
        "专家 E06 已在工位 QJ.QJ-01 签到，签署或拒签须由该工位提交，主场不能代为记录"
    )
    accepted = await at_seat("QJ.QJ-01", message(qj01))
    assert (accepted.accepted, accepted.code) == (True, "signed")
    resp = await client.post(
        f"{base}/signatures",
        json={"expert": "E01", "decision": "refuse", "reason": "对价格分计算方法有异议"},
        headers=host,
    )
    assert resp.status == 201
    refusal = await resp.json()
    assert (refusal["decision"], refusal["counted_as_agreement"], refusal["reason"]) == (
        "refused",
        False,
        "对价格分计算方法有异议",
    )
    html = await (await client.get(f"{base}/report", headers=host)).text()
    assert "拒绝签字，书面说明了不同意见和理由" in html and "对价格分计算方法有异议" in html
    assert html.count("尚未签署") == 5
    # Every member but E06 was entered at the host: the report shows each 代录 with its reason.
    assert html.count(f"<td>{PROXY_REASON}</td>") == 6 * 4
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "revealed"
