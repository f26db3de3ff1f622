"""A whole small evaluation through the API: 5 experts, the demo package, from the committee to
the signed report, with the ranking checked against figures computed by hand below.

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
        3.1: 4.5 [2→4.5] 4 4.5 5 = 22.5 → 4.5   3.2: 3 ×5 = 15 → 3.0
        technical 7.0+3.6+6.0+5.1+4.5+3.0 = 29.2
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

Deviation review (±30 % of the mean):
    b02 3.1 first round 4.5 2 4 4.5 5: mean 20/5 = 4.0, allowed 1.2; E02 |2 − 4| = 2 → flagged;
        E05 |5 − 4| = 1 → fine. ch3 totals 7.5 5 7 7.5 8: mean 7, allowed 2.1; E02 2 → fine.
        E02 re-scores 3.1 as 4.5 and answers "revise".
    b04 1.1: mean 31/5 = 6.2, allowed 1.86; E05 |3 − 6.2| = 3.2 → flagged (E04 1.3 fine).
        ch1 totals 10.5 10 10 11 6.5: mean 48/5 = 9.6, allowed 2.88; E05 3.1 → flagged.
        E05 keeps both with a written explanation.

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
    b02 29.20 + 28 + 27.57 = 84.77   (2)
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

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from scoring.model import COMMERCIAL_PART
from scoring.signing import sign, signature_document
from tests.conftest import FakeClock
from tests.evaluation.helpers import (
    FIVE,
    Client,
    act,
    attach,
    demo_package,
    hub_shuffle,
    identities,
    new_session,
    part_save,
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
            save = part_save(package, shuffle, expert, part, _points(expert))
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
        ("E05", "ch1", label_b04, "1.1", "deviation"),
        ("E02", "ch3", label_b02, "3.1", "deviation"),
        ("E05", "ch1", label_b04, None, "deviation"),
    ]
    assert created[1]["spread"] == {
        "yours": "2",
        "others": ["4", "4.5", "4.5", "5"],
        "mean": "4.00",
    }
    assert created[1]["message"] == (
        f"专家 E02 对 ch3 {label_b02} 3.1 评分 2，偏离各专家平均分 4.00 超过 30%，须复核或书面说明"
    )
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "deviation_review"

    # E02 answers "revise" before re-scoring: refused.
    status, text = await api.call(
        "POST", f"{base}/review-requests/{created[1]['id']}/answer", {"answer": "revise"}
    )
    assert status == 409
    assert json.loads(text)["detail"] == "专家 E02 尚未重新提交 ch3 的评分，请先重新评分再答复"
    # E02 re-scores chapter 3 (the changed score carries a comment), then answers.
    clock.advance(minutes=1)
    revised = _points("E02")
    revised["b02", "3.1"] = "4.5"
    status, text = await api.call(
        "POST", f"{base}/scores", part_save(package, shuffle, "E02", "ch3", revised, "复核后修改")
    )
    assert status == 201, text
    status, text = await api.call(
        "POST",
        f"{base}/review-requests/{created[1]['id']}/answer",
        {"answer": "revise", "reason": "重新核对进度计划后修改"},
    )
    assert status == 200, text

    # Sealing is refused while E05's two flags are neither re-scored nor explained.
    status, text = await api.call("POST", f"{base}/seal")
    assert status == 409, text
    blocked = json.loads(text)
    assert blocked["detail"] == "尚有 2 项复核未处理（既未重新评分也未书面说明），不能封存"
    assert blocked["open_flags"] == [created[0]["message"], created[2]["message"]]
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "deviation_review"  # the refused seal changed nothing

    status, text = await api.call(
        "POST", f"{base}/review-requests/{created[0]['id']}/answer", {"answer": "keep"}
    )
    assert (status, json.loads(text)["detail"]) == (422, "保留原评分须书面说明理由")
    for request in (created[0], created[2]):
        status, text = await api.call(
            "POST",
            f"{base}/review-requests/{request['id']}/answer",
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
        ("b02", 2, "29.2", "28", "27.57", "84.77"),
        ("b01", 3, "32", "25", "23.06", "80.06"),
        ("b03", 4, "35.4", "22", "20.63", "78.03"),
        ("b04", 5, "26.9", "15", "29.48", "71.38"),
    ]
    assert result["candidates"] == ["b05", "b02", "b01"]

    # --- 5. signatures ------------------------------------------------------------------------
    keys = {
        e: Ed25519PrivateKey.from_private_bytes(bytes([n + 1]) * 32) for n, e in enumerate(FIVE)
    }

    def signed(expert: str, agrees: bool, reason: str = "") -> dict[str, Any]:
        document = signature_document(str(sid), expert, agrees, reason, result)
        return {
            "expert": expert,
            "decision": "agree" if agrees else "disagree",
            "reason": reason,
            "public_key": keys[expert].public_key().public_bytes_raw().hex(),
            "signature": sign(keys[expert], document).hex(),
        }

    # A signature over another document (E01 signing as E02) does not count.
    forged = signed("E01", True) | {"expert": "E02"}
    resp = await client.post(f"{base}/signatures", json=forged, headers=host)
    assert (await problem(resp, 422))["detail"] == (
        "专家 E02 的签名与评标结果不符：不是该公钥对本评标结果和所填意见的签名"
    )
    resp = await client.post(
        f"{base}/signatures", json={"expert": "E04", "decision": "disagree"}, headers=host
    )
    assert (await problem(resp, 422))["detail"] == "不同意评标结论的，须书面说明不同意见和理由"
    for body in (
        signed("E01", True),
        signed("E02", True),
        signed("E03", True),
        signed("E04", False, "b03 技术方案明显优于其他投标人，价格分权重过高"),
    ):
        clock.advance(seconds=30)
        resp = await client.post(f"{base}/signatures", json=body, headers=host)
        assert resp.status == 201, await resp.text()
    resp = await client.post(f"{base}/signatures", json=signed("E01", True), headers=host)
    assert (await problem(resp, 409))["detail"] == "专家 E01 已签署评标报告，不能重复签署"
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "revealed"
    # E05 refuses to sign and gives no reasons: recorded as agreement; the report is signed.
    resp = await client.post(
        f"{base}/signatures", json={"expert": "E05", "decision": "refuse"}, headers=host
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["counted_as_agreement"] is True
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
    assert "b03 技术方案明显优于其他投标人，价格分权重过高" in html
    assert "拒绝签字且未书面说明理由，视为同意评标结论" in html
    assert "该章节未涉及高边坡防护方案，故给低分" in html
    assert "种子与承诺一致" in html
    # per-expert chapter totals after the reveal, under the label that expert saw
    assert f'<td class="num">{label_b04} / 6.5</td>' in html  # E05's ch1 for b04
    assert f'<td class="num">{label_b02} / 7.5</td>' in html  # E02: 4.5 (revised) + 3
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
    assert kinds.count("evaluation.score_saved") == 21
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
    assert sum(1 for save in saves if save["accepted"]) == 21
