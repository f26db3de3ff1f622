"""The package's import report (``GET /api/sessions/{id}/evaluation/package``): what was
imported, from where, the parts, the anonymity scan and the similarity signals found at the
attach, stored by place and size only (never the shared text), for whoever may see the
session."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from evaluation_hub.evaluation.models import EvaluationPackageRow
from tests.evaluation.helpers import DEMO_PACKAGE, Client, act, attach, demo_package, identities
from tests.hub.helpers import login, problem


async def test_the_import_report_with_its_similarity_signal(
    client: Client, seeded: dict[str, Any], database: Database
) -> None:
    host = await login(client, "km_operator")
    sid = int(seeded["session"])
    url = f"/api/sessions/{sid}/evaluation/package"
    resp = await client.get(url, headers=host)
    assert (await problem(resp, 409))["detail"] == f"评标会 #{sid} 尚未导入标书包"
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    async with database.read() as s:
        row = (
            await s.execute(
                select(EvaluationPackageRow).where(EvaluationPackageRow.session_id == sid)
            )
        ).scalar_one()
    # b02 and b05 wrote chapter 3 alike: one pair, its passages by place and size only.
    assert row.similarity is not None
    [pair] = row.similarity
    assert {k: pair[k] for k in ("chapter_id", "bidder_a", "bidder_b")} == {
        "chapter_id": "ch3",
        "bidder_a": "b02",
        "bidder_b": "b05",
    }
    assert [sorted(p) for p in pair["passages"]] == [["end_a", "length", "start_a", "start_b"]] * 5
    texts = demo_package().texts
    first = pair["passages"][0]
    assert first["length"] == 246
    assert texts["b02", "ch3"][first["start_a"] : first["end_a"]].startswith("工期保证措施")

    resp = await client.get(url, headers=await login(client, "km_supervisor"))
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert report == {
        "session_id": sid,
        "source_path": str(DEMO_PACKAGE.resolve()),
        "content_digest": row.content_digest,
        "attached_by": "km_operator",
        "attached_at": "2026-11-30T01:00:00+00:00",
        "seed_commitment": row.seed_commitment,
        "project": {"code": "YNGGZY-PE-2025-JS-0417", "name": "普洱市思茅区南屏至倚象公路提升改造工程"},
        "section": {"code": "SG01", "name": "施工第一标段（K0+000—K18+600）"},
        "method": "综合评估法",
        "bidders": ["b01", "b02", "b03", "b04", "b05"],
        "parts": [
            {"id": "ch1", "name": "ch1 施工组织设计与主要技术方案", "items": 2},
            {"id": "ch2", "name": "ch2 质量与安全保证措施", "items": 2},
            {"id": "ch3", "name": "ch3 施工进度计划与工期保证措施", "items": 2},
            {"id": "commercial", "name": "商务部分", "items": 2},
        ],
        "anonymity": {"findings": 4, "flagged_chapters": ["b03/ch2"]},
        "similarity": [
            {
                "chapter_id": "ch3",
                "bidder_a": "b02",
                "bidder_b": "b05",
                "jaccard": 0.8983,
                "containment": 0.9502,
                "passages": 5,
                "longest_passage": 246,
            }
        ],
    }  # fmt: skip
    # Nothing names a bidder before the reveal: not the report, not the stored row.
    stored = json.dumps(row.similarity, ensure_ascii=False) + json.dumps(report, ensure_ascii=False)
    assert [m for m in identities(demo_package()) if m in stored] == []
    async with database.read() as s:
        [event] = [e for e in await load_chain(s) if e.kind == "evaluation.package_attached"]
    assert (event.payload["anonymity_findings"], event.payload["similar_pairs"]) == (4, 1)

    resp = await client.get(url, headers=await login(client, "dl_admin"))
    assert (await problem(resp, 403))["detail"] == f"评标会 #{sid} 不由本场地主办，无权查看"
