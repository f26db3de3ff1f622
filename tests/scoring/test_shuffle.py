from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from dataclasses import asdict
from decimal import Decimal
from itertools import permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, chisquare

from scoring.errors import ShuffleManifestInvalid, ShuffleMismatch
from scoring.sheets import ScoreEntry, ScoreSheet, reintegrate
from scoring.shuffle import (
    DEFAULT_LABELS,
    ShuffleManifest,
    commitment,
    derive,
    keyed_permutation,
    verify,
)

SEED = bytes(range(32))
MANIFEST = ShuffleManifest(
    "S-1",
    ("E1", "E2", "E3"),
    ("ch1", "ch2"),
    ("bidder-alpha", "bidder-beta", "bidder-gamma", "bidder-delta"),
)


def _seed(i: int) -> bytes:
    return hashlib.sha256(i.to_bytes(8, "big")).digest()


ids = st.lists(st.text("abcdefgh", min_size=1, max_size=4), min_size=1, max_size=6, unique=True)


@settings(max_examples=60, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), experts=ids, chapters=ids, bidders=ids)
def test_every_view_is_a_permutation(
    seed: bytes, experts: list[str], chapters: list[str], bidders: list[str]
) -> None:
    manifest = ShuffleManifest("S", tuple(experts), tuple(chapters), tuple(bidders))
    shuffle = derive(seed, manifest)
    for s in shuffle:
        assert sorted(s.order) == sorted(bidders)
        assert len(set(s.labels)) == len(bidders)
        assert set(s.labels) <= set(DEFAULT_LABELS)
        for label, bidder in zip(s.labels, s.order, strict=True):
            assert s.bidder_for(label) == bidder
            assert s.label_for(bidder) == label


@settings(max_examples=60, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    experts=ids,
    bidders=ids,
    data=st.data(),
)
def test_reintegration_inverts_the_shuffle(
    seed: bytes, experts: list[str], bidders: list[str], data: st.DataObject
) -> None:
    manifest = ShuffleManifest("S", tuple(experts), ("ch1", "ch2"), tuple(bidders))
    shuffle = derive(seed, manifest)
    truth = {
        (e, c, b, "i1"): Decimal(data.draw(st.integers(0, 20))) / 2
        for e in experts
        for c in ("ch1", "ch2")
        for b in bidders
    }
    sheets = [
        ScoreSheet(
            "S",
            e,
            tuple(
                ScoreEntry(c, shuffle.label_for(e, c, b), "i1", truth[e, c, b, "i1"])
                for c in ("ch1", "ch2")
                for b in bidders
            ),
        )
        for e in experts
    ]
    assert dict(reintegrate(sheets, shuffle).points) == truth


def test_orders_are_uniform_over_seeds() -> None:
    # 4 bidders → 24 orders; 4800 seeds → 200 expected per order.
    manifest = ShuffleManifest("S", ("E1",), ("ch1",), ("a", "b", "c", "d"))
    counts = Counter(derive(_seed(i), manifest).chapter("E1", "ch1").order for i in range(4800))
    observed = [counts[p] for p in permutations("abcd")]
    assert sum(observed) == 4800
    assert chisquare(observed).pvalue > 0.001


def test_uniform_draws_are_unbiased_for_an_awkward_bound() -> None:
    # 3 of 3: a bound that does not divide 2^64; also checks the first position alone.
    counts = Counter(
        tuple(keyed_permutation(_seed(i), b"test", ("x",), ["a", "b", "c"], 3)) for i in range(3000)
    )
    assert len(counts) == 6
    assert chisquare(list(counts.values())).pvalue > 0.001


def test_labels_carry_no_information_across_chapters() -> None:
    # With a 4-label alphabet and 3 bidders, the label a bidder gets in chapter 1 must be
    # independent of the one it gets in chapter 2 (and of its position in chapter 2).
    manifest = ShuffleManifest("S", ("E1",), ("ch1", "ch2"), ("a", "b", "c"), ("W", "X", "Y", "Z"))
    table = [[0] * 4 for _ in range(4)]
    positions = [[0] * 3 for _ in range(4)]
    same = 0
    n = 4000
    for i in range(n):
        s = derive(_seed(i), manifest)
        first = s.label_for("E1", "ch1", "a")
        second = s.label_for("E1", "ch2", "a")
        table["WXYZ".index(first)]["WXYZ".index(second)] += 1
        positions["WXYZ".index(first)][s.chapter("E1", "ch2").order.index("a")] += 1
        same += first == second
    assert chi2_contingency(table).pvalue > 0.001
    assert chi2_contingency(positions).pvalue > 0.001
    # chance agreement is 1/4
    assert abs(same / n - 0.25) < 0.03


def test_different_experts_and_chapters_see_different_orders() -> None:
    bidders = tuple(f"b{i:02d}" for i in range(30))
    manifest = ShuffleManifest("S", tuple(f"E{i}" for i in range(9)), ("ch1", "ch2"), bidders)
    shuffle = derive(SEED, manifest)
    orders = [s.order for s in shuffle]
    labels = [s.labels for s in shuffle]
    assert len(set(orders)) == len(orders) == 18
    assert len(set(labels)) == len(labels)


def test_known_answer() -> None:
    # Locks the derivation: any change to the encoding, the stream or Fisher–Yates shows here,
    # and would make previously published commitments unverifiable.
    shuffle = derive(SEED, MANIFEST)
    assert commitment(SEED, MANIFEST) == KNOWN_COMMITMENT
    assert shuffle.chapter("E1", "ch1").order == KNOWN_E1_CH1_ORDER
    assert shuffle.chapter("E1", "ch1").labels == KNOWN_E1_CH1_LABELS


KNOWN_COMMITMENT = "0e6985611fc8492228feb69955581fa02ec4b4bd70dfd7dd278cdca32caa4b70"
KNOWN_E1_CH1_ORDER = ("bidder-gamma", "bidder-beta", "bidder-delta", "bidder-alpha")
KNOWN_E1_CH1_LABELS = ("SK", "LM", "JE", "DV")


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _spec_fisher_yates(seed: bytes, purpose: bytes, items: list[str], take: int) -> list[str]:
    """The derivation as the module docstring specifies it, written out independently."""
    message = (
        b"evaluation-hub/staggered-shuffle/v1"
        + _lp(purpose)
        + _lp(b"S-1")
        + _lp(b"E1")
        + _lp(b"ch1")
    )
    words: list[int] = []
    for counter in range(64):
        block = hmac.new(seed, message + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        words.extend(int.from_bytes(block[k : k + 8], "big") for k in range(0, 32, 8))
    stream = iter(words)
    for i in range(min(take, len(items) - 1)):
        n = len(items) - i
        limit = 2**64 - 2**64 % n
        w = next(stream)
        while w >= limit:
            w = next(stream)
        j = i + w % n
        items[i], items[j] = items[j], items[i]
    return items[:take]


def test_derivation_follows_the_documented_spec() -> None:
    shuffle = derive(SEED, MANIFEST)
    assert shuffle.chapter("E1", "ch1").order == tuple(
        _spec_fisher_yates(SEED, b"order", list(MANIFEST.bidder_ids), 4)
    )
    assert shuffle.chapter("E1", "ch1").labels == tuple(
        _spec_fisher_yates(SEED, b"labels", list(DEFAULT_LABELS), 4)
    )
    encoded = b"".join(
        [
            len(items).to_bytes(4, "big") + b"".join(_lp(i.encode()) for i in items)
            for items in (
                MANIFEST.expert_ids,
                MANIFEST.chapter_ids,
                MANIFEST.bidder_ids,
                DEFAULT_LABELS,
            )
        ]
    )
    expected = hashlib.sha256(
        b"evaluation-hub/staggered-shuffle/v1" + _lp(b"commit") + _lp(SEED) + _lp(b"S-1") + encoded
    ).hexdigest()
    assert commitment(SEED, MANIFEST) == expected


def test_the_commitment_binds_seed_and_every_list() -> None:
    base = commitment(SEED, MANIFEST)
    variants = [
        ShuffleManifest("S-2", MANIFEST.expert_ids, MANIFEST.chapter_ids, MANIFEST.bidder_ids),
        ShuffleManifest("S-1", ("E1", "E2"), MANIFEST.chapter_ids, MANIFEST.bidder_ids),
        ShuffleManifest("S-1", ("E2", "E1", "E3"), MANIFEST.chapter_ids, MANIFEST.bidder_ids),
        ShuffleManifest("S-1", MANIFEST.expert_ids, ("ch2", "ch1"), MANIFEST.bidder_ids),
        ShuffleManifest("S-1", MANIFEST.expert_ids, MANIFEST.chapter_ids, MANIFEST.bidder_ids[:3]),
        ShuffleManifest(
            "S-1",
            MANIFEST.expert_ids,
            MANIFEST.chapter_ids,
            MANIFEST.bidder_ids,
            DEFAULT_LABELS[:-1],
        ),
        # length prefixes: moving a character between adjacent ids changes the hash
        ShuffleManifest("S-1", ("E1E", "2", "E3"), MANIFEST.chapter_ids, MANIFEST.bidder_ids),
    ]
    hashes = {commitment(SEED, m) for m in variants} | {commitment(bytes(32), MANIFEST)}
    assert base not in hashes
    assert len(hashes) == len(variants) + 1


def test_an_experts_view_names_no_bidder() -> None:
    shuffle = derive(SEED, MANIFEST)
    view = shuffle.view("E2")
    text = json.dumps(asdict(view))
    for bidder in MANIFEST.bidder_ids:
        assert bidder not in text
    assert [c.chapter_id for c in view.chapters] == ["ch1", "ch2"]
    assert view.chapters[0].labels == shuffle.chapter("E2", "ch1").labels


def test_verify_accepts_the_revealed_seed_and_published_views() -> None:
    shuffle = derive(SEED, MANIFEST)
    verify(SEED, MANIFEST, commitment(SEED, MANIFEST).upper(), shuffle.published())


def test_verify_rejects_another_seed() -> None:
    other = bytes(31) + b"\x01"
    with pytest.raises(ShuffleMismatch) as info:
        verify(other, MANIFEST, commitment(SEED, MANIFEST))
    assert str(info.value) == (
        f"the revealed seed and manifest hash to {commitment(other, MANIFEST)}, not to the "
        f"published commitment {commitment(SEED, MANIFEST)}; the seed, the expert/chapter/bidder "
        f"lists or the label alphabet differ from what was committed"
    )


def test_verify_lists_views_that_were_changed() -> None:
    published = derive(SEED, MANIFEST).published()
    published["E1"]["ch2"] = list(reversed(published["E1"]["ch2"]))
    del published["E3"]
    with pytest.raises(ShuffleMismatch) as info:
        verify(SEED, MANIFEST, commitment(SEED, MANIFEST), published)
    message = str(info.value)
    assert message.startswith("2 published view(s) differ from the ones the seed derives:\n")
    assert "  expert E1 chapter ch2: published " in message
    assert "  expert E3: missing from the published views" in message


@pytest.mark.parametrize(
    ("manifest_args", "message"),
    [
        (("", ("E1",), ("c",), ("b",)), "the shuffle needs a session id"),
        (("S", (), ("c",), ("b",)), "the shuffle needs at least one expert"),
        (("S", ("E1", "E1"), ("c",), ("b",)), "expert ids must be non-empty and unique"),
        (("S", ("E1",), ("c",), ("b", "")), "bidder ids must be non-empty and unique"),
        (
            ("S", ("E1",), ("c",), ("a", "b", "c"), ("X", "Y")),
            "3 bidders need at least as many labels, the alphabet has 2",
        ),
    ],
)
def test_manifest_errors(manifest_args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ShuffleManifestInvalid) as info:
        ShuffleManifest(*manifest_args)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_a_short_seed_is_refused() -> None:
    with pytest.raises(ShuffleManifestInvalid) as info:
        derive(bytes(16), MANIFEST)
    assert str(info.value) == "the shuffle seed must be at least 32 bytes, got 16"
