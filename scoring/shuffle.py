"""Staggered review (错位评审): a verifiable per-expert, per-chapter shuffle of the bidders.

For every (expert, chapter) an independent permutation of the bidders and an independent set
of labels are derived from one secret seed:

* **Derivation.** A keyed stream ``HMAC-SHA256(seed, DOMAIN ‖ purpose ‖ session ‖ expert ‖
  chapter ‖ counter)`` (every field length-prefixed, the counter 8 bytes big-endian) is cut
  into 64-bit words. ``uniform_below(n)`` rejects words ≥ the largest multiple of n below
  2^64, so every residue is equally likely, and a Fisher–Yates shuffle driven by it gives
  every permutation the same probability. The bidders' display order uses purpose
  ``order``; the labels are the first n entries of a Fisher–Yates shuffle of the label
  alphabet under purpose ``labels``. Both are fresh per (expert, chapter), so neither the
  order nor the labels say anything about another chapter or another expert's view.
* **Commitment.** ``SHA-256(DOMAIN ‖ "commit" ‖ seed ‖ session ‖ experts ‖ chapters ‖
  bidders ‖ label alphabet)``, lists encoded as a 4-byte count followed by length-prefixed
  UTF-8 items. Binding the lists means the views cannot be changed after the fact by
  reordering or adding an expert, chapter, bidder or label.
* **Views.** What an expert receives (``ExpertView``) holds the chapter ids and the labels in
  display order — no bidder id, no digest of a bidder's text, nothing stable across views.

The seed is 32 random bytes drawn by the I/O layer (``secrets.token_bytes``); this module
must never draw randomness or see the clock itself.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product

from scoring.errors import ShuffleManifestInvalid, ShuffleMismatch

__all__ = [
    "DEFAULT_LABELS",
    "DOMAIN",
    "SEED_BYTES",
    "ChapterShuffle",
    "ChapterView",
    "ExpertView",
    "ShuffleManifest",
    "StaggeredShuffle",
    "commitment",
    "derive",
    "keyed_permutation",
    "verify",
]

DOMAIN = b"evaluation-hub/staggered-shuffle/v1"
SEED_BYTES = 32

# Two letters from an alphabet without I and O (they read as 1 and 0): 576 labels, so labels
# repeat across chapters only by chance and never by construction.
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DEFAULT_LABELS: tuple[str, ...] = tuple(a + b for a, b in product(_LETTERS, _LETTERS))

_TWO64 = 1 << 64


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _lp_text(text: str) -> bytes:
    return _lp(text.encode("utf-8"))


def _list(items: Sequence[str]) -> bytes:
    return len(items).to_bytes(4, "big") + b"".join(_lp_text(i) for i in items)


@dataclass(frozen=True, slots=True)
class ShuffleManifest:
    """What a shuffle is over: the session, its experts, chapters, bidders and label alphabet."""

    session_id: str
    expert_ids: tuple[str, ...]
    chapter_ids: tuple[str, ...]
    bidder_ids: tuple[str, ...]
    labels: tuple[str, ...] = DEFAULT_LABELS

    def __post_init__(self) -> None:
        if not self.session_id:
            raise ShuffleManifestInvalid("the shuffle needs a session id")
        for name, items in (
            ("expert", self.expert_ids),
            ("chapter", self.chapter_ids),
            ("bidder", self.bidder_ids),
            ("label", self.labels),
        ):
            if not items:
                raise ShuffleManifestInvalid(f"the shuffle needs at least one {name}")
            if len(set(items)) != len(items) or not all(items):
                raise ShuffleManifestInvalid(f"{name} ids must be non-empty and unique")
        if len(self.labels) < len(self.bidder_ids):
            raise ShuffleManifestInvalid(
                f"{len(self.bidder_ids)} bidders need at least as many labels, "
                f"the alphabet has {len(self.labels)}"
            )

    def encode(self) -> bytes:
        """The domain-separated encoding bound into the commitment."""
        return (
            _lp_text(self.session_id)
            + _list(self.expert_ids)
            + _list(self.chapter_ids)
            + _list(self.bidder_ids)
            + _list(self.labels)
        )


def _check_seed(seed: bytes) -> None:
    if len(seed) < SEED_BYTES:
        raise ShuffleManifestInvalid(
            f"the shuffle seed must be at least {SEED_BYTES} bytes, got {len(seed)}"
        )


def commitment(seed: bytes, manifest: ShuffleManifest) -> str:
    """The hex SHA-256 commitment published before review."""
    _check_seed(seed)
    return hashlib.sha256(DOMAIN + _lp(b"commit") + _lp(seed) + manifest.encode()).hexdigest()


class _KeyedStream:
    """64-bit words from HMAC-SHA256(seed, message ‖ counter), and unbiased draws from them."""

    def __init__(self, keyed: hmac.HMAC, message: bytes) -> None:
        self._keyed = keyed
        self._message = message
        self._counter = 0
        self._buffer = b""

    def _word(self) -> int:
        if not self._buffer:
            h = self._keyed.copy()
            h.update(self._message + self._counter.to_bytes(8, "big"))
            self._counter += 1
            self._buffer = h.digest()
        word, self._buffer = self._buffer[:8], self._buffer[8:]
        return int.from_bytes(word, "big")

    def uniform_below(self, n: int) -> int:
        limit = _TWO64 - _TWO64 % n
        while True:
            w = self._word()
            if w < limit:
                return w % n


def _fisher_yates(stream: _KeyedStream, items: list[str], take: int) -> list[str]:
    # Selecting position i from the not-yet-placed tail, front to back, is Fisher–Yates; the
    # first ``take`` positions are a uniform draw of ``take`` distinct items in uniform order.
    for i in range(min(take, len(items) - 1)):
        j = i + stream.uniform_below(len(items) - i)
        items[i], items[j] = items[j], items[i]
    return items[:take]


def keyed_permutation(
    seed: bytes, purpose: bytes, context: Sequence[str], items: Sequence[str], take: int
) -> list[str]:
    """``take`` items of ``items`` in a uniformly random order derived from the seed."""
    keyed = hmac.new(seed, digestmod=hashlib.sha256)
    message = DOMAIN + _lp(purpose) + b"".join(_lp_text(c) for c in context)
    return _fisher_yates(_KeyedStream(keyed, message), list(items), take)


@dataclass(frozen=True, slots=True)
class ChapterShuffle:
    """One expert's order and labels for one chapter; secret until the session is sealed."""

    expert_id: str
    chapter_id: str
    #: bidder ids in display position order
    order: tuple[str, ...]
    #: the label shown at each display position
    labels: tuple[str, ...]

    def bidder_for(self, label: str) -> str:
        try:
            return self.order[self.labels.index(label)]
        except ValueError:
            raise KeyError(label) from None

    def label_for(self, bidder_id: str) -> str:
        return self.labels[self.order.index(bidder_id)]


@dataclass(frozen=True, slots=True)
class ChapterView:
    """One chapter as an expert sees it: the labels in display order, nothing more."""

    chapter_id: str
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExpertView:
    """Everything an expert receives about the shuffle. Carries no bidder identity."""

    session_id: str
    expert_id: str
    chapters: tuple[ChapterView, ...]


class StaggeredShuffle:
    """All (expert, chapter) shuffles derived from one seed."""

    def __init__(self, seed: bytes, manifest: ShuffleManifest) -> None:
        _check_seed(seed)
        self.manifest = manifest
        self._shuffles: dict[tuple[str, str], ChapterShuffle] = {}
        keyed = hmac.new(seed, digestmod=hashlib.sha256)
        n = len(manifest.bidder_ids)
        for expert, chapter in product(manifest.expert_ids, manifest.chapter_ids):
            context = _lp_text(manifest.session_id) + _lp_text(expert) + _lp_text(chapter)
            order = _fisher_yates(
                _KeyedStream(keyed, DOMAIN + _lp(b"order") + context), list(manifest.bidder_ids), n
            )
            labels = _fisher_yates(
                _KeyedStream(keyed, DOMAIN + _lp(b"labels") + context), list(manifest.labels), n
            )
            self._shuffles[expert, chapter] = ChapterShuffle(
                expert, chapter, tuple(order), tuple(labels)
            )

    def __iter__(self) -> Iterator[ChapterShuffle]:
        return iter(self._shuffles.values())

    def chapter(self, expert_id: str, chapter_id: str) -> ChapterShuffle:
        return self._shuffles[expert_id, chapter_id]

    def bidder_for(self, expert_id: str, chapter_id: str, label: str) -> str:
        """The bidder behind ``label`` in this expert's chapter (re-integration, 还原)."""
        return self._shuffles[expert_id, chapter_id].bidder_for(label)

    def label_for(self, expert_id: str, chapter_id: str, bidder_id: str) -> str:
        return self._shuffles[expert_id, chapter_id].label_for(bidder_id)

    def view(self, expert_id: str) -> ExpertView:
        """What ``expert_id`` receives: per chapter, labels in display order."""
        return ExpertView(
            self.manifest.session_id,
            expert_id,
            tuple(
                ChapterView(c, self._shuffles[expert_id, c].labels)
                for c in self.manifest.chapter_ids
            ),
        )

    def published(self) -> dict[str, dict[str, list[list[str]]]]:
        """The revealed mapping: expert → chapter → [[label, bidder id], …] in display order."""
        return {
            e: {
                c: [[lab, bid] for lab, bid in zip(s.labels, s.order, strict=True)]
                for c in self.manifest.chapter_ids
                for s in (self._shuffles[e, c],)
            }
            for e in self.manifest.expert_ids
        }


def derive(seed: bytes, manifest: ShuffleManifest) -> StaggeredShuffle:
    """Derive every expert's shuffle from the seed."""
    return StaggeredShuffle(seed, manifest)


def verify(
    seed: bytes,
    manifest: ShuffleManifest,
    expected_commitment: str,
    published: Mapping[str, Mapping[str, Sequence[Sequence[str]]]] | None = None,
) -> StaggeredShuffle:
    """Check a revealed seed against its commitment and, if given, the published views.

    Returns the re-derived shuffle; raises ``ShuffleMismatch`` naming what differs.
    """
    actual = commitment(seed, manifest)
    if not hmac.compare_digest(actual, expected_commitment.strip().lower()):
        raise ShuffleMismatch(
            f"the revealed seed and manifest hash to {actual}, not to the published commitment "
            f"{expected_commitment.strip()}; the seed, the expert/chapter/bidder lists or the "
            f"label alphabet differ from what was committed"
        )
    shuffle = derive(seed, manifest)
    if published is not None:
        derived = shuffle.published()
        wrong: list[str] = []
        for e in sorted(set(derived) | set(published)):
            theirs = published.get(e)
            if theirs is None:
                wrong.append(f"expert {e}: missing from the published views")
                continue
            if e not in derived:
                wrong.append(f"expert {e}: not in the manifest")
                continue
            for c in sorted(set(derived[e]) | set(theirs)):
                mine = derived[e].get(c)
                got = [list(pair) for pair in theirs.get(c, [])]
                if mine != got:
                    wrong.append(f"expert {e} chapter {c}: published {got}, derived {mine}")
        if wrong:
            listed = "\n".join(f"  {w}" for w in wrong[:20])
            more = f"\n  … and {len(wrong) - 20} more" if len(wrong) > 20 else ""
            raise ShuffleMismatch(
                f"{len(wrong)} published view(s) differ from the ones the seed derives:\n"
                f"{listed}{more}"
            )
    return shuffle
