"""Registering the committee from the pool's draw record: a record with a bad row, or with
more experts than places left, registers nobody (every bad row named); otherwise each expert is
registered, those automatic recusal refuses (here, a blacklisted expert) listed with the reason
and audited."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from tests.hub.helpers import login, problem
from tests.pool.files import csv_bytes

Client = TestClient[Any, Any]


async def test_the_draw_record(client: Client, seeded: dict[str, Any], database: Database) -> None:
    admin = await login(client, "sysadmin")
    resp = await client.post(
        "/api/pool/blacklist/import",
        data=csv_bytes(
            [("E05", "", "", "无正当理由拒不参加评标", "2027-01-31")],
            header=("专家编号", "姓名", "工作单位", "事由", "截止日期"),
        ),
        headers=admin,
    )
    assert resp.status == 200, await resp.text()
    host = await login(client, "km_operator")
    resp = await client.post(
        "/api/sessions",
        json={
            "project_code": "YN-DRAW-1",
            "project_name": "抽取记录测试",
            "section": "第 1 标段",
            "starts_at": "2026-12-02T09:00:00+08:00",
            "ends_at": "2026-12-02T17:00:00+08:00",
            "committee_size": 5,
        },
        headers=host,
    )
    sid = (await resp.json())["id"]
    url = f"/api/sessions/{sid}/draw-record"
    bad = "专家编号,场地\nE01,host\nE01,away\nE99,away\nE02,roof\n".encode()
    body = await problem(await client.post(url, data=bad, headers=host), 422)
    assert body["detail"] == "抽取记录文件有 3 处问题，未导入任何记录；请全部改正后重新导入"
    assert body["problems"] == [
        {"line": 3, "column": "专家编号", "message": "专家编号「E01」与第 2 行重复"},
        {"line": 4, "column": "专家编号", "message": "专家编号「E99」不在专家库中"},
        {
            "line": 5,
            "column": "场地",
            "message": "场地「roof」无效：只能是 host（主场）或 away（客场）",
        },
    ]
    six = "专家编号\nE01\nE02\nE03\nE04\nE06\nE07\n".encode()
    assert (await problem(await client.post(url, data=six, headers=host), 409))["detail"] == (
        f"抽取记录有 6 名专家，评标会 #{sid} 的评标委员会只剩 5 个席位"
    )
    good = "专家编号,场地\nE01,主场\nE02,host\nE05,away\nE03,\n".encode("gb18030")
    resp = await client.post(url, data=good, headers=host)
    assert resp.status == 201, await resp.text()
    result = await resp.json()
    assert [(a["code"], a["placement"]) for a in result["added"]] == [
        ("E01", "host"),
        ("E02", "host"),
        ("E03", "away"),
    ]
    assert result["refused"] == [
        {
            "code": "E05",
            "line": 4,
            "reasons": [
                "专家 E05 周海燕 在信用黑名单中（E05，事由：无正当理由拒不参加评标，期限至 2027-01-31），不得参加评标"
            ],
        }
    ]
    async with database.read() as s:
        kinds = [
            (e.kind, e.payload.get("expert"))
            for e in await load_chain(s)
            if e.subject == f"session:{sid}"
        ]
    assert kinds == [
        ("session.created", None),
        ("session.expert_added", "E01"),
        ("session.expert_added", "E02"),
        ("pool.recusal_refused", "E05"),
        ("session.expert_added", "E03"),
    ]
