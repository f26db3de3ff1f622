"""Collusion signals (串通投标提示信号) over HTTP: a package with two near-identical bids raises
them at the attach for the host's console and the host's supervisors, by place and size only;
an away supervisor sees no signal between bidders and, once the sheets are sealed, only the
near-identical sheets that involve an expert seated at their venue (the other left unnamed).
Reading the signals writes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evaluation_hub.audit.store import load_chain
from evaluation_hub.bids.package_io import read_package
from evaluation_hub.db.engine import Database
from tests.conftest import FakeClock
from tests.evaluation.helpers import (
    PLANTED_TOKEN,
    Client,
    act,
    attach,
    hub_shuffle,
    identities,
    near_identical_package,
    new_session,
    seat_members,
    start,
)
from tests.evaluation.test_overview_reads import _snapshot
from tests.evaluation.test_review_and_signing import _points, _score_all
from tests.hub.helpers import login, problem

DISCLAIMER = "提示信号，不构成违规认定：以下内容仅供监督人员核查，不代表存在串通投标或违规行为。"

BIDDER_SIGNALS = {
    "checked": True,
    "count": 6,
    "pairs": [
        {
            "kind": "same_chapter", "kind_name": "同章节内容雷同",
            "bidder_a": "b01", "chapter_a": "ch3", "bidder_b": "b03", "chapter_b": "ch3",
            "jaccard": 1.0, "containment": 1.0, "passages": 1, "longest": 313,
        },
        {
            "kind": "same_chapter", "kind_name": "同章节内容雷同",
            "bidder_a": "b02", "chapter_a": "ch3", "bidder_b": "b05", "chapter_b": "ch3",
            "jaccard": 0.8983, "containment": 0.9502, "passages": 5, "longest": 246,
        },
        {
            "kind": "cross_chapter", "kind_name": "跨章节内容雷同",
            "bidder_a": "b01", "chapter_a": "ch1", "bidder_b": "b03", "chapter_b": "ch2",
            "jaccard": 1.0, "containment": 1.0, "passages": 1, "longest": 567,
        },
        {
            "kind": "cross_chapter", "kind_name": "跨章节内容雷同",
            "bidder_a": "b01", "chapter_a": "ch2", "bidder_b": "b03", "chapter_b": "ch1",
            # b03's copy ends with 11 more normalised characters (附试验记录qx719b): 11 new
            # shingles beside b01's 383, 383 / 394 = 0.9721
            "jaccard": 0.9721, "containment": 1.0, "passages": 1, "longest": 387,
        },
    ],
    "strings": [
        {
            "kind": "code", "kind_name": "相同的特殊字符串", "length": 7,
            "bidders": ["b01", "b03"],
            "places": [
                {"bidder_id": "b01", "chapter_id": "ch3", "start": 400, "end": 407},
                {"bidder_id": "b03", "chapter_id": "ch1", "start": 469, "end": 476},
                {"bidder_id": "b03", "chapter_id": "ch3", "start": 400, "end": 407},
            ],
        }
    ],
    "prices": [
        {
            "kind_name": "报价尾数相同", "bidder_a": "b01", "bidder_b": "b03", "digits": 4,
            "lowest_place": "0.01", "lowest_place_name": "分",
        }
    ],
}  # fmt: skip


def _sheets(a: str | None, b: str | None) -> dict[str, Any]:
    return {
        "kind_name": "评分表高度一致",
        "expert_a": a,
        "expert_b": b,
        "agreement": "1",
        "agreement_percent": "100.00%",
    }


async def _get(client: Client, url: str, user: str) -> dict[str, Any]:
    resp = await client.get(url, headers=await login(client, user))
    assert resp.status == 200, await resp.text()
    found: dict[str, Any] = await resp.json()
    return found


async def test_near_identical_bids_and_sheets_raise_signals_within_each_scope(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    console = f"/api/sessions/{sid}/evaluation/signals"
    supervision = f"/api/sessions/{sid}/supervision/signals"
    # E03 sits at 大理, E05 at 曲靖; E01 and E02 are host members
    await seat_members(client, seeded, database, sid, {"E03": "DL-01", "E05": "QJ-01"}, clock())
    assert (await _get(client, console, "km_operator"))["bidders"] is None  # nothing attached
    await act(client, host, sid, "confirm_seats", "open_check_in")
    package_dir = near_identical_package(tmp_path)
    assert (await attach(client, host, sid, package_dir)).status == 201

    found = await _get(client, console, "km_operator")
    assert found == {
        "session_id": sid,
        "disclaimer": DISCLAIMER,
        "scope": "everything",
        "bidders": BIDDER_SIGNALS,
        "sealed": False,
        "sheets": None,
    }
    # Places and sizes only: neither the planted token nor any bidder's identity is sent.
    text = json.dumps(found, ensure_ascii=False)
    assert PLANTED_TOKEN not in text
    package = read_package(package_dir)
    assert [m for m in identities(package) if m in text] == []
    for place in BIDDER_SIGNALS["strings"][0]["places"]:  # type: ignore[index]
        key = (place["bidder_id"], place["chapter_id"])
        assert package.texts[key][place["start"] : place["end"]] == PLANTED_TOKEN
    host_supervisor = await _get(client, supervision, "km_supervisor")
    assert host_supervisor == found
    dl = await _get(client, supervision, "dl_supervisor")
    assert (dl["scope"], dl["bidders"], dl["sheets"]) == ("venue", None, None)
    resp = await client.get(supervision, headers=await login(client, "hh_supervisor"))
    assert (await problem(resp, 403))["detail"] == (
        f"只有评标会 #{sid} 主场或客场的监督人员可以查看其监督记录，"
        "当前用户 hh_supervisor（监督人员）无此权限"
    )
    async with database.read() as s:
        [event] = [e for e in await load_chain(s) if e.kind == "evaluation.package_attached"]
    assert {k: event.payload[k] for k in ("similar_pairs", "cross_chapter_pairs")} == {
        "similar_pairs": 2,
        "cross_chapter_pairs": 2,
    }
    assert (event.payload["shared_strings"], event.payload["price_tails"]) == (1, 1)

    # The sheets: E01 and E03 score alike throughout; each other member differs from every
    # other in at least three of the forty scored items (92.5 % alike, under the 95 %).
    await start(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    odd = {
        "E02": _points(**{f"{b}_1.1": "6.5" for b in ("b01", "b02", "b03")}),
        "E04": _points(**{f"{b}_2.1": "5.5" for b in ("b01", "b02", "b03")}),
        "E05": _points(**{f"{b}_1.2": "3" for b in ("b01", "b02", "b03")}),
    }
    await _score_all(client, host, sid, shuffle, odd)
    base = f"/api/sessions/{sid}/evaluation"
    resp = await client.post(f"{base}/review", headers=host)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["created"] == []
    assert (await _get(client, console, "km_operator"))["sheets"] is None  # not sealed yet
    resp = await client.post(f"{base}/seal", headers=host)
    assert resp.status == 200, await resp.text()

    before = await _snapshot(database)
    sealed = await _get(client, console, "km_operator")
    assert (sealed["sealed"], sealed["sheets"]) == (True, [_sheets("E01", "E03")])
    assert await _get(client, supervision, "km_supervisor") == sealed
    dl = await _get(client, supervision, "dl_supervisor")
    # E01 sits at the host: 大理's supervisor sees the pair through E03, E01 unnamed
    assert (dl["bidders"], dl["sheets"]) == (None, [_sheets(None, "E03")])
    qj = await _get(client, supervision, "qj_supervisor")
    assert (qj["bidders"], qj["sheets"]) == (None, [])
    # reading computed the sheets' signal and stored nothing, not even an audit event
    assert await _snapshot(database) == before
