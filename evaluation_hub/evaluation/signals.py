"""Collusion signals (串通投标提示信号) as the hub stores and shows them: typed, by place and
size, never with the shared text, never as a finding (提示信号，不构成违规认定).

Between bidders (what the package alone shows, found at the attach and stored as JSON on the
package row, ``similarity`` and ``collusion``): alike chapters under the same chapter id
(``scoring.similarity.find_similar_pairs``) and under different ones, shared unusual strings and
identical price tails (``scoring.collusion``). Between experts (what the sealed sheets show,
computed when read, never stored): near-identical score sheets (``scoring.review.signals``).

Pure: stored JSON or scoring results in, dataclasses out. The report's annex computes the same
signals from the package and the sealed scores with :func:`computed_signals`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from scoring.collusion import (
    BidderSignals,
    Place,
    PriceTail,
    SharedString,
    StringKind,
    bidder_signals,
)
from scoring.decimals import quantize
from scoring.model import BidPackage
from scoring.review import signals as sheet_signals
from scoring.sheets import Reintegrated
from scoring.similarity import (
    CrossChapterPair,
    SharedPassage,
    SimilarPair,
)

__all__ = [
    "DISCLAIMER",
    "BidderView",
    "CollusionSignals",
    "PairSignal",
    "SheetSignal",
    "annex_rows",
    "bidder_signals_json",
    "bidder_view",
    "computed_signals",
    "passages_json",
    "sheet_view",
    "signals_json",
    "similarity_json",
]

#: what every page and the report say above the signals
DISCLAIMER = "提示信号，不构成违规认定：以下内容仅供监督人员核查，不代表存在串通投标或违规行为。"


@dataclass(frozen=True, slots=True)
class PairSignal:
    """Two bidders' alike chapters (标书雷同): the same chapter id or two different ones."""

    bidder_a: str
    chapter_a: str
    bidder_b: str
    chapter_b: str
    jaccard: float
    containment: float
    #: shared passages listed, and the longest, in normalised characters
    passages: int
    longest: int

    @property
    def same_chapter(self) -> bool:
        return self.chapter_a == self.chapter_b


@dataclass(frozen=True, slots=True)
class BidderView:
    """The signals between bidders; ``checked`` False: the package was attached before the
    cross-chapter, string and price checks ran at the attach (only same-chapter pairs)."""

    pairs: tuple[PairSignal, ...]
    strings: tuple[SharedString, ...]
    prices: tuple[PriceTail, ...]
    checked: bool

    @property
    def count(self) -> int:
        return len(self.pairs) + len(self.strings) + len(self.prices)


@dataclass(frozen=True, slots=True)
class SheetSignal:
    """Two experts' near-identical sheets; an expert the caller may not see is None."""

    expert_a: str | None
    expert_b: str | None
    #: share of scored items with the same value, 0–1
    agreement: Decimal


@dataclass(frozen=True, slots=True)
class CollusionSignals:
    session_id: int
    #: None: no package attached, or signals between bidders are not the caller's to see
    bidders: BidderView | None
    #: None: not computed (the sheets are not sealed yet, or there was no key to open the
    #: shuffle's seed with); computed from the sealed sheets
    sheets: tuple[SheetSignal, ...] | None
    #: the caller sees everything (host site), or one away venue's experts
    everything: bool = True
    sealed: bool = False


def passages_json(passages: Sequence[SharedPassage]) -> list[dict[str, int]]:
    # Places and sizes only: a shared passage may carry a bidder's identity.
    return [
        {"length": p.length, "start_a": p.start_a, "end_a": p.end_a, "start_b": p.start_b}
        for p in passages
    ]


def similarity_json(pair: SimilarPair) -> dict[str, Any]:
    """A same-chapter pair as the package row stores it (``similarity``)."""
    return {
        "chapter_id": pair.chapter_id,
        "bidder_a": pair.bidder_a,
        "bidder_b": pair.bidder_b,
        "jaccard": round(pair.jaccard, 4),
        "containment": round(pair.containment, 4),
        "passages": passages_json(pair.passages),
    }


def _cross_json(p: CrossChapterPair) -> dict[str, Any]:
    return {
        "bidder_a": p.bidder_a,
        "chapter_a": p.chapter_a,
        "bidder_b": p.bidder_b,
        "chapter_b": p.chapter_b,
        "jaccard": round(p.jaccard, 4),
        "containment": round(p.containment, 4),
        "passages": passages_json(p.passages),
    }


def bidder_signals_json(found: BidderSignals) -> dict[str, Any]:
    """What the package row stores (``collusion``): places and sizes, never the text."""
    return {
        "cross_chapter": [_cross_json(p) for p in found.cross_chapter],
        "shared_strings": [
            {
                "kind": x.kind.value,
                "length": x.length,
                "places": [_place_json(p) for p in x.places],
            }
            for x in found.shared_strings
        ],
        "price_tails": [
            {
                "bidder_a": t.bidder_a,
                "bidder_b": t.bidder_b,
                "digits": t.digits,
                "lowest_place": str(t.lowest_place),
            }
            for t in found.price_tails
        ],
    }


def _pair(raw: Mapping[str, Any], same: str | None) -> PairSignal:
    lengths = [int(p["length"]) for p in raw["passages"]]
    return PairSignal(
        bidder_a=raw["bidder_a"],
        chapter_a=same or raw["chapter_a"],
        bidder_b=raw["bidder_b"],
        chapter_b=same or raw["chapter_b"],
        jaccard=float(raw["jaccard"]),
        containment=float(raw["containment"]),
        passages=len(lengths),
        longest=max(lengths, default=0),
    )


def bidder_view(
    similarity: Sequence[Mapping[str, Any]] | None, collusion: Mapping[str, Any] | None
) -> BidderView:
    """The stored signals of a package row (``similarity``, ``collusion``) as typed views."""
    pairs = [_pair(x, x["chapter_id"]) for x in similarity or ()]
    if collusion is None:
        return BidderView(tuple(pairs), (), (), checked=False)
    pairs += [_pair(x, None) for x in collusion["cross_chapter"]]
    strings = tuple(
        SharedString(
            StringKind(x["kind"]),
            int(x["length"]),
            tuple(
                Place(p["bidder_id"], p["chapter_id"], int(p["start"]), int(p["end"]))
                for p in x["places"]
            ),
        )
        for x in collusion["shared_strings"]
    )
    prices = tuple(
        PriceTail(t["bidder_a"], t["bidder_b"], int(t["digits"]), Decimal(t["lowest_place"]))
        for t in collusion["price_tails"]
    )
    return BidderView(tuple(pairs), strings, prices, checked=True)


def sheet_view(
    scores: Reintegrated, package: BidPackage, visible: Callable[[str], bool] = lambda _: True
) -> tuple[SheetSignal, ...]:
    """Near-identical sheets between experts, a pair shown when the caller may see one of the
    two; the other, if the caller may not see them, is left unnamed."""
    out = []
    for n in sheet_signals(scores, package).near_identical:
        a, b = visible(n.expert_a), visible(n.expert_b)
        if a or b:
            out.append(
                SheetSignal(n.expert_a if a else None, n.expert_b if b else None, n.agreement)
            )
    return tuple(out)


def computed_signals(
    session_id: int, package: BidPackage, scores: Reintegrated
) -> CollusionSignals:
    """Every signal computed afresh from the package and the sealed scores (the report's
    annex), through the same stored form the attach writes."""
    found = bidder_signals(package.texts, package.prices)
    similarity = [similarity_json(p) for p in found.same_chapter]
    collusion = bidder_signals_json(found)
    return CollusionSignals(
        session_id, bidder_view(similarity, collusion), sheet_view(scores, package), sealed=True
    )


_PLACES = {
    Decimal("0.001"): "厘",
    Decimal("0.01"): "分",
    Decimal("0.1"): "角",
    Decimal("1"): "元",
    Decimal("10"): "十元",
    Decimal("100"): "百元",
    Decimal("1000"): "千元",
    Decimal("10000"): "万元",
}


def _place_name(place: Decimal) -> str:
    return _PLACES.get(place.normalize(), f"{place.normalize():f} 元")


def _percent(share: Decimal) -> str:
    return f"{quantize(share * 100, 2)}%"


def signals_json(found: CollusionSignals) -> dict[str, Any]:
    """Collusion signals (串通投标提示信号): places and sizes, never the shared text, each a
    signal for people and never a finding. ``bidders`` is None when the caller may not see
    signals between bidders (an away supervisor) or no package is attached; ``sheets`` is None
    until the sheets are sealed (or without the key to open the shuffle)."""
    bidders = found.bidders
    return {
        "session_id": found.session_id,
        "disclaimer": DISCLAIMER,
        "scope": "everything" if found.everything else "venue",
        "bidders": None
        if bidders is None
        else {
            "checked": bidders.checked,
            "count": bidders.count,
            "pairs": [
                {
                    "kind": "same_chapter" if p.same_chapter else "cross_chapter",
                    "kind_name": "同章节内容雷同" if p.same_chapter else "跨章节内容雷同",
                    "bidder_a": p.bidder_a,
                    "chapter_a": p.chapter_a,
                    "bidder_b": p.bidder_b,
                    "chapter_b": p.chapter_b,
                    "jaccard": p.jaccard,
                    "containment": p.containment,
                    "passages": p.passages,
                    "longest": p.longest,
                }
                for p in bidders.pairs
            ],
            "strings": [
                {
                    "kind": x.kind.value,
                    "kind_name": x.kind.label,
                    "length": x.length,
                    "bidders": list(x.bidders),
                    "places": [_place_json(p) for p in x.places],
                }
                for x in bidders.strings
            ],
            "prices": [
                {
                    "kind_name": "报价尾数相同",
                    "bidder_a": t.bidder_a,
                    "bidder_b": t.bidder_b,
                    "digits": t.digits,
                    "lowest_place": str(t.lowest_place),
                    "lowest_place_name": _place_name(t.lowest_place),
                }
                for t in bidders.prices
            ],
        },
        "sealed": found.sealed,
        "sheets": None
        if found.sheets is None
        else [
            {
                "kind_name": "评分表高度一致",
                "expert_a": x.expert_a,
                "expert_b": x.expert_b,
                "agreement": str(x.agreement),
                "agreement_percent": _percent(x.agreement),
            }
            for x in found.sheets
        ],
    }


def annex_rows(found: CollusionSignals) -> list[list[str]]:
    """The report's annex (附件：串通投标提示信号) as plain-text rows: signal, who, where, size."""
    rows: list[list[str]] = []
    bidders = found.bidders
    for p in bidders.pairs if bidders else ():
        where = (
            p.chapter_a
            if p.same_chapter
            else f"{p.bidder_a} 的 {p.chapter_a} 与 {p.bidder_b} 的 {p.chapter_b}"
        )
        rows.append(
            [
                "同章节内容雷同" if p.same_chapter else "跨章节内容雷同",
                f"{p.bidder_a}、{p.bidder_b}",
                where,
                f"相似度 {p.jaccard:.2f}，包含度 {p.containment:.2f}；"
                f"相同段落 {p.passages} 处，最长 {p.longest} 字",
            ]
        )
    for x in bidders.strings if bidders else ():
        places = "；".join(
            f"{q.bidder_id} 的 {q.chapter_id} 第 {q.start + 1}–{q.end} 字" for q in x.places
        )
        rows.append(
            [x.kind.label, "、".join(x.bidders), places, f"{x.length} 个字符（内容不列出）"]
        )
    for t in bidders.prices if bidders else ():
        rows.append(
            [
                "报价尾数相同",
                f"{t.bidder_a}、{t.bidder_b}",
                "投标报价",
                f"末尾 {t.digits} 位相同（最低位 {t.lowest_place.normalize():f} 元位），"
                "超出取整可解释的范围",
            ]
        )
    for n in found.sheets or ():
        rows.append(
            [
                "评分表高度一致",
                f"专家 {n.expert_a}、专家 {n.expert_b}",
                "全部评分项",
                f"{quantize(n.agreement * 100, 2)}% 的评分项分值相同",
            ]
        )
    return rows


def _place_json(p: Place) -> dict[str, Any]:
    # Where a shared string stands: never its text (it may name a bidder).
    return {"bidder_id": p.bidder_id, "chapter_id": p.chapter_id, "start": p.start, "end": p.end}
