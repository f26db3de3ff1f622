"""Similarity between bidders' chapters (标书雷同), a collusion signal (围标串标).

Per chapter, every pair of bidders is compared on character n-gram shingles, which work for
Chinese text without word segmentation:

1. **Normalise**: drop whitespace, punctuation, symbols and control characters; fold
   full-width ASCII to ASCII and upper to lower case. The mapping is one character to at most
   one character, so every normalised position maps back to an offset in the original text
   (shared passages are reported in the bidder's own words).
2. **Shingle**: every run of ``n`` normalised characters (default 5) is hashed to 64 bits
   (a polynomial over the code points, then the splitmix64 finaliser), all in numpy.
3. **MinHash + LSH**: a ``num_perm``-value MinHash signature per chapter (hash family
   ``a·x + b mod 2^64`` with odd ``a``, from a generator seeded by ``config.seed``), cut into
   ``bands`` bands; two bidders sharing any band are candidates. With the defaults (64 values,
   32 bands of 2) a pair with Jaccard 0.3 becomes a candidate with probability ≈ 0.95 and a
   pair with Jaccard 0.5 with probability > 0.9999.
4. **Exact check** on candidates: Jaccard and containment (shared ÷ smaller set) of the
   shingle sets; a pair at or above either threshold is reported with its longest shared
   passages (maximal runs of consecutive shingles of one text found in the other).

Scores here are floats: they are signals for people, not figures in a result.
This module must never draw from global randomness: the MinHash family comes from
``config.seed``.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import combinations

import numpy as np
import numpy.typing as npt

__all__ = [
    "CrossChapterPair",
    "SharedPassage",
    "ShingledText",
    "SimilarPair",
    "SimilarityConfig",
    "exhaustive_cross_chapter_pairs",
    "exhaustive_similar_pairs",
    "find_cross_chapter_pairs",
    "find_similar_pairs",
    "normalise",
    "shingle",
]

U64 = npt.NDArray[np.uint64]

_BMP = 0x10000
_POLY = np.uint64(0x100000001B3)  # the FNV-64 prime: odd, so the polynomial mixes every char
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_DROP_CATEGORIES = ("P", "Z", "S", "C")


@dataclass(frozen=True, slots=True)
class SimilarityConfig:
    shingle: int = 5
    num_perm: int = 64
    bands: int = 32
    #: report pairs whose shingle-set Jaccard is at least this
    jaccard_threshold: float = 0.5
    #: … or whose containment (shared ÷ smaller set) is at least this
    containment_threshold: float = 0.8
    #: shared passages shorter than this (normalised characters) are not listed
    min_passage_chars: int = 20
    max_passages: int = 5
    seed: int = 20240611

    def __post_init__(self) -> None:
        if self.shingle < 1 or self.num_perm < 1 or self.bands < 1:
            raise ValueError("shingle, num_perm and bands must be positive")
        if self.num_perm % self.bands:
            raise ValueError(f"num_perm {self.num_perm} is not a multiple of bands {self.bands}")


@cache
def _tables() -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint32]]:
    """Per BMP code point: keep it?, and what it becomes. Built once, never changed."""
    keep = np.ones(_BMP, dtype=np.bool_)
    mapped = np.arange(_BMP, dtype=np.uint32)
    for cp in range(_BMP):
        if unicodedata.category(chr(cp))[0] in _DROP_CATEGORIES:
            keep[cp] = False
    # full-width ASCII (！ to ～) → ASCII, then upper → lower case
    mapped[0xFF01:0xFF5F] = np.arange(0x21, 0x7F, dtype=np.uint32)
    upper = (mapped >= ord("A")) & (mapped <= ord("Z"))
    mapped[upper] += 32
    keep.setflags(write=False)
    mapped.setflags(write=False)
    return keep, mapped


def normalise(text: str) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.intp]]:
    """Normalised code points, and for each the offset of its character in ``text``."""
    keep_table, map_table = _tables()
    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    small = cp < _BMP
    idx = np.where(small, cp, 0)
    keep = np.where(small, keep_table[idx], True)
    offsets = np.flatnonzero(keep)
    codes = np.where(small, map_table[idx], cp)[offsets]
    return codes.astype(np.uint32), offsets


def _shingle_hashes(codes: npt.NDArray[np.uint32], n: int) -> U64:
    """The 64-bit hash of the shingle starting at every position (not deduplicated)."""
    c = codes.astype(np.uint64)
    count = len(c) - n + 1
    if count <= 0:
        if not len(c):
            return np.empty(0, dtype=np.uint64)
        c = np.concatenate([c, np.zeros(n - len(c), dtype=np.uint64)])
        count = 1
    h = c[:count].copy()
    for k in range(1, n):
        h *= _POLY
        h += c[k : k + count]
    h ^= h >> np.uint64(30)
    h *= _MIX1
    h ^= h >> np.uint64(27)
    h *= _MIX2
    h ^= h >> np.uint64(31)
    return h


@dataclass(frozen=True, slots=True)
class ShingledText:
    """A chapter's sorted unique shingle hashes."""

    hashes: U64

    def __len__(self) -> int:
        return len(self.hashes)


def shingle(text: str, n: int = 5) -> ShingledText:
    codes, _ = normalise(text)
    return ShingledText(np.unique(_shingle_hashes(codes, n)))


class _MinHasher:
    def __init__(self, config: SimilarityConfig) -> None:
        rng = np.random.default_rng(config.seed)
        top = np.iinfo(np.uint64).max
        self.a = (
            rng.integers(0, top, size=config.num_perm, dtype=np.uint64, endpoint=True)
            | np.uint64(1)
        )[:, None]
        self.b = rng.integers(0, top, size=config.num_perm, dtype=np.uint64, endpoint=True)[:, None]
        self.bands = config.bands

    def signature(self, s: ShingledText) -> U64:
        if not len(s):
            return np.full(self.a.shape[0], np.iinfo(np.uint64).max, dtype=np.uint64)
        values = self.a * s.hashes[None, :]
        values += self.b
        signature: U64 = values.min(axis=1)
        return signature

    def band_keys(self, signature: U64) -> list[bytes]:
        return [band.tobytes() for band in np.split(signature, self.bands)]


@dataclass(frozen=True, slots=True)
class SharedPassage:
    """A passage found in both chapters; offsets are into each bidder's original text."""

    text: str
    start_a: int
    end_a: int
    start_b: int
    #: length in normalised characters
    length: int


@dataclass(frozen=True, slots=True)
class SimilarPair:
    chapter_id: str
    bidder_a: str
    bidder_b: str
    jaccard: float
    containment: float
    passages: tuple[SharedPassage, ...]


def _exact(a: ShingledText, b: ShingledText) -> tuple[float, float]:
    if not len(a) or not len(b):
        return 0.0, 0.0
    shared = len(np.intersect1d(a.hashes, b.hashes, assume_unique=True))
    union = len(a) + len(b) - shared
    return shared / union, shared / min(len(a), len(b))


def shared_passages(
    text_a: str, text_b: str, config: SimilarityConfig
) -> tuple[SharedPassage, ...]:
    """The longest maximal runs of ``text_a``'s shingles that also occur in ``text_b``."""
    n = config.shingle
    codes_a, offsets_a = normalise(text_a)
    codes_b, offsets_b = normalise(text_b)
    ha, hb = _shingle_hashes(codes_a, n), _shingle_hashes(codes_b, n)
    if len(codes_a) < n or len(codes_b) < n:
        return ()
    common = np.isin(ha, hb)
    # run boundaries: where ``common`` switches on and off
    edges = np.diff(np.concatenate([[0], common.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs = sorted(
        zip(starts.tolist(), ends.tolist(), strict=True), key=lambda r: (r[0] - r[1], r[0])
    )
    first_in_b = {int(h): int(i) for i, h in reversed(list(enumerate(hb.tolist())))}
    out: list[SharedPassage] = []
    for s, e in runs[: config.max_passages]:
        length = e - s + n - 1  # shingles s..e-1 cover characters s..e-1+n-1
        if length < config.min_passage_chars:
            break
        start_a, end_a = int(offsets_a[s]), int(offsets_a[e - 1 + n - 1]) + 1
        start_b = int(offsets_b[first_in_b[int(ha[s])]])
        out.append(SharedPassage(text_a[start_a:end_a], start_a, end_a, start_b, length))
    return tuple(out)


def _by_chapter(texts: Mapping[tuple[str, str], str]) -> dict[str, list[str]]:
    chapters: dict[str, list[str]] = defaultdict(list)
    for bidder, chapter in texts:
        chapters[chapter].append(bidder)
    return {c: sorted(bs) for c, bs in sorted(chapters.items())}


def _report(
    chapter: str,
    pairs: Sequence[tuple[str, str]],
    sets: Mapping[str, ShingledText],
    texts: Mapping[tuple[str, str], str],
    config: SimilarityConfig,
) -> list[SimilarPair]:
    out: list[SimilarPair] = []
    for a, b in pairs:
        jaccard, containment = _exact(sets[a], sets[b])
        if jaccard >= config.jaccard_threshold or containment >= config.containment_threshold:
            passages = shared_passages(texts[a, chapter], texts[b, chapter], config)
            out.append(SimilarPair(chapter, a, b, jaccard, containment, passages))
    return out


def find_similar_pairs(
    texts: Mapping[tuple[str, str], str], config: SimilarityConfig = SimilarityConfig()
) -> list[SimilarPair]:
    """Pairs of bidders with alike chapters: ``texts`` maps (bidder id, chapter id) → text."""
    hasher = _MinHasher(config)
    found: list[SimilarPair] = []
    for chapter, bidders in _by_chapter(texts).items():
        sets = {b: shingle(texts[b, chapter], config.shingle) for b in bidders}
        buckets: dict[tuple[int, bytes], list[str]] = defaultdict(list)
        for b in bidders:
            for band, key in enumerate(hasher.band_keys(hasher.signature(sets[b]))):
                buckets[band, key].append(b)
        candidates = sorted(
            {pair for members in buckets.values() for pair in combinations(members, 2)}
        )
        found.extend(_report(chapter, candidates, sets, texts, config))
    return found


def exhaustive_similar_pairs(
    texts: Mapping[tuple[str, str], str], config: SimilarityConfig = SimilarityConfig()
) -> list[SimilarPair]:
    """The same report with every pair checked exactly: the reference LSH is measured against."""
    found: list[SimilarPair] = []
    for chapter, bidders in _by_chapter(texts).items():
        sets = {b: shingle(texts[b, chapter], config.shingle) for b in bidders}
        found.extend(_report(chapter, list(combinations(bidders, 2)), sets, texts, config))
    return found


@dataclass(frozen=True, slots=True)
class CrossChapterPair:
    """Two bidders' alike chapters under *different* chapter ids (bidder A's ch2 and bidder B's
    ch3): a text moved to another chapter escapes the same-chapter check."""

    bidder_a: str
    chapter_a: str
    bidder_b: str
    chapter_b: str
    jaccard: float
    containment: float
    passages: tuple[SharedPassage, ...]


def _cross_report(
    pairs: Sequence[tuple[int, int]],
    keys: Sequence[tuple[str, str]],
    sets: Sequence[ShingledText],
    texts: Mapping[tuple[str, str], str],
    config: SimilarityConfig,
) -> list[CrossChapterPair]:
    out: list[CrossChapterPair] = []
    for i, j in pairs:
        jaccard, containment = _exact(sets[i], sets[j])
        if jaccard >= config.jaccard_threshold or containment >= config.containment_threshold:
            (ba, ca), (bb, cb) = keys[i], keys[j]
            passages = shared_passages(texts[keys[i]], texts[keys[j]], config)
            out.append(CrossChapterPair(ba, ca, bb, cb, jaccard, containment, passages))
    return out


def _cross_candidates(keys: Sequence[tuple[str, str]]) -> list[tuple[int, int]]:
    """Every pair of texts of two different bidders under two different chapter ids, each
    once, bidder A before bidder B."""
    return [
        (i, j)
        for i, j in combinations(range(len(keys)), 2)
        if keys[i][0] != keys[j][0] and keys[i][1] != keys[j][1]
    ]


def _ordered(keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(keys)


def find_cross_chapter_pairs(
    texts: Mapping[tuple[str, str], str], config: SimilarityConfig = SimilarityConfig()
) -> list[CrossChapterPair]:
    """Alike chapters of two bidders under different chapter ids.

    Every text's MinHash signature is compared with every other's at once (a matrix of
    equal values, in numpy): the share of equal values estimates the pair's Jaccard ``J``,
    and from it and the two set sizes the containment ``J·(|A|+|B|) / ((1+J)·min)``. A pair
    whose estimate reaches half of either threshold is checked exactly (with 64 values the
    estimate's standard error is at most 0.0625, so a pair at a threshold is missed with
    probability well below 10⁻⁶); the exact check decides, as in :func:`find_similar_pairs`.
    """
    keys = _ordered(list(texts))
    if len(keys) < 2:
        return []
    hasher = _MinHasher(config)
    sets = [shingle(texts[k], config.shingle) for k in keys]
    signatures = np.stack([hasher.signature(x) for x in sets])
    sizes = np.array([len(x) for x in sets], dtype=np.float64)
    bidder_ids = np.array([b for b, _ in keys])
    chapter_ids = np.array([c for _, c in keys])
    candidates: list[tuple[int, int]] = []
    for i in range(len(keys) - 1):
        rest = slice(i + 1, None)
        estimate = (signatures[rest] == signatures[i]).mean(axis=1)
        smaller = np.minimum(sizes[rest], sizes[i])
        contained = np.divide(
            estimate * (sizes[rest] + sizes[i]),
            (1 + estimate) * smaller,
            out=np.zeros_like(estimate),
            where=smaller > 0,
        )
        keep = (
            (
                (estimate >= config.jaccard_threshold / 2)
                | (contained >= config.containment_threshold / 2)
            )
            & (bidder_ids[rest] != bidder_ids[i])
            & (chapter_ids[rest] != chapter_ids[i])
        )
        candidates.extend((i, i + 1 + int(j)) for j in np.flatnonzero(keep))
    return _cross_report(candidates, keys, sets, texts, config)


def exhaustive_cross_chapter_pairs(
    texts: Mapping[tuple[str, str], str], config: SimilarityConfig = SimilarityConfig()
) -> list[CrossChapterPair]:
    """The same report with every pair checked exactly: the reference for the estimate."""
    keys = _ordered(list(texts))
    sets = [shingle(texts[k], config.shingle) for k in keys]
    return _cross_report(_cross_candidates(keys), keys, sets, texts, config)
