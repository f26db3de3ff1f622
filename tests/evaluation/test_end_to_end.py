"""A whole small evaluation: 5 experts, the demo package, from the committee to the signed report,
with the ranking checked against figures computed by hand below. The experts have no terminal
working while they score, so the host enters their saves (代录, each with its written reason);
each member signs the report from the seat booked for them, with that seat's key.

Every answer the API gives before the session is sealed is kept and searched for any bidder's
name, alias, credit code or key staff name: none may appear until the reveal.

Scores (E01…E05) per (bidder, item). The demo method is ``trimmed``, which for 5 or fewer
members is the plain mean; each mean is sum ÷ 5, then technical = Σ items (weights 1), two
decimals half up.

    b01 1.1: 8 8.5 8 7.5 8 = 40 → 8.0     1.2: 4 4 4.5 4 3.5 = 20 → 4.0
        2.1: 6.5 7 6.5 6 7 = 33 → 6.6     2.2: 5.5 5.5 6 5 5.5 = 27.5 → 5.5
        3.1: 5 4.5 5 5 4.5 = 24 → 4.8     3.2: 3 3 3.5 3 3 = 15.5 → 3.1
        technical 8.0+4.0+6.6+5.5+4.8+3.1 = 32.0
    b02 1.1: 7 7.5 7 7 6.5 = 35 → 7.0     1.2: 3.5 4 3.5 3.5 3.5 = 18 → 3.6
        2.1: 6 6 6.5 6 5.5 = 30 → 6.0     2.2: 5 5 5 5.5 5 = 25.5 → 5.1
        3.1: 4.5 2 4 4.5 5 = 20 → 4.0     3.2: 3 ×5 = 15 → 3.0
        technical 7.0+3.6+6.0+5.1+4.0+3.0 = 28.7
    b03 1.1: 8.5 9 9 8.5 9 = 44 → 8.8     1.2: 4.5 4.5 4.5 5 4.5 = 23 → 4.6
        2.1: 7 7 7.5 7 7 = 35.5 → 7.1     2.2: 6 6.5 6 6 6 = 30.5 → 6.1
        3.1: 5 5.5 5 5 5.5 = 26 → 5.2     3.2: 3.5 3.5 3.5 3.5 4 = 18 → 3.6
        technical 8.8+4.6+7.1+6.1+5.2+3.6 = 35.4
    b04 1.1: 7 6.5 7 7.5 3 = 31 → 6.2     1.2: 3.5 3.5 3 3.5 3.5 = 17 → 3.4
        2.1: 5.5 6 5.5 5.5 6 = 28.5 → 5.7 2.2: 5 4.5 5 5 5 = 24.5 → 4.9
        3.1: 4 4 4.5 4 4 = 20.5 → 4.1     3.2: 2.5 3 2.5 2.5 2.5 = 13 → 2.6
        technical 6.2+3.4+5.7+4.9+4.1+2.6 = 26.9
    b05 1.1: 7.5 7.5 8 7.5 7 = 37.5 → 7.5 1.2: 4 4 4 3.5 4 = 19.5 → 3.9
        2.1: 6.5 6.5 6 6.5 6.5 = 32 → 6.4 2.2: 5.5 5 5.5 5.5 6 = 27.5 → 5.5
        3.1: 4.5 4.5 4.5 4 4.5 = 22 → 4.4 3.2: 3 3 3 3 2.5 = 14.5 → 2.9
        technical 7.5+3.9+6.4+5.5+4.4+2.9 = 30.6

Deviation review (±30 % of the mean, on each expert's total per bidder and part, the default):
    b02 ch3 totals 7.5 5 7 7.5 8: mean 35/5 = 7, allowed 2.1; E02 |5 − 7| = 2 → fine (per item,
        the option, E02's 3.1 = 2 against the mean 4.0 would be flagged: |2 − 4| = 2 > 1.2).
    b04 ch1 totals 10.5 10 10 11 6.5: mean 48/5 = 9.6, allowed 2.88; E05 |6.5 − 9.6| = 3.1 →
        flagged (E04 |11 − 9.6| = 1.4 fine). E05 keeps it with a written explanation.
    Every other part total lies within 30 % of its mean.

Commercial (objective, every expert the same): b01 16+9 = 25, b02 20+8 = 28, b03 12+10 = 22,
b04 8+7 = 15, b05 20+8 = 28.

Price (deviation formula; mean of valid prices without the highest b03 and lowest b04, × 0.96):
    (35 400 000 + 35 640 000 + 36 960 000) / 3 = 36 000 000 × 0.96 = 34 560 000.00
    b01 +2 400 000 → 6.9444…% → 30 − 6.9444… = 23.06
    b02   +840 000 → 2.4305…% → 27.57
    b03 +3 240 000 → 9.375 %  → 20.625 → 20.63
    b04   −360 000 → 1.0416…% × 0.5 → 29.4791… → 29.48
    b05 +1 080 000 → 3.125 %  → 26.875 → 26.88

Composite = technical + commercial + price:
    b05 30.60 + 28 + 26.88 = 85.48   (1)
    b02 28.70 + 28 + 27.57 = 84.27   (2)
    b01 32.00 + 25 + 23.06 = 80.06   (3)
    b03 35.40 + 22 + 20.63 = 78.03   (4)
    b04 26.90 + 15 + 29.48 = 71.38   (5)
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from subprocess import CompletedProcess, run
from typing import Any

from sqlalchemy import select

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from evaluation_hub.seats import expert_requests
from scoring.model import COMMERCIAL_PART
from scoring.signing import sign, signature_document
from seat_protocol.messages import ReportSignature, RequestResult
from tests.conftest import FakeClock
from tests.evaluation.helpers import (
    FIVE,
    PROXY_REASON,
    Client,
    act,
    attach,
    demo_package,
    hub_shuffle,
    identities,
    new_session,
    part_save,
    proxy,
    seat_members,
    seat_private_key,
    start,
)
from tests.hub.helpers import login, problem

ITEMS = ("1.1", "1.2", "2.1", "2.2", "3.1", "3.2")
CHAPTER_OF = {"1.1": "ch1", "1.2": "ch1", "2.1": "ch2", "2.2": "ch2", "3.1": "ch3", "3.2": "ch3"}
TECHNICAL: dict[str, dict[str, str]] = {
    "b01": {
        "1.1": "8 8.5 8 7.5 8",
        "1.2": "4 4 4.5 4 3.5",
        "2.1": "6.5 7 6.5 6 7",
        "2.2": "5.5 5.5 6 5 5.5",
        "3.1": "5 4.5 5 5 4.5",
        "3.2": "3 3 3.5 3 3",
    },
    "b02": {
        "1.1": "7 7.5 7 7 6.5",
        "1.2": "3.5 4 3.5 3.5 3.5",
        "2.1": "6 6 6.5 6 5.5",
        "2.2": "5 5 5 5.5 5",
        "3.1": "4.5 2 4 4.5 5",
        "3.2": "3 3 3 3 3",
    },
    "b03": {
        "1.1": "8.5 9 9 8.5 9",
        "1.2": "4.5 4.5 4.5 5 4.5",
        "2.1": "7 7 7.5 7 7",
        "2.2": "6 6.5 6 6 6",
        "3.1": "5 5.5 5 5 5.5",
        "3.2": "3.5 3.5 3.5 3.5 4",
    },
    "b04": {
        "1.1": "7 6.5 7 7.5 3",
        "1.2": "3.5 3.5 3 3.5 3.5",
        "2.1": "5.5 6 5.5 5.5 6",
        "2.2": "5 4.5 5 5 5",
        "3.1": "4 4 4.5 4 4",
        "3.2": "2.5 3 2.5 2.5 2.5",
    },
    "b05": {
        "1.1": "7.5 7.5 8 7.5 7",
        "1.2": "4 4 4 3.5 4",
        "2.1": "6.5 6.5 6 6.5 6.5",
        "2.2": "5.5 5 5.5 5.5 6",
        "3.1": "4.5 4.5 4.5 4 4.5",
        "3.2": "3 3 3 3 2.5",
    },
}
COMMERCIAL = {"b01": ("16", "9"), "b02": ("20", "8"), "b03": ("12", "10"), "b04": ("8", "7"),
              "b05": ("20", "8")}  # fmt: skip


def _points(expert: str) -> dict[tuple[str, str], str]:
    n = FIVE.index(expert)
    points = {
        (b, item): values.split()[n]
        for b, items in TECHNICAL.items()
        for item, values in items.items()
    }
    for b, (c1, c2) in COMMERCIAL.items():
        points[b, "c1"], points[b, "c2"] = c1, c2
    return points


class Recorder:
    """Calls the API and keeps every answer's text while ``before_seal`` is set."""

    def __init__(self, client: Client, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.before_seal = True
        self.texts: list[str] = []

    async def call(self, method: str, url: str, body: Any = None) -> tuple[int, str]:
        resp = await self.client.request(method, url, json=body, headers=self.headers)
        text = await resp.text()
        if self.before_seal:
            self.texts.append(text)
        return resp.status, text


def _archive_cli(*argv: str, sealing_key_file: Path | None = None) -> CompletedProcess[str]:
    """``evaluation-hub archive ARGV`` in a fresh interpreter (it owns its event loop)."""
    env = dict(os.environ)
    if sealing_key_file is not None:
        env["EVALHUB_SEALING_KEY_FILE"] = str(sealing_key_file)
    command = [sys.executable, "-m", "evaluation_hub.cli", "archive", *argv]
    return run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def _untimed(html: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d（北京时间）", "<time>", html)


async def test_five_experts_from_committee_to_signed_report(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database, tmp_path: Path
) -> None:
    package = demo_package()
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    base = f"/api/sessions/{sid}/evaluation"
    api = Recorder(client, host)

    # Each member's seat: the host's own for E01 and E02, away seats for the others.
    seat_of = await seat_members(
        client,
        seeded,
        database,
        sid,
        {"E01": "KM-01", "E02": "KM-02", "E03": "DL-01", "E04": "DL-02", "E05": "HH-01"},
        clock(),
    )

    # --- 1. attach: the package is clean, the seed is committed before the start ------------
    await act(client, host, sid, "confirm_seats", "open_check_in")
    resp = await attach(client, host, sid)
    assert resp.status == 201, await resp.text()
    api.texts.append(await resp.text())
    attached = await resp.json()
    commitment = attached["seed"]["commitment"]
    assert len(commitment) == 64 and attached["seed"]["revealed_seed"] is None
    # b03's chapter 2 names its company, a manager, a phone number and an email: the finding
    # says where and what kind, never the text itself.
    findings = attached["anonymity"]["findings"]
    assert [(f["bidder_id"], f["chapter_id"], f["kind_name"], f["line"], f["column"])
            for f in findings] == [
        ("b03", "ch2", "投标人名称", 5, 5),
        ("b03", "ch2", "人员姓名", 5, 59),
        ("b03", "ch2", "电话号码", 17, 18),
        ("b03", "ch2", "电子邮箱", 17, 37),
    ]  # fmt: skip
    assert attached["anonymity"]["blocked"] == {"b03/ch2": 4}
    assert attached["package"]["bidders"] == ["b01", "b02", "b03", "b04", "b05"]
    await start(client, host, sid)  # the five members confirm the commitment, then the start
    shuffle = await hub_shuffle(client, database, sid)

    status, text = await api.call("GET", f"{base}/view?expert=E03")
    assert status == 409
    assert json.loads(text)["detail"] == (
        "尚有 1 个章节含识别标记且未记录放行理由，不能向专家发放：b03/ch2（4 处）"
    )
    status, text = await api.call(
        "POST",
        f"{base}/overrides",
        {
            "bidder_id": "b03",
            "chapter_id": "ch2",
            "reason": "经核对为引用的行业规范示例，已遮盖后发放",
        },
    )
    assert status == 201, text
    assert json.loads(text)["anonymity"]["blocked"] == {}
    status, text = await api.call("GET", f"{base}/view?expert=E03")
    assert status == 200, text
    view = json.loads(text)
    assert [c["chapter_id"] for c in view["chapters"]] == ["ch1", "ch2", "ch3"]
    assert view["chapters"][0]["labels"] == list(shuffle.view("E03").chapters[0].labels)

    # --- 2. every expert saves every part ---------------------------------------------------
    for expert in FIVE:
        for part in (*package.chapter_ids, COMMERCIAL_PART):
            clock.advance(seconds=10)
            save = proxy(part_save(package, shuffle, expert, part, _points(expert)))
            status, text = await api.call("POST", f"{base}/scores", save)
            assert status == 201, text
    status, text = await api.call("GET", base)
    progress = json.loads(text)["scoring"]["experts"]
    assert [(e["expert"], len(e["scored_parts"]), e["complete"]) for e in progress] == [
        (e, 4, True) for e in FIVE
    ]

    # --- 3. deviation review ------------------------------------------------------------------
    clock.advance(minutes=5)
    status, text = await api.call("POST", f"{base}/review")
    assert status == 201, text
    created = json.loads(text)["created"]
    label_b02 = shuffle.label_for("E02", "ch3", "b02")
    label_b04 = shuffle.label_for("E05", "ch1", "b04")
    assert [(r["expert"], r["part"], r["subject"], r["item"], r["reason"]) for r in created] == [
        ("E05", "ch1", label_b04, None, "deviation"),
    ]
    assert created[0]["spread"] == {
        "yours": "6.5",
        "others": ["10", "10", "10.5", "11"],
        "mean": "9.60",
    }
    assert created[0]["message"] == (
        f"专家 E05 对 ch1 {label_b04} 的合计 6.5，偏离各专家平均分 9.60 超过 30%，须复核或书面说明"
    )
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "deviation_review"

    # E05 answers "revise" before re-scoring: refused.
    status, text = await api.call(
        "POST", f"{base}/review-requests/{created[0]['id']}/answer", {"answer": "revise"}
    )
    assert status == 409
    assert json.loads(text)["detail"] == "专家 E05 尚未重新提交 ch1 的评分，请先重新评分再答复"

    # Sealing is refused while E05's flag is neither re-scored nor explained.
    status, text = await api.call("POST", f"{base}/seal")
    assert status == 409, text
    blocked = json.loads(text)
    assert blocked["detail"] == "尚有 1 项复核未处理（既未重新评分也未书面说明），不能封存"
    assert blocked["open_flags"] == [created[0]["message"]]
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "deviation_review"  # the refused seal changed nothing

    status, text = await api.call(
        "POST", f"{base}/review-requests/{created[0]['id']}/answer", {"answer": "keep"}
    )
    assert (status, json.loads(text)["detail"]) == (422, "保留原评分须书面说明理由")
    status, text = await api.call(
        "POST",
        f"{base}/review-requests/{created[0]['id']}/answer",
        {"answer": "keep", "reason": "该章节未涉及高边坡防护方案，故给低分"},
    )
    assert status == 200, text

    # --- 4. seal; nothing so far named a bidder ---------------------------------------------
    status, text = await api.call("POST", f"{base}/seal")
    assert status == 200, text
    assert json.loads(text)["state"] == "sealed"
    status, text = await api.call("GET", f"{base}/result")
    assert status == 409
    assert json.loads(text)["detail"] == "评标会当前状态为「已封存」，解密还原之后才能查看评标结果"
    status, text = await api.call("GET", f"{base}/report")
    assert status == 409
    api.before_seal = False
    leaked = [m for m in identities(package) for t in api.texts if m in t]
    assert leaked == []
    assert len(api.texts) > 30

    # --- reveal: the seed matches the commitment; the ranking is the hand-computed one -------
    clock.advance(minutes=5)
    resp = await client.post(f"{base}/reveal", headers=host)
    assert resp.status == 200, await resp.text()
    revealed = await resp.json()
    assert revealed["seed_commitment"] == commitment
    assert revealed["bidders"]["b05"]["name"] == "大理苍洱路桥工程有限公司"
    assert revealed["views"]["E02"]["ch3"] == [
        [lab, bid] for lab, bid in zip(
            shuffle.chapter("E02", "ch3").labels, shuffle.chapter("E02", "ch3").order, strict=True
        )
    ]  # fmt: skip
    result = revealed["result"]
    assert result["benchmark_price"] == "34560000"
    assert [
        (r["bidder"], r["rank"], r["technical"], r["commercial"], r["price_score"], r["composite"])
        for r in result["ranking"]
    ] == [
        ("b05", 1, "30.6", "28", "26.88", "85.48"),
        ("b02", 2, "28.7", "28", "27.57", "84.27"),
        ("b01", 3, "32", "25", "23.06", "80.06"),
        ("b03", 4, "35.4", "22", "20.63", "78.03"),
        ("b04", 5, "26.9", "15", "29.48", "71.38"),
    ]
    assert result["candidates"] == ["b05", "b02", "b01"]

    # --- 5. signatures: each member at the seat booked for them, with that seat's key --------
    keys = {e: seat_private_key(seat) for e, seat in seat_of.items()}

    def signed(expert: str, agrees: bool, reason: str = "", key: Any = None) -> ReportSignature:
        document = signature_document(str(sid), expert, agrees, reason, result)
        signer = key or keys[expert]
        return ReportSignature(
            session_id=str(sid),
            decision="agree" if agrees else "disagree",
            reason=reason,
            public_key=keys[expert].public_key().public_bytes_raw().hex(),
            signature=sign(signer, document).hex(),
        )

    async def at_seat(expert: str, msg: ReportSignature) -> RequestResult:
        [answer] = await expert_requests.sign_report(services, seat_of[expert], msg, now=clock())
        assert isinstance(answer, RequestResult)
        return answer

    services = client.app[SERVICES]  # type: ignore[union-attr]
    # A signature by another key over E02's document does not count.
    forged = await at_seat("E02", signed("E02", True, key=keys["E01"]))
    assert (forged.accepted, forged.message) == (
        False,
        "专家 E02 的签名与评标结果不符：不是该公钥对本评标结果和所填意见的签名",
    )
    # Nobody signs at the host for a member.
    body = {"expert": "E02", "decision": "agree", "public_key": "0" * 64, "signature": "0" * 128}
    resp = await client.post(f"{base}/signatures", json=body, headers=host)
    assert (await problem(resp, 403))["detail"] == (
        "评标报告须由专家本人在其签到的工位终端签署（以该工位的终端密钥签名），主场不能代为签署"
    )
    for expert, message in (
        ("E01", signed("E01", True)),
        ("E02", signed("E02", True)),
        ("E03", signed("E03", True)),
        ("E04", signed("E04", False, "b03 技术方案明显优于其他投标人，价格分权重过高")),
    ):
        clock.advance(seconds=30)
        answer = await at_seat(expert, message)
        assert (answer.accepted, answer.code) == (True, "signed"), answer
    again = await at_seat("E01", signed("E01", True))
    assert (again.code, again.message) == (
        "already-signed",
        "专家 E01 已签署评标报告，不能重复签署",
    )
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "revealed"
    # E05 refuses to sign. Without written reasons nothing is recorded (it would count as
    # agreement); with them, the host records the refusal: the report is signed.
    resp = await client.post(
        f"{base}/signatures", json={"expert": "E05", "decision": "refuse"}, headers=host
    )
    await problem(resp, 422)
    resp = await client.post(
        f"{base}/signatures",
        json={"expert": "E05", "decision": "refuse", "reason": "对评分复核的处理有保留意见"},
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["counted_as_agreement"] is False
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "report_signed"
    assert [(t["action"], t["actor"]) for t in lifecycle["transitions"]][-5:] == [
        ("start_evaluation", "km_operator"),
        ("begin_deviation_review", "km_operator"),
        ("seal", "km_operator"),
        ("reveal", "km_operator"),
        ("sign_report", "hub"),
    ]

    # --- the report -----------------------------------------------------------------------------
    resp = await client.get(f"{base}/report", headers=host)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert "@media print" in html and "<h1>评标报告</h1>" in html
    assert "大理苍洱路桥工程有限公司" in html and "91532900770462318Q" in html
    assert "<td>第 1 名中标候选人" not in html  # candidates are a list, checked next
    assert (
        "<li>第 1 名中标候选人：b05 大理苍洱路桥工程有限公司</li>"
        "<li>第 2 名中标候选人：b02 普洱澜沧江交通工程有限公司</li>"
        "<li>第 3 名中标候选人：b01 云南滇中路桥建设有限公司</li>"
    ) in html
    assert "<strong>85.48</strong>" in html
    assert "评标基准价：34,560,000.00 元" in html
    assert (
        "价格分满分 30 分；价格分 = 30 − 扣分；每高于评标基准价 1 % 扣 1 分；"
        "每低于评标基准价 1 % 扣 0.5 分；扣分后不低于 0 分。"
    ) in html
    assert "b03 技术方案明显优于其他投标人，价格分权重过高" in html
    assert "拒绝签字，书面说明了不同意见和理由" in html and "对评分复核的处理有保留意见" in html
    assert "该章节未涉及高边坡防护方案，故给低分" in html
    # Every save was entered at the host: each is on the report as 代录, with its reason.
    assert html.count(f"<td>代录</td><td>{PROXY_REASON}</td><td>km_operator</td>") == 20
    assert "种子与承诺一致" in html
    # per-expert chapter totals after the reveal, under the label that expert saw
    assert f'<td class="num">{label_b04} / 6.5</td>' in html  # E05's ch1 for b04
    assert f'<td class="num">{label_b02} / 5</td>' in html  # E02's ch3 for b02: 2 + 3
    assert "汇总规则：各专家评分的算术平均（评标委员会 5 人及以下，不去掉最高分和最低分）" in html
    assert commitment in html and revealed["revealed_seed"] in html

    # --- every step is in the audit chain --------------------------------------------------------
    async with database.read() as s:
        kinds = list(
            (
                await s.execute(
                    select(AuditEventRow.kind)
                    .where(AuditEventRow.subject == f"session:{sid}")
                    .order_by(AuditEventRow.seq)
                )
            ).scalars()
        )
    assert kinds.count("evaluation.score_saved") == 20
    for kind in (
        "evaluation.package_attached",
        "evaluation.review_round",
        "evaluation.review_answered",
        "session.begin_deviation_review",
        "evaluation.sealed",
        "session.seal",
        "evaluation.revealed",
        "session.reveal",
        "evaluation.report_signature",
        "session.sign_report",
    ):
        assert kind in kinds, kind
    assert kinds[-2:] == ["evaluation.report_signature", "session.sign_report"]

    # --- the archive round trip: the signed report and its records travel in the bundle --------
    bundle = tmp_path / "bundle"
    made = _archive_cli(
        str(sid), "--database-url", database.url, "--hub-key", str(tmp_path / "hub-key.pem"),
        "--out", str(bundle), sealing_key_file=tmp_path / "sealing.key",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    checked = _archive_cli("verify", str(bundle), "--public-key", str(tmp_path / "hub-key.pub"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The same report, rendered by the same code; only its "generated at" time differs.
    archived = (bundle / "evaluation" / "report.html").read_text(encoding="utf-8")
    assert _untimed(archived) == _untimed(html) and "<strong>85.48</strong>" in archived
    signatures = json.loads((bundle / "evaluation" / "signatures.json").read_bytes())
    assert [(g["expert_code"], g["decision"]) for g in signatures] == [
        ("E01", "agree"), ("E02", "agree"), ("E03", "agree"), ("E04", "disagree"),
        ("E05", "refused"),
    ]  # fmt: skip
    saves = json.loads((bundle / "evaluation" / "score_saves.json").read_bytes())
    assert sum(1 for save in saves if save["accepted"]) == 20
    # The collusion signals travel as the console reads them: the demo's one alike chapter,
    # nothing else between bidders, and no near-identical sheets.
    signals = json.loads((bundle / "evaluation" / "signals.json").read_bytes())
    resp = await client.get(f"{base}/signals", headers=await login(client, "km_operator"))
    read = await resp.json()
    for pair in read["bidders"]["pairs"]:  # the archive writes floats as decimal strings
        pair["jaccard"], pair["containment"] = repr(pair["jaccard"]), repr(pair["containment"])
    assert signals == read
    assert [(p["kind"], p["bidder_a"], p["bidder_b"]) for p in signals["bidders"]["pairs"]] == [
        ("same_chapter", "b02", "b05")
    ]
    assert (signals["bidders"]["count"], signals["sealed"], signals["sheets"]) == (1, True, [])
    assert {save["proxy_reason"] for save in saves} == {PROXY_REASON}
