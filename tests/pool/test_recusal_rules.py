"""Automatic recusal as a pure rule: organisation names folded (width, blanks, punctuation,
brackets, company-form suffixes), former employers within the configured years, the blacklist
by code or by name and employer while in force; each conflict's exact message."""

from __future__ import annotations

from datetime import date

import pytest

from evaluation_hub.pool.names import fold_name, fold_person
from evaluation_hub.pool.recusal import (
    BidderName,
    BlacklistEntry,
    Candidate,
    Conflict,
    FormerEmployer,
    conflicts,
)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("云南建工集团有限公司", "云南建工集团股份有限公司", True),
        ("云南建工集团有限公司", "云南建工集团有限责任公司", True),
        ("云南建工集团有限公司", "云南建工集团公司", True),
        ("云南建工集团有限公司", "云南建工集团", True),
        ("云南建工（集团）有限公司", "云南建工(集团)有限公司", True),
        ("云南建工（集团）有限公司", "云南建工集团有限公司", True),
        ("云南 建工·集团 有限公司", "云南建工集团有限公司", True),
        ("ＡＢＣ科技有限公司", "abc科技有限公司", True),
        ("昆明１号工程有限公司", "昆明1号工程有限公司", True),
        ("云南建工集团有限公司", "云南建工第二集团有限公司", False),
        ("云南建工集团有限公司", "云南建工", False),
        ("公司", "有限公司", False),
    ],
)
def test_organisation_names_fold_to_one_key(a: str, b: str, same: bool) -> None:
    assert (fold_name(a) == fold_name(b)) is same


def test_a_bare_suffix_is_not_folded_away() -> None:
    assert fold_name("有限公司") == "有限"
    assert fold_name("") == ""
    assert fold_person("张 三") == fold_person("张三") == "张三"


BIDDERS = (
    BidderName("B1", "云南建工集团股份有限公司"),
    BidderName("B2", "昆明路桥（集团）有限公司"),
)
TODAY = date(2026, 12, 4)


def check(
    candidate: Candidate, blacklist: tuple[BlacklistEntry, ...] = (), years: int = 3
) -> tuple[Conflict, ...]:
    return conflicts(candidate, BIDDERS, blacklist, former_employer_years=years, today=TODAY)


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (Candidate("E1", "赵建国", "昆明理工大学"), ()),
        (
            Candidate("E1", "赵建国", "云南建工集团有限公司"),
            (
                Conflict(
                    "employer",
                    "B1",
                    "专家 E1 赵建国 的工作单位「云南建工集团有限公司」与投标人「云南建工集团股份有限公司」为同一单位，应当回避",
                ),
            ),
        ),
        (
            Candidate(
                "E2", "钱文华", "昆明理工大学", (FormerEmployer("昆明路桥集团有限公司", 2023),)
            ),
            (
                Conflict(
                    "former_employer",
                    "B2",
                    "专家 E2 钱文华 的原工作单位「昆明路桥集团有限公司」（2023 年离开，在 3 年内）与投标人「昆明路桥（集团）有限公司」为同一单位，应当回避",
                ),
            ),
        ),
        # Left in 2022: more than 3 calendar years before 2026.
        (
            Candidate(
                "E2", "钱文华", "昆明理工大学", (FormerEmployer("昆明路桥集团有限公司", 2022),)
            ),
            (),
        ),
        (
            Candidate("R1", "孙丽萍", "昆明路桥集团公司", title="采购人代表"),
            (
                Conflict(
                    "employer",
                    "B2",
                    "采购人代表 R1 孙丽萍 的工作单位「昆明路桥集团公司」与投标人「昆明路桥（集团）有限公司」为同一单位，应当回避",
                ),
            ),
        ),
    ],
)
def test_employer_and_former_employer_conflicts(
    candidate: Candidate, expected: tuple[Conflict, ...]
) -> None:
    assert check(candidate) == expected


def test_the_number_of_years_is_configuration() -> None:
    person = Candidate(
        "E2", "钱文华", "昆明理工大学", (FormerEmployer("昆明路桥集团有限公司", 2022),)
    )
    assert [c.kind for c in check(person, years=4)] == ["former_employer"]
    assert check(person, years=3) == ()
    assert check(Candidate("E2", "钱文华", "x", (FormerEmployer("昆明路桥集团", 2026),)), years=0)


ENTRY = BlacklistEntry("E9", "", "", "评审中违反纪律", date(2027, 6, 30))
BY_NAME = BlacklistEntry("", "周 海燕", "红河学院", "虚假承诺", date(2026, 12, 4))


@pytest.mark.parametrize(
    ("candidate", "entries", "messages"),
    [
        (
            Candidate("E9", "吴振华", "曲靖师范学院"),
            (ENTRY,),
            [
                "专家 E9 吴振华 在信用黑名单中（E9，事由：评审中违反纪律，期限至 2027-06-30），不得参加评标"
            ],
        ),
        (
            Candidate("E5", "周海燕", "红河学院"),
            (BY_NAME,),
            [
                "专家 E5 周海燕 在信用黑名单中（周 海燕（红河学院），事由：虚假承诺，期限至 2026-12-04），不得参加评标"
            ],
        ),
        (Candidate("E5", "周海燕", "红河职业技术学院"), (BY_NAME,), []),
        (Candidate("E8", "吴振华", "曲靖师范学院"), (ENTRY,), []),
        (
            Candidate("E9", "吴振华", "曲靖师范学院"),
            (BlacklistEntry("E9", "", "", "过期", date(2026, 12, 3)),),
            [],
        ),
    ],
)
def test_the_blacklist_by_code_or_name_and_employer_while_in_force(
    candidate: Candidate, entries: tuple[BlacklistEntry, ...], messages: list[str]
) -> None:
    assert [c.message for c in check(candidate, entries)] == messages


def test_every_reason_is_listed_blacklist_first() -> None:
    person = Candidate(
        "E9", "吴振华", "云南建工集团", (FormerEmployer("昆明路桥集团有限公司", 2025),)
    )
    assert [(c.kind, c.bidder_id) for c in check(person, (ENTRY,))] == [
        ("blacklist", None),
        ("employer", "B1"),
        ("former_employer", "B2"),
    ]
