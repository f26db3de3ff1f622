"""Automatic recusal (智能回避), as a pure rule: whether a committee member must stand down
from a session because of its bidders or the credit blacklist, and why.

A member conflicts with a bidder when their employer (工作单位), or an employer they left
within the configured number of years (``PoolRules.former_employer_years``), folds to the same
key as the bidder's name (``pool.names.fold_name``). Years count whole calendar years: an
employer left in year Y counts until the end of year Y + years, so a member is never let
through because the exact day they left is unknown. A member is blacklisted when an entry in
force on ``today`` (its ``until`` date inclusive) names their expert code, or, for an entry
without a code, their name and employer.

Every conflict carries the message the host reads, naming the bidder or the blacklist entry.
Pure: no I/O, no clock (``today`` comes in).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from evaluation_hub.pool.names import fold_name, fold_person

__all__ = [
    "BidderName",
    "BlacklistEntry",
    "Candidate",
    "Conflict",
    "FormerEmployer",
    "conflicts",
]

ConflictKind = Literal["employer", "former_employer", "blacklist"]


@dataclass(frozen=True)
class FormerEmployer:
    employer: str
    left_year: int


@dataclass(frozen=True)
class Candidate:
    """A person about to sit on a committee, as the pool knows them."""

    code: str
    name: str
    employer: str
    former_employers: tuple[FormerEmployer, ...] = ()
    #: how pages name them: 专家 or 采购人代表
    title: str = "专家"


@dataclass(frozen=True)
class BidderName:
    bidder_id: str
    name: str


@dataclass(frozen=True)
class BlacklistEntry:
    """An entry of the credit blacklist: by expert code, or (no code) by name and employer."""

    expert_code: str
    name: str
    employer: str
    reason: str
    until: date

    def describe(self) -> str:
        who = self.expert_code or f"{self.name}（{self.employer}）"
        return f"{who}，事由：{self.reason}，期限至 {self.until.isoformat()}"


@dataclass(frozen=True)
class Conflict:
    kind: ConflictKind
    #: the bidder the member conflicts with (None for the blacklist)
    bidder_id: str | None
    message: str


def _blacklisted(candidate: Candidate, entry: BlacklistEntry, today: date) -> bool:
    if entry.until < today:
        return False
    if entry.expert_code:
        return entry.expert_code == candidate.code
    return (
        fold_person(entry.name) == fold_person(candidate.name)
        and bool(fold_name(entry.employer))
        and fold_name(entry.employer) == fold_name(candidate.employer)
    )


def conflicts(
    candidate: Candidate,
    bidders: Iterable[BidderName],
    blacklist: Iterable[BlacklistEntry],
    *,
    former_employer_years: int,
    today: date,
) -> tuple[Conflict, ...]:
    """Every reason ``candidate`` may not sit, in a stable order: the blacklist first, then
    each bidder (in the order given) by employer, then by former employer."""
    who = f"{candidate.title} {candidate.code} {candidate.name}".rstrip()
    found: list[Conflict] = [
        Conflict("blacklist", None, f"{who} 在信用黑名单中（{entry.describe()}），不得参加评标")
        for entry in blacklist
        if _blacklisted(candidate, entry, today)
    ]
    current = fold_name(candidate.employer)
    recent = [
        f
        for f in candidate.former_employers
        if f.left_year >= today.year - former_employer_years and fold_name(f.employer)
    ]
    for bidder in bidders:
        key = fold_name(bidder.name)
        if not key:
            continue
        if current == key:
            found.append(
                Conflict(
                    "employer",
                    bidder.bidder_id,
                    f"{who} 的工作单位「{candidate.employer}」与投标人「{bidder.name}」"
                    "为同一单位，应当回避",
                )
            )
        for former in recent:
            if fold_name(former.employer) == key:
                found.append(
                    Conflict(
                        "former_employer",
                        bidder.bidder_id,
                        f"{who} 的原工作单位「{former.employer}」（{former.left_year} 年离开，"
                        f"在 {former_employer_years} 年内）与投标人「{bidder.name}」为同一单位，"
                        "应当回避",
                    )
                )
    return tuple(found)
