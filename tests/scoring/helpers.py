"""Shared builders for the scoring tests: the demo package and sheets written through a shuffle."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from evaluation_hub.bids.package_io import read_package
from scoring.model import COMMERCIAL_PART, BidPackage
from scoring.review import ReviewConfig
from scoring.sheets import ScoreEntry, ScoreSheet
from scoring.shuffle import ShuffleManifest, StaggeredShuffle

DEMO_PACKAGE = Path(__file__).resolve().parents[2] / "configs" / "demo" / "bid_package"
SEED = bytes(range(32))
#: the national default deviation share (``Regulation.review``; the demo package sets the same)
NATIONAL = ReviewConfig(share=Decimal("0.30"))
CODE_A = "91530100MA6K7R2D1N"
CODE_B = "91530800709813562W"


def demo_package() -> BidPackage:
    return read_package(DEMO_PACKAGE)


def manifest_for(
    package: BidPackage, experts: tuple[str, ...], session: str = "S-1"
) -> ShuffleManifest:
    return ShuffleManifest(session, experts, package.chapter_ids, package.bidder_ids)


def sheets_through_shuffle(
    package: BidPackage,
    shuffle: StaggeredShuffle,
    points: Mapping[tuple[str, str, str, str], Decimal],
    comment: str = "见评审意见",
) -> list[ScoreSheet]:
    """Each expert's sheet as they would fill it in: technical items under their own labels.

    ``points`` maps (expert, part, bidder, item) → points, the truth re-integration must return.
    """
    sheets = []
    for expert in shuffle.manifest.expert_ids:
        entries = []
        for c in package.chapters:
            for b in package.bidder_ids:
                label = shuffle.label_for(expert, c.id, b)
                for i in c.items:
                    entries.append(
                        ScoreEntry(c.id, label, i.id, points[expert, c.id, b, i.id], comment)
                    )
        for b in package.bidder_ids:
            for i in package.commercial_items:
                entries.append(
                    ScoreEntry(
                        COMMERCIAL_PART, b, i.id, points[expert, COMMERCIAL_PART, b, i.id], comment
                    )
                )
        sheets.append(ScoreSheet(shuffle.manifest.session_id, expert, tuple(entries)))
    return sheets


def minimal_documents() -> dict[str, Any]:
    """The documents of a small valid package: two bidders, one chapter, one item."""
    item = {
        "id": "1.1",
        "title": "方案",
        "max_points": "10",
        "step": "0.5",
        "bands": [
            {"low": "0", "high": "5.5", "description": "差"},
            {"low": "6", "high": "10", "description": "好"},
        ],
    }
    return {
        "package.yaml": {
            "format": "bid-package/1",
            "project": {"code": "P1", "name": "某公路工程", "tenderer": "某交通运输局"},
            "section": {"code": "S1", "name": "第一标段"},
            "evaluation_method": {
                "name": "综合评估法",
                "rounding_places": 2,
                "aggregation": "trimmed",
                "price": {"full_marks": "30", "formula": "ratio", "benchmark": "lowest"},
            },
            "chapters": [{"id": "ch1", "title": "施工组织设计"}],
        },
        "bidders.yaml": {
            "bidders": [
                {"id": "b1", "name": "甲公司", "credit_code": CODE_A},
                {"id": "b2", "name": "乙公司", "credit_code": CODE_B},
            ]
        },
        "rubric.yaml": {
            "technical": {"ch1": [item]},
            "commercial": [dict(item, id="c1", objective=True)],
        },
        "prices.yaml": {
            "prices": [{"bidder": "b1", "amount": "100.00"}, {"bidder": "b2", "amount": 120}]
        },
    }


def minimal_chapters() -> dict[str, bytes]:
    return {
        "chapters/b1/ch1.md": "# 第一章\n正文".encode(),
        "chapters/b2/ch1.html": "<html><head><title>T</title></head><body><p>正文</p></body></html>".encode(),
    }
