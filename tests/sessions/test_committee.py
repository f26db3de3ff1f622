from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation_hub.sessions.committee import (
    Committee,
    CommitteeRules,
    Elected,
    Member,
    Tied,
    assess,
    check_size,
    count_round,
    elect_chair,
)
from evaluation_hub.sessions.errors import SessionRuleError


def _committee(experts: int, reps: int = 0) -> Committee:
    members = [Member(f"E{i}", "expert") for i in range(1, experts + 1)]
    members += [Member(f"R{i}", "tenderer_representative") for i in range(1, reps + 1)]
    return Committee(tuple(members))


def _confirm_all(c: Committee) -> Committee:
    for m in c.members:
        c = c.confirm(m.member_id)
    return c


def test_confirmation_and_recusal() -> None:
    c = _committee(5)
    c = c.confirm("E1")
    assert c.members[0].status == "confirmed"
    c = c.recuse("E2", "  与投标人存在利害关系 ")
    assert c.members[1] == Member("E2", "expert", "recused", "与投标人存在利害关系")
    with pytest.raises(SessionRuleError, match=r"^成员 E2 已声明回避，不能继续参加本次评标$"):
        c.confirm("E2")
    with pytest.raises(SessionRuleError, match=r"^成员 E2 已声明回避$"):
        c.recuse("E2", "again")
    with pytest.raises(SessionRuleError, match=r"^成员 E1 已确认，无需重复确认$"):
        c.confirm("E1")
    with pytest.raises(SessionRuleError, match=r"^声明回避必须说明回避事由$") as info:
        c.recuse("E3", " ")
    assert info.value.http_status == 422
    with pytest.raises(SessionRuleError, match=r"^评标委员会中没有成员 X9$"):
        c.confirm("X9")
    # A confirmed member who discovers a conflict may still step back.
    assert c.recuse("E1", "发现亲属任职于投标人").members[0].status == "recused"


def test_duplicate_members_are_refused() -> None:
    with pytest.raises(ValueError, match="member ids must be unique"):
        Committee((Member("E1", "expert"), Member("E1", "expert")))


def test_five_experts_are_lawful() -> None:
    a = assess(_confirm_all(_committee(5)))
    assert (a.complete, a.valid, a.size, a.experts, a.experts_needed, a.problems) == (
        True,
        True,
        5,
        5,
        0,
        (),
    )


def test_a_recusal_breaks_the_committee() -> None:
    c = _confirm_all(_committee(5)).recuse("E3", "回避")
    a = assess(c)
    assert not a.valid
    assert a.experts_needed == 1
    assert a.problems == ("已确认成员 4 人，评标委员会应为 5 人以上单数",)


def test_experts_below_two_thirds() -> None:
    a = assess(_confirm_all(_committee(3, reps=2)))
    assert a.problems == ("专家 3 人，占已确认成员 5 人的比例低于 2/3",)
    assert a.experts_needed == 2  # 5 of 7
    assert assess(_confirm_all(_committee(5, reps=2))).valid


def test_pending_members_make_it_incomplete() -> None:
    a = assess(_committee(5).confirm("E1"))
    assert not a.complete
    assert a.size == 1


def test_rules_are_configuration() -> None:
    seven = CommitteeRules(min_size=7)
    a = assess(_confirm_all(_committee(5)), seven)
    assert a.problems == ("已确认成员 5 人，评标委员会应为 7 人以上单数",)
    assert a.experts_needed == 2
    even_ok = CommitteeRules(min_size=4, odd=False, min_expert_share=Fraction(1, 2))
    assert assess(_confirm_all(_committee(2, reps=2)), even_ok).valid
    only_experts = CommitteeRules(min_expert_share=Fraction(1))
    assert assess(_confirm_all(_committee(5, reps=1)), only_experts).experts_needed is None
    assert assess(_confirm_all(_committee(4)), only_experts).experts_needed == 1
    with pytest.raises(ValueError, match="min_size must be at least 1"):
        CommitteeRules(min_size=0)
    with pytest.raises(ValueError, match=r"min_expert_share must be in \(0, 1\]"):
        CommitteeRules(min_expert_share=Fraction(0))


def _lawful(n: int, e: int, r: CommitteeRules) -> bool:
    share = r.min_expert_share
    return (
        n >= r.min_size
        and (n % 2 == 1 or not r.odd)
        and e * share.denominator >= n * share.numerator
    )


@given(
    st.integers(0, 12),
    st.integers(0, 6),
    st.integers(1, 9),
    st.booleans(),
    st.sampled_from([Fraction(1, 2), Fraction(2, 3), Fraction(3, 4)]),
)
def test_experts_needed_is_the_smallest_lawful_addition(
    experts: int, reps: int, min_size: int, odd: bool, share: Fraction
) -> None:
    rules = CommitteeRules(min_size=min_size, odd=odd, min_expert_share=share)
    a = assess(_confirm_all(_committee(experts, reps)), rules)
    needed = next(k for k in range(100) if _lawful(experts + reps + k, experts + k, rules))
    assert a.experts_needed == needed
    assert a.valid == (needed == 0) == (a.problems == ())


VOTERS = ["E1", "E2", "E3", "E4", "E5"]


def test_chair_elected_in_one_round() -> None:
    result = count_round(
        VOTERS, VOTERS, {"E1": "E2", "E2": "E2", "E3": "E4", "E4": "E2", "E5": "E4"}
    )
    assert result == Elected("E2", 1, {"E1": 0, "E2": 3, "E3": 0, "E4": 2, "E5": 0})


def test_tie_goes_to_a_further_round_among_the_tied() -> None:
    first = {"E1": "E2", "E2": "E4", "E3": "E2", "E4": "E4", "E5": "E5"}
    assert elect_chair(VOTERS, VOTERS, [first]) == Tied(
        frozenset({"E2", "E4"}), 1, {"E1": 0, "E2": 2, "E3": 0, "E4": 2, "E5": 1}
    )
    second = {"E1": "E2", "E2": "E4", "E3": "E2", "E4": "E4", "E5": "E4"}
    assert elect_chair(VOTERS, VOTERS, [first, second]) == Elected("E4", 2, {"E2": 2, "E4": 3})
    with pytest.raises(SessionRuleError, match=r"^第 2 轮候选人为 E2、E4，E5 投给的 E5 不在其中$"):
        elect_chair(VOTERS, VOTERS, [first, {**second, "E5": "E5"}])


def test_invalid_ballots() -> None:
    with pytest.raises(SessionRuleError, match=r"^X1 不是评标委员会成员，不能投票$"):
        count_round(VOTERS, VOTERS, {"X1": "E1"})
    with pytest.raises(SessionRuleError, match=r"^第 1 轮没有收到选票$"):
        count_round(VOTERS, VOTERS, {})
    done = {"E1": "E1", "E2": "E1"}
    with pytest.raises(SessionRuleError, match=r"^第 1 轮已选出主任委员 E1，不再进行第 2 轮投票$"):
        elect_chair(VOTERS, VOTERS, [done, done])
    with pytest.raises(ValueError, match="no rounds to count"):
        elect_chair(VOTERS, VOTERS, [])


@given(st.dictionaries(st.sampled_from(VOTERS), st.sampled_from(VOTERS), min_size=1))
def test_a_round_either_elects_the_unique_leader_or_ties_the_leaders(
    ballots: dict[str, str],
) -> None:
    result = count_round(VOTERS, VOTERS, ballots)
    counts = {c: list(ballots.values()).count(c) for c in VOTERS}
    top = max(counts.values())
    leaders = {c for c, n in counts.items() if n == top}
    if len(leaders) == 1:
        assert result == Elected(leaders.pop(), 1, counts)
    else:
        assert isinstance(result, Tied)
        assert result.candidates == leaders


@pytest.mark.parametrize("size", [5, 7, 9, 11])
def test_a_planned_committee_of_an_odd_number_from_five_is_lawful(size: int) -> None:
    check_size(size)


@pytest.mark.parametrize("size", [1, 3, 4, 6, 8])
def test_a_planned_committee_below_five_or_even_is_refused(size: int) -> None:
    with pytest.raises(SessionRuleError) as refused:
        check_size(size)
    assert (refused.value.code, refused.value.http_status) == ("committee-size", 422)
    assert str(refused.value) == f"评标委员会人数必须为 5 人以上的单数，当前为 {size} 人"


def test_the_planned_size_follows_the_configured_rules() -> None:
    check_size(3, CommitteeRules(min_size=3))
    check_size(6, CommitteeRules(min_size=5, odd=False))
    with pytest.raises(
        SessionRuleError, match=r"^评标委员会人数必须为 7 人以上的单数，当前为 5 人$"
    ):
        check_size(5, CommitteeRules(min_size=7))
    with pytest.raises(SessionRuleError, match=r"^评标委员会人数必须为 5 人以上，当前为 4 人$"):
        check_size(4, CommitteeRules(min_size=5, odd=False))
