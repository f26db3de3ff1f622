"""Score collection: saves entered at the host (代录) and from seats (``submitted_scores``), each
judged in the unit of work that stores it; refusals recorded with their reason and never
counted; the host may enter a save only for an expert who is not checked in at a seat, and
only with a written reason. (That the latest accepted save per expert and part is the one that
counts is shown end to end in test_end_to_end.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from evaluation_hub.db.seat_terminals import SubmittedScore
from evaluation_hub.evaluation.models import ScoreSaveRow
from evaluation_hub.seats.scores import ScoreCommit
from tests.conftest import FakeClock
from tests.evaluation.helpers import (
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


def _points() -> dict[tuple[str, str], str]:
    points = {(b, i): v for b in ("b01", "b02", "b03", "b04", "b05") for i, v in MID.items()}
    for b in ("b01", "b02", "b03", "b04", "b05"):
        points[b, "c1"], points[b, "c2"] = "12", "5"
    return points


async def _counts(database: Database) -> tuple[int, int, int]:
    async with database.read() as s:
        return (
            (await s.execute(select(func.count(ScoreSaveRow.id)))).scalar_one(),
            (await s.execute(select(func.count(SubmittedScore.id)))).scalar_one(),
            (await s.execute(select(func.count(AuditEventRow.seq)))).scalar_one(),
        )


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
    save = proxy(make_save(package, shuffle, "E01", "ch1", _points()))

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
    # Without a written reason the host enters nothing (and nothing is recorded).
    before = await _counts(database)
    for reason in (None, "", "   "):
        unreasoned = {k: v for k, v in save.items() if k != "reason"}
        if reason is not None:
            unreasoned["reason"] = reason
        resp = await client.post(f"{base}/scores", json=unreasoned, headers=host)
        body = await problem(resp, 422)
        assert (body["type"].rsplit("/", 1)[1], body["detail"]) == (
            "proxy-reason-required",
            "主场代录评分须书面说明代录理由（如专家所在工位终端故障）",
        )
    assert await _counts(database) == before
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
    assert await resp.json() == {
        "save_id": 5,
        "accepted": True,
        "expert": "E01",
        "part": "ch1",
        "proxy": True,
        "proxy_reason": PROXY_REASON,
    }
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
    # Every host entry is on the board as 代录 with its reason, refused ones too.
    assert [
        (p["expert"], p["part"], p["label"], p["accepted"], p["reason"], p["recorded_by"])
        for p in overview["scoring"]["proxy_saves"]
    ] == [
        ("E01", "ch1", "代录", False, PROXY_REASON, "km_operator"),
        ("E07", "ch1", "代录", False, PROXY_REASON, "km_operator"),
        ("E01", "ch9", "代录", False, PROXY_REASON, "km_operator"),
        ("E01", "ch1", "代录", False, PROXY_REASON, "km_operator"),
        ("E01", "ch1", "代录", True, PROXY_REASON, "km_operator"),
    ]
    async with database.read() as s:
        payload = (
            (
                await s.execute(
                    select(AuditEventRow.payload)
                    .where(AuditEventRow.kind == "evaluation.score_saved")
                    .order_by(AuditEventRow.seq.desc())
                )
            )
            .scalars()
            .first()
        )
    assert payload is not None and payload["proxy_reason"] == PROXY_REASON
    # Review cannot start while sheets are missing.
    resp = await client.post(f"{base}/review", headers=host)
    detail = (await problem(resp, 409))["detail"]
    assert detail.startswith(
        "尚有评分未提交，不能进入偏离复核：专家 E01 缺 ch2、ch3、commercial；专家 E02 缺 ch1、ch2"
    )


async def test_the_host_enters_nothing_for_an_expert_checked_in_at_a_seat(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    bookings = await seed_bookings(database, seeded, clock())  # QJ-01 and QJ-02 confirmed
    host = await login(client, "km_operator")
    sid = seeded["session"]
    for expert, seat in (("E06", "QJ-01"), ("E07", "QJ-02")):
        resp = await client.post(
            f"/api/bookings/{bookings['qujing']}/seats/{seeded['seats'][seat]}/expert",
            json={"expert_id": seeded["experts"][expert]},
            headers=host,
        )
        assert resp.status == 204, await resp.text()
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    host = await check_in_at_seat(client, seeded, clock, sid, "QJ-01", "E06")
    await start(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    package = demo_package()
    base = f"/api/sessions/{sid}/evaluation"

    before = await _counts(database)
    e06 = proxy(make_save(package, shuffle, "E06", "ch1", _points()))
    resp = await client.post(f"{base}/scores", json=e06, headers=host)
    body = await problem(resp, 403)
    assert (body["type"].rsplit("/", 1)[1], body["detail"]) == (
        "expert-at-seat",
        "专家 E06 已在工位 QJ.QJ-01 签到，评分须由该工位提交，主场不能代录",
    )
    assert await _counts(database) == before  # refused, and nothing recorded
    # E07 is seated at QJ-02 but not checked in there: the host may enter (with the reason).
    e07 = proxy(make_save(package, shuffle, "E07", "ch1", _points()))
    resp = await client.post(f"{base}/scores", json=e07, headers=host)
    assert resp.status == 201, await resp.text()
    overview = await (await client.get(base, headers=host)).json()
    assert [(p["expert"], p["reason"]) for p in overview["scoring"]["proxy_saves"]] == [
        ("E07", PROXY_REASON)
    ]


async def test_seat_saves_are_judged_when_stored_and_tied_to_the_booked_expert(
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
    for seat in ("QJ.QJ-01", "QJ.QJ-02", "DL.DL-03"):
        await enrol_seat(database, seeded, seat, clock())
    sid = seeded["session"]
    base = f"/api/sessions/{sid}/evaluation"
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    await start(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    package = demo_package()
    ref = str(sid)

    e06 = make_save(package, shuffle, "E06", "ch2", _points())
    del e06["expert"]  # the booked seat says who sits there
    stored = ScoreCommit("committed", True, "accepted", "评分已保存，主场校验通过")
    assert await seat_save(client, "QJ.QJ-01", "k1", ref, e06) == stored
    assert await seat_save(client, "QJ.QJ-01", "k1", ref, e06) == ScoreCommit(
        "replayed", True, "accepted", "评分已保存，主场校验通过"
    )
    forged = make_save(package, shuffle, "E07", "ch2", _points())
    mismatch = (
        "评分表未被接受（已记录，不计入）：评分表署名专家 E07 与工位 QJ.QJ-01 安排的专家 E06 不一致"
    )
    assert await seat_save(client, "QJ.QJ-01", "k2", ref, forged) == ScoreCommit(
        "committed", False, "expert-mismatch", mismatch
    )
    # A refused save is answered with the same refusal when the seat sends it again.
    assert await seat_save(client, "QJ.QJ-01", "k2", ref, forged) == ScoreCommit(
        "replayed", False, "expert-mismatch", mismatch
    )
    assert (await seat_save(client, "DL.DL-03", "k3", ref, e06)).code == "seat-not-seated"
    assert (await seat_save(client, "QJ.QJ-02", "k4", ref, {"part": 3})).code == "invalid-sheet"
    # The same key with another payload: refused, and the stored save is unchanged.
    other = e06 | {"declared_totals": {}}
    assert await seat_save(client, "QJ.QJ-01", "k1", ref, other) == ScoreCommit(
        "refused",
        False,
        "idempotency-conflict",
        "该评分提交的幂等键已用于内容不同的另一次提交，本次提交未被接受，请联系现场工作人员",
    )

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
        rows = list((await s.execute(select(SubmittedScore).order_by(SubmittedScore.id))).scalars())
        judged = (await s.execute(select(func.count(ScoreSaveRow.id)))).scalar_one()
    assert judged == 4  # one judged save per stored seat save, judged when it was stored
    assert [(r.idempotency_key, r.accepted, r.verdict_code) for r in rows] == [
        ("k1", True, "accepted"),
        ("k2", False, "expert-mismatch"),
        ("k3", False, "seat-not-seated"),
        ("k4", False, "invalid-sheet"),
    ]
    assert all(r.seat_signature and len(r.seat_signature) == 128 for r in rows)


async def test_a_save_without_a_valid_seat_signature_is_refused_and_stores_nothing(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    bookings = await seed_bookings(database, seeded, clock())
    host = await login(client, "km_operator")
    resp = await client.post(
        f"/api/bookings/{bookings['qujing']}/seats/{seeded['seats']['QJ-01']}/expert",
        json={"expert_id": seeded["experts"]["E06"]},
        headers=host,
    )
    assert resp.status == 204, await resp.text()
    key = await enrol_seat(database, seeded, "QJ.QJ-01", clock())
    sid = seeded["session"]
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    await start(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    sheet = make_save(demo_package(), shuffle, "E06", "ch1", _points())
    del sheet["expert"]
    ref = str(sid)
    before = await _counts(database)

    unsigned = await seat_save(client, "QJ.QJ-01", "k1", ref, sheet, signature="")
    assert unsigned == ScoreCommit(
        "refused",
        False,
        "signature-missing",
        "评分未附本工位终端的签名，未被接受；请升级评标终端软件后重新提交",
    )
    bad = (
        "refused",
        False,
        "signature-invalid",
        "评分的签名不是本工位登记的终端密钥对该评分的签名，未被接受，请联系现场工作人员",
    )
    # Signed by another key; signed over another sheet; signed for another idempotency key.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = Ed25519PrivateKey.from_private_bytes(bytes([9]) * 32)
    assert await seat_save(client, "QJ.QJ-01", "k1", ref, sheet, key=stranger) == ScoreCommit(*bad)
    from scoring.signing import save_document, sign

    changed = sheet | {"declared_totals": {}}
    over_other = sign(key, save_document(ref, "k1", changed)).hex()
    assert await seat_save(client, "QJ.QJ-01", "k1", ref, sheet, signature=over_other) == (
        ScoreCommit(*bad)
    )
    other_key = sign(key, save_document(ref, "k0", sheet)).hex()
    assert await seat_save(client, "QJ.QJ-01", "k1", ref, sheet, signature=other_key) == (
        ScoreCommit(*bad)
    )
    assert await _counts(database) == before  # nothing stored, nothing audited
    # Signed by the seat's own key: stored and judged.
    assert (await seat_save(client, "QJ.QJ-01", "k1", ref, sheet)).accepted
