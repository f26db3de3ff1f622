"""Automatic recusal through the API: a package attached to a registered committee lists the
members who must be replaced (audited, shown on the committee panel, the start refused until
they are), and a member registered after the attach whose employer or recent former employer
is a bidder, or who is blacklisted, is refused with the exact reason (audited); the chain
verifies."""

from __future__ import annotations

import io
from typing import Any

from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evaluation_hub.api.keys import CLOCK, DB
from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.store import load_chain, load_checkpoints
from evaluation_hub.db.engine import Database
from tests.evaluation.helpers import act, attach
from tests.hub.helpers import confirm_committee, login, problem
from tests.pool.files import csv_bytes

Client = TestClient[Any, Any]

POOL = [
    # E03 (seeded) left a bidder's company two years ago.
    (
        "E03",
        "孙丽萍",
        "大理大学",
        "红河南疆建设工程有限公司:2024",
        "532900",
        "公路工程",
        "13800000003",
    ),
    (
        "E06",
        "吴振华",
        "曲靖师范学院",
        "昆明金马公路工程集团股份有限公司:2023",
        "530300",
        "公路工程",
        "13800000006",
    ),
    ("E08", "冯晓梅", "云南 滇中路桥建设股份有限公司", "", "530100", "桥梁", "13800000008"),
    ("E09", "陈立新", "云南大学", "", "530100", "造价", "13800000009"),
    (
        "E10",
        "褚卫东",
        "昆明理工大学",
        "云南滇中路桥建设有限公司:2019",
        "530100",
        "造价",
        "13800000010",
    ),
]
BLACKLIST = [("", "陈 立新", "云南大学", "评审中违反评标纪律（通报第12号）", "2027-06-30")]
BLACKLIST_HEADER = ("专家编号", "姓名", "工作单位", "事由", "截止日期")


async def _events(database: Database) -> list[Any]:
    async with database.read() as s:
        events = await load_chain(s)
        checkpoints = await load_checkpoints(s)
    assert verify(events, checkpoints, Ed25519PrivateKey.generate().public_key()).ok
    return events


async def test_recusal_at_attach_and_at_registration(
    client: Client, seeded: dict[str, Any], database: Database
) -> None:
    admin = await login(client, "sysadmin")
    resp = await client.post("/api/pool/experts/import", data=csv_bytes(POOL), headers=admin)
    assert resp.status == 200, await resp.text()
    assert ((await resp.json())["added"], (await resp.json())["updated"]) == (3, 2)
    resp = await client.post(
        "/api/pool/blacklist/import",
        data=csv_bytes(BLACKLIST, header=BLACKLIST_HEADER),
        headers=admin,
    )
    assert resp.status == 200, await resp.text()
    host = await login(client, "km_operator")
    resp = await client.post(
        "/api/sessions",
        json={
            "project_code": "YNGGZY-PE-2025-JS-0417",
            "project_name": "普洱市思茅区南屏至倚象公路提升改造工程",
            "section": "施工第一标段",
            "starts_at": "2026-12-01T09:00:00+08:00",
            "ends_at": "2026-12-01T17:30:00+08:00",
            "committee_size": 7,
        },
        headers=host,
    )
    sid = (await resp.json())["id"]
    for n, code in enumerate(("E01", "E02", "E03", "E04", "E05")):
        resp = await client.post(
            f"/api/sessions/{sid}/experts",
            json={"expert_id": seeded["experts"][code], "placement": "host" if n < 2 else "away"},
            headers=host,
        )
        assert resp.status == 201, await resp.text()
    # Before the attach only the blacklist can refuse: E06's former employer is not yet a bidder.
    pool = {
        e["code"]: e["id"]
        for e in await (await client.get("/api/pool/experts", headers=host)).json()
    }
    e03_message = (
        "专家 E03 孙丽萍 的原工作单位「红河南疆建设工程有限公司」（2024 年离开，在 3 年内）"
        "与投标人「红河南疆建设工程有限责任公司」为同一单位，应当回避"
    )
    resp = await attach(client, host, sid)
    assert resp.status == 201, await resp.text()
    committee = await (await client.get(f"/api/sessions/{sid}/committee", headers=host)).json()
    assert committee["must_replace"] == [
        {
            "code": "E03",
            "name": "孙丽萍",
            "reasons": [{"kind": "former_employer", "bidder_id": "b04", "message": e03_message}],
        }
    ]
    # Registration after the attach: each class of conflict, with its exact reason.
    refusals = {
        "E06": "专家 E06 吴振华 的原工作单位「昆明金马公路工程集团股份有限公司」（2023 年离开，在 3 年内）"
        "与投标人「昆明金马公路工程集团有限公司」为同一单位，应当回避",
        "E08": "专家 E08 冯晓梅 的工作单位「云南 滇中路桥建设股份有限公司」"
        "与投标人「云南滇中路桥建设有限公司」为同一单位，应当回避",
        "E09": "专家 E09 陈立新 在信用黑名单中（陈 立新（云南大学），"
        "事由：评审中违反评标纪律(通报第12号)，期限至 2027-06-30），不得参加评标",
    }
    for code, message in refusals.items():
        resp = await client.post(
            f"/api/sessions/{sid}/experts", json={"expert_id": pool[code]}, headers=host
        )
        body = await problem(resp, 409)
        assert (body["detail"], body["expert"]) == (message, code)
        assert [r["message"] for r in body["reasons"]] == [message]
    # Left a bidder seven years ago: beyond the configured 3 years, so E10 may sit.
    resp = await client.post(
        f"/api/sessions/{sid}/experts", json={"expert_id": pool["E10"]}, headers=host
    )
    assert resp.status == 201, await resp.text()
    # The start waits for E03's replacement: never dropped silently.
    assert client.app is not None
    await act(client, host, sid, "confirm_seats", "open_check_in")
    await confirm_committee(client.app[DB], sid, client.app[CLOCK]())
    resp = await client.post(
        f"/api/sessions/{sid}/actions", json={"action": "start_evaluation"}, headers=host
    )
    assert (await problem(resp, 409))[
        "detail"
    ] == "以下成员须回避并更换后才能开始评审：" + e03_message
    events = await _events(database)
    found = [e for e in events if e.kind == "pool.recusal_found"]
    assert [(e.subject, e.payload["members"][0]["expert"]) for e in found] == [
        (f"session:{sid}", "E03")
    ]
    refused = [e for e in events if e.kind == "pool.recusal_refused"]
    assert [
        (e.subject, e.actor, e.payload["expert"], e.payload["reasons"][0]["message"])
        for e in refused
    ] == [(f"session:{sid}", "km_operator", code, message) for code, message in refusals.items()]


async def test_an_upload_is_not_read_before_the_principal_is_checked(
    client: Client, seeded: dict[str, Any]
) -> None:
    """A body over the size limit from someone who may not upload is refused as theirs (403),
    never measured or read first (413 would say the hub read it)."""
    from evaluation_hub.pool.importing import MAX_FILE_BYTES

    host = await login(client, "km_operator")
    supervisor = await login(client, "km_supervisor")
    size = MAX_FILE_BYTES + 1

    def oversized() -> io.BytesIO:
        return io.BytesIO(b"x" * size)

    for path in ("/api/pool/experts/import", "/api/pool/blacklist/import"):
        resp = await client.post(path, data=oversized(), headers=host)
        assert resp.status == 403, (path, await resp.text())
    sid = seeded["session"]
    resp = await client.post(
        f"/api/sessions/{sid}/draw-record", data=oversized(), headers=supervisor
    )
    assert resp.status == 403, await resp.text()
    # The one who may is told the limit.
    admin = await login(client, "sysadmin")
    resp = await client.post("/api/pool/experts/import", data=oversized(), headers=admin)
    assert (await problem(resp, 413))["detail"] == (
        f"文件超过 {MAX_FILE_BYTES // (1024 * 1024)} MB 上限"
    )
