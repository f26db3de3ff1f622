"""Collusion signals between bidders: cross-chapter similarity, shared unusual strings, price
tails. Every figure here is counted by hand from the texts and prices written in the test."""

from __future__ import annotations

import random
from decimal import Decimal

from scoring.collusion import (
    CollusionConfig,
    Place,
    PriceTail,
    StringKind,
    bidder_signals,
    price_tails,
    shared_strings,
)
from scoring.similarity import (
    exhaustive_cross_chapter_pairs,
    find_cross_chapter_pairs,
    find_similar_pairs,
)
from tests.scoring.helpers import demo_package

HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
#: six simplified filler texts with no unusual string in them
FILLER = "本项目施工组织按照招标文件要求编制，确保工程质量安全与进度。"


def _text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(HAN) for _ in range(n))


def _six(**extra: str) -> dict[tuple[str, str], str]:
    texts = {(f"b{i}", "ch1"): FILLER for i in range(1, 7)}
    texts.update({(f"b{i}", "ch2"): FILLER for i in range(1, 7)})
    for key, text in extra.items():
        bidder, chapter = key.split("_")
        texts[bidder, chapter] = text
    return texts


# --- alike chapters under different chapter ids -------------------------------------------


def test_a_chapter_moved_to_another_chapter_id_is_found_there_and_only_there() -> None:
    rng = random.Random(3)
    copied = _text(rng, 600)
    texts = {(b, c): _text(rng, 600) for b in ("b1", "b2", "b3") for c in ("ch1", "ch2", "ch3")}
    texts["b1", "ch2"] = copied
    texts["b3", "ch3"] = copied[:300] + "新增内容" + copied[300:]
    # the same-chapter check cannot see it
    assert find_similar_pairs(texts) == []
    (pair,) = find_cross_chapter_pairs(texts)
    assert (pair.bidder_a, pair.chapter_a, pair.bidder_b, pair.chapter_b) == (
        "b1",
        "ch2",
        "b3",
        "ch3",
    )
    # b1's 600 characters make 596 shingles. b3's 604 make 600: the 8 starting at positions
    # 296–303 touch the 4 inserted characters and are new, and b1's 4 starting at 296–299
    # (across the cut) are gone, so 596 − 4 = 592 are shared; union 596 + 600 − 592 = 604.
    assert round(pair.containment, 4) == round(592 / 596, 4)
    assert round(pair.jaccard, 4) == round(592 / (596 + 600 - 592), 4)
    assert [p.length for p in pair.passages] == [300, 300]


def test_same_chapter_pairs_and_one_bidders_own_chapters_are_not_cross_chapter_signals() -> None:
    rng = random.Random(4)
    shared = _text(rng, 500)
    texts = {
        ("b1", "ch1"): shared,
        ("b2", "ch1"): shared,  # same id: the same-chapter check's signal
        ("b1", "ch2"): shared,  # one bidder repeating itself: no one to collude with
        ("b2", "ch2"): _text(rng, 500),
    }
    pairs = find_cross_chapter_pairs(texts)
    # b1/ch2 against b2/ch1 is a cross-chapter pair (the same text under ch2 and ch1)
    assert [(p.bidder_a, p.chapter_a, p.bidder_b, p.chapter_b) for p in pairs] == [
        ("b1", "ch2", "b2", "ch1")
    ]


def test_the_estimate_finds_what_checking_every_pair_finds() -> None:
    rng = random.Random(11)
    texts = {(f"b{b:02d}", f"ch{c}"): _text(rng, 1500) for b in range(10) for c in range(4)}
    base = texts["b00", "ch0"]
    for i, (bidder, chapter) in enumerate([("b03", "ch2"), ("b05", "ch1"), ("b07", "ch3")]):
        chars = list(base)
        for _ in range(60 * (i + 1)):
            chars[rng.randrange(len(chars))] = rng.choice(HAN)
        texts[bidder, chapter] = "".join(chars)
    texts["b09", "ch2"] = _text(rng, 3000) + texts["b04", "ch1"] + _text(rng, 3000)

    def key(p: object) -> tuple[str, str, str, str]:
        return (p.bidder_a, p.chapter_a, p.bidder_b, p.chapter_b)  # type: ignore[attr-defined]

    fast = [key(p) for p in find_cross_chapter_pairs(texts)]
    assert fast == [key(p) for p in exhaustive_cross_chapter_pairs(texts)]
    assert ("b04", "ch1", "b09", "ch2") in fast  # caught by containment
    assert ("b00", "ch0", "b03", "ch2") in fast


# --- shared unusual strings ----------------------------------------------------------------


def test_a_code_like_token_in_two_bidders_texts_is_a_signal_with_its_places() -> None:
    a = "检测记录编号ＱＸ7-19B，已归档。"  # full-width letters fold: qx7-19b
    b = "详见qx7-19b号记录。"
    texts = _six(b2_ch1=a, b5_ch2=b)
    (found,) = shared_strings(texts)
    assert found.kind is StringKind.CODE
    assert found.length == 7
    assert found.places == (Place("b2", "ch1", 6, 13), Place("b5", "ch2", 2, 9))
    assert found.bidders == ("b2", "b5")


def test_a_string_shared_by_more_than_a_third_of_the_bidders_came_from_the_tender() -> None:
    token = "项目编号YNJT-2026-017号"
    # six bidders: at most max(2, 6 // 3) = 2 may share it
    assert len(shared_strings(_six(b1_ch1=token, b2_ch1=token))) == 1
    assert shared_strings(_six(b1_ch1=token, b2_ch1=token, b3_ch1=token)) == []
    # one bidder repeating its own token is the anonymity scan's business, not this one's
    assert shared_strings(_six(b1_ch1=token, b1_ch2=token)) == []


def test_ordinary_road_works_vocabulary_is_not_unusual() -> None:
    text = "采用C30混凝土、HRB400钢筋，K12+300处按JTG F80/1-2017检验，压实度96%。"
    assert shared_strings(_six(b1_ch1=text, b2_ch1=text)) == []


def test_the_same_wrong_form_character_in_the_same_words_is_a_signal() -> None:
    # 質 is the traditional form of 质; one in 10 and one in 13 Han characters: not above the
    # 10 % of a chapter written in traditional characters
    a = "严格执行質量检验制度。"
    b = "我方将严格执行 質量检查程序。"  # the same two characters either side without spaces
    c = "严格执行质量检验制度。"  # the right form: nothing
    texts = _six(b1_ch1=a, b4_ch2=b, b6_ch1=c)
    (found,) = shared_strings(texts)
    assert found.kind is StringKind.HANZI
    assert found.length == 5  # 执行質量检
    assert found.places == (Place("b1", "ch1", 2, 7), Place("b4", "ch2", 5, 11))


def test_a_chapter_written_in_traditional_characters_has_no_wrong_forms() -> None:
    traditional = "嚴格執行質量檢驗制度，確保工程質量。"
    assert shared_strings(_six(b1_ch1=traditional, b2_ch1=traditional)) == []


def test_the_same_invisible_character_in_the_same_place_is_a_signal() -> None:
    a = "施工\u200b组织设计"
    b = "总体施工\u200b组织安排"
    (found,) = shared_strings(_six(b3_ch1=a, b6_ch2=b))
    assert found.kind is StringKind.SYMBOL
    assert found.length == 5  # 施工, the zero-width space, 组织
    assert found.places == (Place("b3", "ch1", 0, 5), Place("b6", "ch2", 2, 7))


# --- identical price tails -------------------------------------------------------------------


def test_price_tails_beyond_rounding() -> None:
    prices = {
        "b1": Decimal("36961205.37"),  # 3696120537 fen
        "b2": Decimal("35400005.37"),  # 3540000537 fen: shares 0537 with b1
        "b3": Decimal("1234567.00"),  # 123456700 fen
        "b4": Decimal("7654567.00"),  # 765456700 fen: shares 456700 with b3, 4567 above zeros
        "b5": Decimal("36960000.00"),
        "b6": Decimal("35640000.00"),  # shares 0000000 with b5: rounding explains all of it
    }
    assert price_tails(prices) == [
        PriceTail("b1", "b2", 4, Decimal("0.01")),
        PriceTail("b3", "b4", 4, Decimal("1")),
    ]


def test_two_shared_fen_digits_are_below_the_default_threshold() -> None:
    prices = {"b1": Decimal("1234.37"), "b2": Decimal("5678.37")}  # 37 only: 4 ≠ 8
    assert price_tails(prices) == []
    assert price_tails(prices, CollusionConfig(min_tail_digits=2)) == [
        PriceTail("b1", "b2", 2, Decimal("0.01"))
    ]


def test_equal_prices_and_finer_decimals() -> None:
    assert price_tails({"b1": Decimal("35400000.00"), "b2": Decimal("35400000")}) == [
        PriceTail("b1", "b2", 3, Decimal("100000"))  # 354 above five zeros of yuan
    ]
    assert price_tails({"b1": Decimal("100.125"), "b2": Decimal("200.125")}) == [
        PriceTail("b1", "b2", 5, Decimal("0.001"))  # 100125 and 200125 share 00125
    ]


# --- the demo's clean bids ---------------------------------------------------------------------


def test_the_demo_package_raises_no_new_signal() -> None:
    package = demo_package()
    found = bidder_signals(package.texts, package.prices)
    # the same-chapter check's one pair is the demo's planted one (b02 and b05 wrote chapter 3
    # alike, tests/scoring/test_similarity.py); nothing else
    assert [(p.chapter_id, p.bidder_a, p.bidder_b) for p in found.same_chapter] == [
        ("ch3", "b02", "b05")
    ]
    assert found.cross_chapter == ()
    assert found.shared_strings == ()
    assert found.price_tails == ()
    assert found.count == 1


def test_strings_inside_chapters_already_alike_are_left_to_the_similarity_signal() -> None:
    rng = random.Random(8)
    copied = _text(rng, 600) + "见编号QX7-19B。"
    texts = {(b, c): _text(rng, 600) for b in ("b1", "b2", "b3") for c in ("ch1", "ch2")}
    texts["b1", "ch1"] = copied
    texts["b2", "ch1"] = copied  # the same chapter copied: the token travels with it
    found = bidder_signals(texts, {})
    assert [(p.chapter_id, p.bidder_a, p.bidder_b) for p in found.same_chapter] == [
        ("ch1", "b1", "b2")
    ]
    assert found.shared_strings == ()
    # the same token also in b2's other chapter, not alike to b1's: now a signal
    texts["b2", "ch2"] = texts["b2", "ch2"] + "编号qx7-19b"
    (string,) = bidder_signals(texts, {}).shared_strings
    assert [(p.bidder_id, p.chapter_id) for p in string.places] == [
        ("b1", "ch1"),
        ("b2", "ch1"),
        ("b2", "ch2"),
    ]
