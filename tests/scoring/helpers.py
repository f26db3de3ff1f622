"""Shared builders for the scoring tests: the demo package and sheets written through a shuffle."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from evaluation_hub.bids.package_io import read_package
from scoring.model import COMMERCIAL_PART, BidPackage
from scoring.review import ReviewConfig
from scoring.sheets import ScoreEntry, ScoreSheet
from scoring.shuffle import ShuffleManifest, StaggeredShuffle

DEMO_PACKAGE = Path(__file__).resolve().parents[2] / "configs" / "demo" / "bid_package"
SEED = bytes(range(32))
#: the national default deviation share (``Regulation.review``; the demo package sets the same)
NATIONAL = ReviewConfig(share=Decimal("0.30"))


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
