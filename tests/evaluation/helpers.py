"""Helpers for the evaluation engine's tests: a small session through the API, its start once
the committee confirmed, the shuffle as only the hub knows it (tests play every expert, so they
may look), and sheets per part."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from evaluation_hub.api.keys import CLOCK, DB, SEALER
from evaluation_hub.bids.package_io import read_package
from evaluation_hub.db.engine import Database
from evaluation_hub.evaluation.context import stored_shuffle
from evaluation_hub.evaluation.models import EvaluationPackageRow
from scoring.model import COMMERCIAL_PART, BidPackage
from scoring.shuffle import StaggeredShuffle
from tests.hub.helpers import confirm_committee

Client = TestClient[Any, Any]

DEMO_PACKAGE = Path(__file__).resolve().parents[2] / "configs" / "demo" / "bid_package"
FIVE = ("E01", "E02", "E03", "E04", "E05")


def demo_package() -> BidPackage:
    return read_package(DEMO_PACKAGE)


def identities(package: BidPackage) -> list[str]:
    """What must never appear in an answer before sealing: names, aliases, codes, staff."""
    marks: list[str] = []
    for b in package.bidders:
        marks.extend([b.name, b.credit_code, *b.aliases, *b.key_staff])
    return marks


async def new_session(
    client: Client, host: dict[str, str], seeded: dict[str, Any], experts: tuple[str, ...] = FIVE
) -> int:
    resp = await client.post(
        "/api/sessions",
        json={
            "project_code": "YNGGZY-PE-2025-JS-0417",
            "project_name": "普洱市思茅区南屏至倚象公路提升改造工程",
            "section": "施工第一标段",
            "starts_at": "2026-12-01T09:00:00+08:00",
            "ends_at": "2026-12-01T17:30:00+08:00",
            "committee_size": len(experts) or 5,
        },
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    sid = int((await resp.json())["id"])
    for n, code in enumerate(experts):
        resp = await client.post(
            f"/api/sessions/{sid}/experts",
            json={"expert_id": seeded["experts"][code], "placement": "host" if n < 2 else "away"},
            headers=host,
        )
        assert resp.status == 201, await resp.text()
    return sid


async def act(client: Client, host: dict[str, str], sid: int, *actions: str) -> None:
    for action in actions:
        resp = await client.post(
            f"/api/sessions/{sid}/actions", json={"action": action}, headers=host
        )
        assert resp.status == 200, await resp.text()


async def start(client: Client, host: dict[str, str], sid: int) -> None:
    """``start_evaluation`` from check-in: every member still pending confirms the integrity
    commitment first (``confirm_committee``), since the hub starts only a lawful committee."""
    assert client.app is not None
    await confirm_committee(client.app[DB], sid, client.app[CLOCK]())
    await act(client, host, sid, "start_evaluation")


async def attach(client: Client, host: dict[str, str], sid: int, path: Path = DEMO_PACKAGE) -> Any:
    return await client.post(
        f"/api/sessions/{sid}/evaluation/package", json={"path": str(path)}, headers=host
    )


async def hub_shuffle(client: Client, database: Database, sid: int) -> StaggeredShuffle:
    """The session's shuffle, opened with the hub's sealing key (what only the hub can do)."""
    async with database.read() as s:
        row = (
            await s.execute(
                select(EvaluationPackageRow).where(EvaluationPackageRow.session_id == sid)
            )
        ).scalar_one()
    assert client.app is not None
    return stored_shuffle(row, client.app[SEALER])


def part_save(
    package: BidPackage,
    shuffle: StaggeredShuffle,
    expert: str,
    part: str,
    points: Mapping[tuple[str, str], str],
    comment: str = "见评审意见",
) -> dict[str, Any]:
    """One expert's save of one part; ``points`` maps (bidder, item) → points."""
    entries = []
    if part == COMMERCIAL_PART:
        for b in package.bidder_ids:
            for i in package.commercial_items:
                entries.append(
                    {"subject": b, "item": i.id, "points": points[b, i.id], "comment": comment}
                )
    else:
        chapter = package.chapter(part)
        for label in shuffle.view(expert).chapters[package.chapter_ids.index(part)].labels:
            b = shuffle.bidder_for(expert, part, label)
            for i in chapter.items:
                entries.append(
                    {"subject": label, "item": i.id, "points": points[b, i.id], "comment": comment}
                )
    return {"expert": expert, "part": part, "entries": entries}


def total(values: list[str]) -> Decimal:
    return sum((Decimal(v) for v in values), Decimal(0))
