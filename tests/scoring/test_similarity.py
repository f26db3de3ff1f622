from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.similarity import (
    SimilarityConfig,
    exhaustive_similar_pairs,
    find_similar_pairs,
    normalise,
    shared_passages,
    shingle,
)
from tests.scoring.helpers import demo_package

HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def _text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(HAN) for _ in range(n))


def test_normalise_drops_punctuation_and_space_and_keeps_offsets() -> None:
    codes, offsets = normalise("甲， 乙\n（ＡＢ）c！")
    assert "".join(chr(c) for c in codes) == "甲乙abc"
    assert offsets.tolist() == [0, 3, 6, 7, 9]


def test_shingles_ignore_formatting_differences() -> None:
    a = shingle("施工准备期三十天，完成驻地建设。")
    b = shingle("施工准备期 三十天\n完成驻地建设")
    assert np.array_equal(a.hashes, b.hashes)
    assert len(shingle("短")) == 1
    assert len(shingle("")) == 0


def test_the_demo_pair_is_found_with_its_shared_passages() -> None:
    pairs = find_similar_pairs(demo_package().texts)
    assert [(p.chapter_id, p.bidder_a, p.bidder_b) for p in pairs] == [("ch3", "b02", "b05")]
    (pair,) = pairs
    assert round(pair.jaccard, 3) == 0.898
    assert round(pair.containment, 3) == 0.95
    assert [p.length for p in pair.passages] == [246, 135, 48, 36, 28]
    longest = pair.passages[0]
    texts = demo_package().texts
    assert texts["b02", "ch3"][longest.start_a : longest.end_a] == longest.text
    assert longest.text.startswith("工期保证措施\n\n一是组织保证")
    assert longest.text.endswith("避免因外部干扰造成停工")
    assert texts["b05", "ch3"][longest.start_b :].startswith("工期保证措施")


def test_containment_catches_a_chapter_copied_into_a_longer_one() -> None:
    rng = random.Random(1)
    small = _text(rng, 400)
    texts = {("a", "c"): small, ("b", "c"): _text(rng, 800) + small + _text(rng, 800)}
    (pair,) = find_similar_pairs(texts)
    assert pair.jaccard < 0.5
    assert pair.containment == 1.0
    assert pair.passages[0].text == small


def test_lsh_finds_what_the_exhaustive_check_finds() -> None:
    rng = random.Random(7)
    texts: dict[tuple[str, str], str] = {}
    for chapter in ("c1", "c2"):
        base = _text(rng, 2000)
        for i in range(12):
            if i < 4:  # four bidders share most of one text, each with its own edits
                chars = list(base)
                for _ in range(40 * i):
                    chars[rng.randrange(len(chars))] = rng.choice(HAN)
                texts[f"b{i:02d}", chapter] = "".join(chars)
            else:
                texts[f"b{i:02d}", chapter] = _text(rng, 2000)
    config = SimilarityConfig(jaccard_threshold=0.3)
    lsh = [(p.chapter_id, p.bidder_a, p.bidder_b) for p in find_similar_pairs(texts, config)]
    exact = [
        (p.chapter_id, p.bidder_a, p.bidder_b) for p in exhaustive_similar_pairs(texts, config)
    ]
    assert lsh == exact
    assert len(exact) >= 8


@settings(max_examples=40, deadline=None)
@given(
    st.text(alphabet="施工方案质量安全，。 \nab", max_size=200),
    st.text(alphabet="施工方案质量安全，。 \nab", max_size=200),
)
def test_passages_are_verbatim_slices_of_the_first_text(a: str, b: str) -> None:
    config = SimilarityConfig(min_passage_chars=5)
    for p in shared_passages(a, b, config):
        assert a[p.start_a : p.end_a] == p.text
        assert p.length >= 5


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="num_perm 64 is not a multiple of bands 10"):
        SimilarityConfig(bands=10)
