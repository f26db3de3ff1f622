"""Committee formation at check-in (评标委员会组建) and the chair election, as pure rules.

At check-in each member reads the integrity commitment with the bidder list and either confirms
or declares recusal (回避). A recused member cannot continue; the caller releases their seat and
may draw a replacement. The committee that sits must stay lawful: an odd number of at least 5
members with experts at least two thirds (tenderer's representatives make up the rest). Every
number is configuration (:class:`CommitteeRules`).

The chair (主任委员) is elected by the members: in each round the candidate with the most
votes wins; on a tie for the most votes, another round is held among the tied candidates.

Never does I/O; returns new values instead of changing old ones.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from evaluation_hub.sessions.errors import SessionRuleError

__all__ = [
    "PROCUREMENT_TYPES",
    "Assessment",
    "Committee",
    "CommitteeRules",
    "CompositionRules",
    "Elected",
    "Member",
    "Tied",
    "assess",
    "check_plan",
    "check_size",
    "count_round",
    "elect_chair",
    "may_chair",
    "member_title",
    "member_titles",
    "rules_for",
]

MemberKind = Literal["expert", "tenderer_representative"]
MemberStatus = Literal["pending", "confirmed", "recused"]
ProcurementType = Literal["engineering", "government"]
#: the procurement types (采购方式) a session may follow, with their names on pages
PROCUREMENT_TYPES: dict[str, str] = {"engineering": "工程招标", "government": "政府采购"}


@dataclass(frozen=True)
class CommitteeRules:
    min_size: int = 5
    odd: bool = True
    min_expert_share: Fraction = Fraction(2, 3)

    def __post_init__(self) -> None:
        if self.min_size < 1:
            raise ValueError("min_size must be at least 1")
        if not 0 < self.min_expert_share <= 1:
            raise ValueError("min_expert_share must be in (0, 1]")


@dataclass(frozen=True)
class CompositionRules:
    """How the procurement type and budget change the committee (评标委员会组成).

    ``large_min_size``: the least size for a government procurement (and, with
    ``large_applies_to_engineering``, an engineering tender too) whose budget is at least
    ``large_budget`` yuan: 7 or more from 10 million yuan (财政部令第87号《政府采购货物和服务
    招标投标管理办法》第四十七条). ``representatives_may_chair_*``: whether a purchaser's
    (tenderer's) representative may be elected chair under each type — not under government
    procurement by default, a local choice as centres commonly practise; configure your rule.
    """

    large_budget: Decimal = Decimal("10000000")
    large_min_size: int = 7
    large_applies_to_engineering: bool = False
    representatives_may_chair_government: bool = False
    representatives_may_chair_engineering: bool = True

    def __post_init__(self) -> None:
        if self.large_budget <= 0:
            raise ValueError("large_budget must be positive")
        if self.large_min_size < 1:
            raise ValueError("large_min_size must be at least 1")


def rules_for(
    base: CommitteeRules,
    composition: CompositionRules,
    procurement_type: str,
    budget: Decimal | None,
) -> CommitteeRules:
    """The committee rules for one session: the base rules, with the larger least size where
    the type and budget call for it."""
    large_type = procurement_type == "government" or composition.large_applies_to_engineering
    if (
        large_type
        and budget is not None
        and budget >= composition.large_budget
        and composition.large_min_size > base.min_size
    ):
        return dataclasses.replace(base, min_size=composition.large_min_size)
    return base


def check_plan(size: int, representatives: int, rules: CommitteeRules) -> None:
    """The planned composition must be lawful before anyone is drawn: the size (``check_size``)
    and the experts' share (the representatives at most the rest)."""
    check_size(size, rules)
    if representatives < 0 or representatives > size:
        raise SessionRuleError(
            "committee-composition", f"采购人代表人数须在 0 至 {size} 人之间", 422
        )
    share = rules.min_expert_share
    if Fraction(size - representatives, size) < share:
        raise SessionRuleError(
            "committee-composition",
            f"评标委员会 {size} 人中专家 {size - representatives} 人，"
            f"不足成员总数的 {share.numerator}/{share.denominator}",
            422,
        )


def member_title(kind: str, procurement_type: str) -> str:
    """How pages name a member: 专家, or the representative of the purchaser (政府采购) or the
    tenderer (工程招标)."""
    if kind == "expert":
        return "专家"
    return "采购人代表" if procurement_type == "government" else "招标人代表"


def member_titles(procurement_type: str) -> dict[str, str]:
    """How pages name each member kind under ``procurement_type``."""
    return {k: member_title(k, procurement_type) for k in ("expert", "tenderer_representative")}


def may_chair(kind: str, procurement_type: str, composition: CompositionRules) -> bool:
    if kind == "expert":
        return True
    if procurement_type == "government":
        return composition.representatives_may_chair_government
    return composition.representatives_may_chair_engineering


@dataclass(frozen=True)
class Member:
    member_id: str
    kind: MemberKind
    status: MemberStatus = "pending"
    recusal_reason: str | None = None


@dataclass(frozen=True)
class Committee:
    members: tuple[Member, ...]

    def __post_init__(self) -> None:
        ids = [m.member_id for m in self.members]
        if len(set(ids)) != len(ids):
            raise ValueError("member ids must be unique")

    def _find(self, member_id: str) -> Member:
        for member in self.members:
            if member.member_id == member_id:
                return member
        raise SessionRuleError("unknown-member", f"评标委员会中没有成员 {member_id}", 404)

    def _replace(self, new: Member) -> Committee:
        return Committee(tuple(new if m.member_id == new.member_id else m for m in self.members))

    def confirm(self, member_id: str) -> Committee:
        """The member read the commitment and the bidder list and confirms they may sit."""
        member = self._find(member_id)
        if member.status == "recused":
            raise SessionRuleError(
                "member-recused", f"成员 {member_id} 已声明回避，不能继续参加本次评标"
            )
        if member.status == "confirmed":
            raise SessionRuleError("already-confirmed", f"成员 {member_id} 已确认，无需重复确认")
        return self._replace(dataclasses.replace(member, status="confirmed"))

    def recuse(self, member_id: str, reason: str) -> Committee:
        """The member declares a conflict of interest (a confirmed member may still do so)."""
        member = self._find(member_id)
        if member.status == "recused":
            raise SessionRuleError("member-recused", f"成员 {member_id} 已声明回避")
        if not reason.strip():
            raise SessionRuleError("reason-required", "声明回避必须说明回避事由", 422)
        return self._replace(
            dataclasses.replace(member, status="recused", recusal_reason=reason.strip())
        )

    def seated(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.status == "confirmed")


@dataclass(frozen=True)
class Assessment:
    """``valid``: the confirmed members form a lawful committee. ``experts_needed``: the fewest
    additional experts who, once confirmed, would make it lawful (0 when it already is; None
    when no number of experts can, because only experts may sit and someone else is seated)."""

    complete: bool
    valid: bool
    size: int
    experts: int
    experts_needed: int | None
    problems: tuple[str, ...]


def _lawful(size: int, experts: int, rules: CommitteeRules) -> bool:
    return (
        size >= rules.min_size
        and (size % 2 == 1 or not rules.odd)
        and Fraction(experts, max(size, 1)) >= rules.min_expert_share
    )


def check_size(size: int, rules: CommitteeRules | None = None) -> None:
    """The number of members a session plans for must itself be lawful (odd, at least
    ``min_size``): checked when the session is created, before anyone is drawn."""
    rules = rules or CommitteeRules()
    if size < rules.min_size or (rules.odd and size % 2 == 0):
        parity = "的单数" if rules.odd else ""
        raise SessionRuleError(
            "committee-size",
            f"评标委员会人数必须为 {rules.min_size} 人以上{parity}，当前为 {size} 人",
            422,
        )


def assess(committee: Committee, rules: CommitteeRules | None = None) -> Assessment:
    rules = rules or CommitteeRules()
    seated = committee.seated()
    size = len(seated)
    experts = sum(m.kind == "expert" for m in seated)
    problems: list[str] = []
    if size < rules.min_size or (rules.odd and size % 2 == 0):
        parity = "单数" if rules.odd else ""
        problems.append(f"已确认成员 {size} 人，评标委员会应为 {rules.min_size} 人以上{parity}")
    if size and Fraction(experts, size) < rules.min_expert_share:
        share = rules.min_expert_share
        problems.append(
            f"专家 {experts} 人，占已确认成员 {size} 人的比例低于 {share.numerator}/{share.denominator}"
        )
    return Assessment(
        complete=all(m.status != "pending" for m in committee.members),
        valid=not problems,
        size=size,
        experts=experts,
        experts_needed=_experts_needed(size, experts, rules),
        problems=tuple(problems),
    )


def _experts_needed(size: int, experts: int, rules: CommitteeRules) -> int | None:
    share = rules.min_expert_share
    if share == 1:
        if size > experts:
            return None  # only experts may sit, and added experts cannot change that
        needed = 0
    else:
        # Smallest k with (experts + k) / (size + k) >= share.
        needed = max(0, math.ceil((share * size - experts) / (1 - share)))
    # From there, at most min_size + 1 more are needed for the size and parity rules.
    while not _lawful(size + needed, experts + needed, rules):
        needed += 1
    return needed


@dataclass(frozen=True)
class Elected:
    chair: str
    round: int
    votes: Mapping[str, int]


@dataclass(frozen=True)
class Tied:
    """No winner: hold round ``round + 1`` among ``candidates``."""

    candidates: frozenset[str]
    round: int
    votes: Mapping[str, int]


def count_round(
    candidates: Collection[str],
    voters: Collection[str],
    ballots: Mapping[str, str],
    round_no: int = 1,
) -> Elected | Tied:
    """Count one round; ``ballots`` maps each voter to the candidate they chose."""
    if not candidates:
        raise ValueError("a round needs at least one candidate")
    for voter, choice in sorted(ballots.items()):
        if voter not in voters:
            raise SessionRuleError("not-a-voter", f"{voter} 不是评标委员会成员，不能投票", 422)
        if choice not in candidates:
            names = "、".join(sorted(candidates))
            raise SessionRuleError(
                "not-a-candidate",
                f"第 {round_no} 轮候选人为 {names}，{voter} 投给的 {choice} 不在其中",
                422,
            )
    if not ballots:
        raise SessionRuleError("no-ballots", f"第 {round_no} 轮没有收到选票", 422)
    votes = Counter(ballots.values())
    tally = {c: votes.get(c, 0) for c in sorted(candidates)}
    top = max(tally.values())
    leaders = frozenset(c for c, n in tally.items() if n == top)
    if len(leaders) == 1:
        (chair,) = leaders
        return Elected(chair, round_no, tally)
    return Tied(leaders, round_no, tally)


def elect_chair(
    candidates: Collection[str], voters: Collection[str], rounds: Sequence[Mapping[str, str]]
) -> Elected | Tied:
    """Run the rounds held so far; each further round is among the previous round's tied."""
    if not rounds:
        raise ValueError("no rounds to count")
    current: Collection[str] = candidates
    result: Elected | Tied | None = None
    for number, ballots in enumerate(rounds, start=1):
        if isinstance(result, Elected):
            raise SessionRuleError(
                "already-elected",
                f"第 {result.round} 轮已选出主任委员 {result.chair}，不再进行第 {number} 轮投票",
            )
        result = count_round(current, voters, ballots, number)
        if isinstance(result, Tied):
            current = result.candidates
    assert result is not None
    return result
