"""Benchmark the scoring engine: similarity, collusion signals and the staggered shuffle. Prints
figures, no verdict.

    .venv/bin/python bench/scoring.py [--bidders 30] [--chapters 20] [--kb 20] [--experts 50]

1. Similarity (标书雷同) for ``bidders × chapters`` chapters of ``kb`` KB of UTF-8 Chinese
   text each (≈ kb × 1024 / 3 characters), with a few planted near-copies per chapter:
   MinHash + LSH (``find_similar_pairs``) against two baselines in the same run — the
   exhaustive exact Jaccard over numpy shingle sets, and the naive exact pairwise Jaccard
   over Python sets of shingle strings.
2. Collusion signals between bidders (``scoring.collusion.bidder_signals``, what the attach
   runs besides the same-chapter check) on the same corpus, with one chapter copied under
   another chapter id (b05's ch03 from b04's ch07, lightly edited): cross-chapter similarity
   (``find_cross_chapter_pairs``) against the exhaustive exact check of every cross-chapter
   pair as its baseline, in the same run; shared unusual strings; price tails; and the whole
   of ``bidder_signals`` (same-chapter and cross-chapter pairs, strings outside chapters
   already alike, price tails), which is what the attach runs for the signals.
3. Staggered shuffle for ``experts × bidders × chapters``: commitment, derivation of every
   view, re-integration of every expert's full sheet, aggregation, and a full verify.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from itertools import combinations
from pathlib import Path
from typing import TypeVar

# Run as a script, this file's directory comes first on sys.path and its own name would shadow
# the `scoring` package; the repository root goes in front of it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring.aggregation import aggregate
from scoring.collusion import bidder_signals, price_tails, shared_strings
from scoring.model import (
    COMMERCIAL_PART,
    AggregationRule,
    Band,
    BenchmarkRule,
    Bidder,
    BidPackage,
    ChapterSpec,
    EvaluationMethod,
    PriceFormula,
    PriceRule,
    Project,
    RubricItem,
    Section,
)
from scoring.sheets import ScoreEntry, ScoreSheet, reintegrate
from scoring.shuffle import ShuffleManifest, commitment, derive, verify
from scoring.similarity import (
    SimilarityConfig,
    exhaustive_cross_chapter_pairs,
    exhaustive_similar_pairs,
    find_cross_chapter_pairs,
    find_similar_pairs,
    normalise,
)

T = TypeVar("T")

PHRASES = (
    "路基填筑分层碾压",
    "压实度按重型击实标准检测",
    "沥青混合料摊铺温度",
    "水泥稳定碎石基层",
    "边坡防护随挖随护",
    "雨季施工排水系统",
    "安全技术交底",
    "质量三检制度",
    "拌和站集中拌和",
    "施工便道洒水降尘",
    "关键线路",
    "进度纠偏措施",
    "挡土墙跳槽开挖",
    "涵洞接长",
    "桥梁加固",
    "交通疏导",
    "危险源辨识",
    "应急演练",
    "试验检测",
    "原材料进场复检",
)
HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 6000)]


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _chapter_text(rng: random.Random, chars: int) -> str:
    parts: list[str] = []
    length = 0
    while length < chars:
        piece = (
            rng.choice(PHRASES)
            if rng.random() < 0.3
            else "".join(rng.choices(HAN, k=rng.randint(8, 30)))
        )
        parts.append(piece + rng.choice("，。；"))
        length += len(parts[-1])
    return "".join(parts)[:chars]


def _near_copy(rng: random.Random, text: str, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        chars[rng.randrange(len(chars))] = rng.choice(HAN)
    return "".join(chars)


def _corpus(bidders: int, chapters: int, kb: int) -> dict[tuple[str, str], str]:
    rng = random.Random(20240611)
    chars = kb * 1024 // 3
    texts: dict[tuple[str, str], str] = {}
    for c in range(chapters):
        for b in range(bidders):
            texts[f"b{b:02d}", f"ch{c:02d}"] = _chapter_text(rng, chars)
        # plant: b01 copies b00 lightly, b03 copies b02 heavily edited
        texts["b01", f"ch{c:02d}"] = _near_copy(rng, texts["b00", f"ch{c:02d}"], chars // 100)
        texts["b03", f"ch{c:02d}"] = _near_copy(rng, texts["b02", f"ch{c:02d}"], chars // 25)
    return texts


def _naive_pairs(
    texts: dict[tuple[str, str], str], n: int, threshold: float
) -> list[tuple[str, str, str]]:
    """Baseline: exact Jaccard over Python sets of shingle strings, every pair."""
    sets: dict[tuple[str, str], set[str]] = {}
    for key, text in texts.items():
        codes, _ = normalise(text)
        s = "".join(map(chr, codes.tolist()))
        sets[key] = {s[i : i + n] for i in range(len(s) - n + 1)}
    chapters = sorted({c for _, c in texts})
    bidders = sorted({b for b, _ in texts})
    found = []
    for c in chapters:
        for a, b in combinations(bidders, 2):
            sa, sb = sets[a, c], sets[b, c]
            shared = len(sa & sb)
            if shared / (len(sa) + len(sb) - shared) >= threshold:
                found.append((c, a, b))
    return found


def bench_similarity(bidders: int, chapters: int, kb: int) -> None:
    texts, gen = _timed(lambda: _corpus(bidders, chapters, kb))
    size = sum(len(t.encode()) for t in texts.values())
    print(
        f"similarity: {bidders} bidders × {chapters} chapters × {kb} KB "
        f"({len(texts)} chapters, {size / 1e6:.1f} MB UTF-8; corpus built in {gen:.1f} s)"
    )
    config = SimilarityConfig(jaccard_threshold=0.5)
    # the normalisation table is built once per process; time it apart
    _, t_table = _timed(lambda: normalise("预热"))
    print(f"  normalisation table, built once per process  {t_table:5.2f} s")
    lsh, t_lsh = _timed(lambda: find_similar_pairs(texts, config))
    exact, t_exact = _timed(lambda: exhaustive_similar_pairs(texts, config))
    naive, t_naive = _timed(lambda: _naive_pairs(texts, config.shingle, config.jaccard_threshold))
    key = [(p.chapter_id, p.bidder_a, p.bidder_b) for p in lsh]
    print(f"  MinHash+LSH (find_similar_pairs)        {t_lsh:7.2f} s   {len(lsh)} pairs")
    print(f"  baseline: exhaustive numpy exact Jaccard {t_exact:7.2f} s   {len(exact)} pairs")
    print(f"  baseline: naive Python-set Jaccard       {t_naive:7.2f} s   {len(naive)} pairs")
    print(
        f"  LSH pairs == exhaustive pairs: {key == [(p.chapter_id, p.bidder_a, p.bidder_b) for p in exact]}; "
        f"== naive pairs: {key == naive}"
    )


def _cross(p: object) -> tuple[str, str, str, str]:
    return (p.bidder_a, p.chapter_a, p.bidder_b, p.chapter_b)  # type: ignore[attr-defined]


def bench_collusion(bidders: int, chapters: int, kb: int, exhaustive: bool) -> None:
    texts = _corpus(bidders, chapters, kb)
    rng = random.Random(5)
    chars = kb * 1024 // 3
    texts["b05", "ch03"] = _near_copy(rng, texts["b04", "ch07"], chars // 100)
    prices = {f"b{b:02d}": Decimal(rng.randrange(30_000_000, 40_000_000)) for b in range(bidders)}
    prices["b07"] = Decimal("36961205.37")
    prices["b08"] = Decimal("35400005.37")
    print("collusion signals: the same corpus, b05/ch03 copied from b04/ch07 under another id")
    same, t_same = _timed(lambda: find_similar_pairs(texts))
    cross, t_cross = _timed(lambda: find_cross_chapter_pairs(texts))
    strings, t_strings = _timed(lambda: shared_strings(texts))
    tails, t_tails = _timed(lambda: price_tails(prices))
    everything, t_all = _timed(lambda: bidder_signals(texts, prices))
    print(f"  baseline: same-chapter MinHash+LSH      {t_same:7.2f} s   {len(same)} pairs")
    print(f"  cross-chapter (estimate matrix + exact) {t_cross:7.2f} s   {len(cross)} pairs")
    print(f"  shared unusual strings, unfiltered      {t_strings:7.2f} s   {len(strings)} strings")
    print(f"  price tails                             {t_tails * 1000:7.1f} ms  {len(tails)} pairs")
    print(
        f"  bidder_signals, all of it (the attach)  {t_all:7.2f} s   "
        f"{len(everything.same_chapter)} + {len(everything.cross_chapter)} pairs, "
        f"{len(everything.shared_strings)} strings outside alike chapters, "
        f"{len(everything.price_tails)} price tails"
    )
    if exhaustive:
        exact, t_exact = _timed(lambda: exhaustive_cross_chapter_pairs(texts))
        print(f"  baseline: exhaustive cross-chapter      {t_exact:7.2f} s   {len(exact)} pairs")
        print(
            f"  cross-chapter pairs == exhaustive: {[_cross(p) for p in cross] == [_cross(p) for p in exact]}"
        )


def _package(bidders: int, chapters: int, items: int) -> BidPackage:
    def item(i: str) -> RubricItem:
        return RubricItem(
            i, i, Decimal(10), Decimal("0.5"), (Band(Decimal(0), Decimal(10), "全部"),)
        )

    specs = tuple(
        ChapterSpec(
            f"ch{c:02d}", f"第{c}章", Decimal(1), tuple(item(f"{c}.{k}") for k in range(items))
        )
        for c in range(chapters)
    )
    bidder_list = tuple(Bidder(f"b{b:02d}", f"投标人{b}", f"code{b}") for b in range(bidders))
    method = EvaluationMethod(
        "综合评估法",
        2,
        AggregationRule.TRIMMED,
        Decimal(1),
        Decimal(1),
        PriceRule(Decimal(30), PriceFormula.RATIO, BenchmarkRule.LOWEST),
    )
    return BidPackage(
        Project("P", "P", "T"),
        Section("S", "S"),
        method,
        specs,
        (item("c1"),),
        bidder_list,
        {b.id: Decimal(100) for b in bidder_list},
        {},
        {},
    )


def bench_shuffle(experts: int, bidders: int, chapters: int, items: int = 3) -> None:
    package = _package(bidders, chapters, items)
    manifest = ShuffleManifest(
        "BENCH", tuple(f"E{e:02d}" for e in range(experts)), package.chapter_ids, package.bidder_ids
    )
    seed = bytes(range(32))
    print(
        f"shuffle: {experts} experts × {bidders} bidders × {chapters} chapters "
        f"({experts * chapters} views, {items} items per chapter)"
    )
    committed, t_commit = _timed(lambda: commitment(seed, manifest))
    shuffle, t_derive = _timed(lambda: derive(seed, manifest))
    rng = random.Random(1)
    sheets = []
    for e in manifest.expert_ids:
        entries = [
            ScoreEntry(c.id, label, i.id, Decimal(rng.randint(0, 20)) / 2)
            for c in package.chapters
            for label in shuffle.view(e).chapters[package.chapter_ids.index(c.id)].labels
            for i in c.items
        ]
        entries += [ScoreEntry(COMMERCIAL_PART, b, "c1", Decimal(5)) for b in package.bidder_ids]
        sheets.append(ScoreSheet("BENCH", e, tuple(entries)))
    scores, t_reint = _timed(lambda: reintegrate(sheets, shuffle))
    _, t_agg = _timed(lambda: aggregate(scores, package))
    published = shuffle.published()
    _, t_verify = _timed(lambda: verify(seed, manifest, committed, published))
    total = sum(len(s.entries) for s in sheets)
    print(f"  commitment                 {t_commit * 1000:8.1f} ms")
    print(f"  derive every view          {t_derive * 1000:8.1f} ms")
    print(f"  re-integrate {total} scores {t_reint * 1000:8.1f} ms")
    print(f"  aggregate (trimmed)        {t_agg * 1000:8.1f} ms")
    print(f"  verify seed + all views    {t_verify * 1000:8.1f} ms")
    print(f"  shuffle + re-integration   {(t_derive + t_reint) * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bidders", type=int, default=30)
    parser.add_argument("--chapters", type=int, default=20)
    parser.add_argument("--kb", type=int, default=20)
    parser.add_argument("--experts", type=int, default=50)
    parser.add_argument(
        "--no-exhaustive",
        action="store_true",
        help="skip the exhaustive cross-chapter baseline (every pair checked exactly: slow)",
    )
    args = parser.parse_args()
    print(
        f"python {platform.python_version()} on {platform.machine()}, {platform.processor() or 'cpu'}"
    )
    bench_similarity(args.bidders, args.chapters, args.kb)
    bench_collusion(args.bidders, args.chapters, args.kb, not args.no_exhaustive)
    bench_shuffle(args.experts, args.bidders, args.chapters)


if __name__ == "__main__":
    main()
