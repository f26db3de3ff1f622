"""Attaching a bid package: host only, every problem reported, anonymity findings released only
with a recorded reason, the seed committed, and the files pinned by their digest."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select

from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from scoring.shuffle import ShuffleManifest
from tests.evaluation.helpers import (
    DEMO_PACKAGE,
    Client,
    act,
    attach,
    demo_package,
    hub_shuffle,
    identities,
    new_session,
    start,
)
from tests.hub.helpers import login, problem


async def test_only_the_host_operator_attaches_and_only_before_the_start(
    client: Client, seeded: dict[str, Any], database: Database
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    resp = await client.get(f"/api/sessions/{sid}/evaluation", headers=host)
    assert (await problem(resp, 409))["detail"] == f"评标会 #{sid} 尚未导入标书包"
    for user, role in (("km_supervisor", "监督人员"), ("dl_admin", "场地管理员")):
        resp = await attach(client, await login(client, user), sid)
        assert (await problem(resp, 403))["detail"] == (
            f"只有主场「云南省公共资源交易中心（昆明）」的业务人员可以操作评标会 #{sid} 的评审，"
            f"当前用户 {user}（{role}）无此权限"
        )
    resp = await attach(client, host, sid)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    # The commitment binds the seed to this session's experts, chapters and bidders.
    shuffle = await hub_shuffle(client, database, sid)
    assert shuffle.manifest == ShuffleManifest(
        str(sid), ("E01", "E02", "E03", "E04", "E05"), ("ch1", "ch2", "ch3"),
        ("b01", "b02", "b03", "b04", "b05"),
    )  # fmt: skip
    assert body["package"]["experts"] == ["E01", "E02", "E03", "E04", "E05"]
    resp = await attach(client, host, sid)
    assert (await problem(resp, 409))["detail"] == f"评标会 #{sid} 已导入标书包，不能重复导入"

    other = await new_session(client, host, seeded)
    await act(client, host, other, "confirm_seats", "open_check_in")
    await start(client, host, other)
    resp = await attach(client, host, other)
    assert (await problem(resp, 409))["detail"] == (
        "评标会当前状态为「评审中」，只能在开始评审前导入标书包"
    )
    empty = await new_session(client, host, seeded, experts=())
    resp = await attach(client, host, empty)
    assert (await problem(resp, 409))["detail"] == (
        f"评标会 #{empty} 尚未登记评标委员会专家，不能生成错位评审种子"
    )
    async with database.read() as s:
        events = list(
            (
                await s.execute(
                    select(AuditEventRow).where(AuditEventRow.kind == "evaluation.package_attached")
                )
            ).scalars()
        )
    assert [(e.subject, e.actor) for e in events] == [(f"session:{sid}", "km_operator")]
    assert events[0].payload["seed_commitment"] == body["seed"]["commitment"]
    assert events[0].payload["anonymity_findings"] == 4


async def test_a_broken_package_is_refused_with_every_problem(
    client: Client, seeded: dict[str, Any], tmp_path: Path
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    resp = await attach(client, host, sid, tmp_path / "nowhere")
    assert (await problem(resp, 422))["detail"] == f"标书包目录 {tmp_path / 'nowhere'} 不存在"
    broken = tmp_path / "pkg"
    shutil.copytree(DEMO_PACKAGE, broken)
    (broken / "prices.yaml").unlink()
    bidders = broken / "bidders.yaml"
    bidders.write_text(
        bidders.read_text("utf-8").replace("91530800709813562W", "91530800709813562X"), "utf-8"
    )
    resp = await attach(client, host, sid, broken)
    body = await problem(resp, 422)
    assert body["detail"] == "标书包有 2 个问题，请全部改正后重新导入"
    assert body["problems"] == [
        {"file": "prices.yaml", "field": "-", "message": "文件缺失"},
        {
            "file": "bidders.yaml",
            "field": "bidders[1].credit_code",
            "message": "统一社会信用代码校验位错误：应为 W，实际 X",
        },
    ]
    # Nothing was attached: a corrected package can be imported.
    resp = await attach(client, host, sid)
    assert resp.status == 201, await resp.text()


async def test_flagged_chapters_need_an_override_with_a_reason(
    client: Client, seeded: dict[str, Any], database: Database
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    assert (await attach(client, host, sid)).status == 201
    base = f"/api/sessions/{sid}/evaluation"
    resp = await client.get(f"{base}/view?expert=E01", headers=host)
    assert (await problem(resp, 409))["detail"] == (
        "尚有 1 个章节含识别标记且未记录放行理由，不能向专家发放：b03/ch2（4 处）"
    )
    override = {"bidder_id": "b03", "chapter_id": "ch2", "reason": "  "}
    resp = await client.post(f"{base}/overrides", json=override, headers=host)
    assert (await problem(resp, 422))["detail"] == "放行含识别标记的章节必须填写理由"
    clean = {"bidder_id": "b01", "chapter_id": "ch2", "reason": "无"}
    resp = await client.post(f"{base}/overrides", json=clean, headers=host)
    assert (await problem(resp, 409))["detail"] == "投标人 b01 的章节 ch2 未发现识别标记，无需放行"
    override["reason"] = "联系方式为招标文件示例，经监督人员确认"
    resp = await client.post(f"{base}/overrides", json=override, headers=host)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["anonymity"]["blocked"] == {}
    assert [(o["bidder_id"], o["chapter_id"], o["reason"], o["recorded_by"])
            for o in body["anonymity"]["overrides"]] == [
        ("b03", "ch2", "联系方式为招标文件示例，经监督人员确认", "km_operator")
    ]  # fmt: skip
    resp = await client.post(f"{base}/overrides", json=override, headers=host)
    assert (await problem(resp, 409))["detail"] == "投标人 b03 的章节 ch2 已记录放行理由"
    resp = await client.get(f"{base}/view?expert=E01", headers=host)
    assert resp.status == 200, await resp.text()
    view = await resp.json()
    assert view["commercial_subjects"] == ["b01", "b02", "b03", "b04", "b05"]
    assert all(len(c["labels"]) == 5 for c in view["chapters"])
    resp = await client.get(f"{base}/view?expert=E07", headers=host)
    assert (await problem(resp, 404))["detail"] == (f"专家 E07 不是评标会 #{sid} 的评标委员会成员")
    text = await (await client.get(base, headers=host)).text()
    assert [m for m in identities(demo_package()) if m in text] == []


async def test_a_package_changed_after_attaching_stops_the_evaluation(
    client: Client, seeded: dict[str, Any], tmp_path: Path
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    copy = tmp_path / "pkg"
    shutil.copytree(DEMO_PACKAGE, copy)
    resp = await attach(client, host, sid, copy)
    assert resp.status == 201, await resp.text()
    digest = (await resp.json())["package"]["content_digest"]
    prices = copy / "prices.yaml"
    prices.write_text(prices.read_text("utf-8").replace("36960000.00", "36950000.00"), "utf-8")
    resp = await client.get(f"/api/sessions/{sid}/evaluation", headers=host)
    assert (await problem(resp, 409))["detail"] == (
        f"标书包目录 {copy.resolve()} 的内容与导入时不一致（摘要 {digest}），"
        "评审已停止；请恢复导入时的文件"
    )
