"""The allocation problem both policies share (分配问题): the inputs and results, which seats
are eligible, each venue's capacity, and the feasibility diagnostics an ``AllocationError``
explains in Chinese for the host-site user who must book more seats or relax a rule.

Constraints: never a seat at the host venue, only seats the caller marked available (status
ok, shared to the directory, free in the window), only seats with every required capability,
optional per-venue caps, and at most ``max_per_employer_per_venue`` experts of one employer at
one venue. Seats of one venue are interchangeable for distance, so the policies work on
(expert, venue) pairs and hand out seats within a venue in ``seat_id`` order.

Pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from evaluation_hub.errors import AllocationError

__all__ = [
    "AllocationProposal",
    "Assignment",
    "AwayExpert",
    "CandidateSeat",
    "EligibleVenue",
    "Problem",
    "employer_note",
    "placeable",
    "prepare",
    "seat_experts",
]


@dataclass(frozen=True)
class AwayExpert:
    """An expert (评标专家) to be seated away from the host venue."""

    expert_id: int
    code: str
    home_region: str
    employer: str


@dataclass(frozen=True)
class CandidateSeat:
    """A seat (工位) from the directory; ``available`` is computed by the caller.

    ``available`` means: status ok, shared to the directory and free for the whole window.
    """

    seat_id: int
    label: str
    venue_id: int
    venue_name: str
    region: str
    capabilities: frozenset[str]
    available: bool


@dataclass(frozen=True)
class Assignment:
    """One expert's proposed seat, with a one-line reason in Chinese for people."""

    expert_id: int
    expert_code: str
    seat_id: int
    seat_label: str
    venue_id: int
    venue_name: str
    distance_km: int | None
    reason: str


@dataclass(frozen=True)
class AllocationProposal:
    """The nearest-venue proposal; ``assignments`` are ordered by ``expert_id``."""

    assignments: tuple[Assignment, ...]
    total_distance_km: int
    solver: Literal["none", "linear_sum_assignment", "milp"]


@dataclass(frozen=True)
class EligibleVenue:
    venue_id: int
    name: str
    region: str
    seats: tuple[CandidateSeat, ...]  # eligible seats in seat_id order
    capacity: int  # how many of them may be used (a venue cap can lower it)


@dataclass(frozen=True)
class Problem:
    experts: tuple[AwayExpert, ...]  # by expert_id
    venues: tuple[EligibleVenue, ...]  # venues with capacity > 0, by venue_id
    per_employer: int
    employer_counts: Mapping[str, int]


def _capability_text(required: frozenset[str]) -> str:
    return "、".join(sorted(required)) if required else "（无特殊要求）"


def _validate(
    experts: Sequence[AwayExpert],
    seats: Sequence[CandidateSeat],
    max_per_employer_per_venue: int,
    caps: Mapping[int, int],
) -> None:
    if max_per_employer_per_venue < 1:
        raise AllocationError(
            f"每个场地同单位专家上限必须至少为 1，收到 {max_per_employer_per_venue}"
        )
    ids = Counter(e.expert_id for e in experts)
    if dup := sorted(i for i, n in ids.items() if n > 1):
        raise AllocationError(f"专家编号重复：{'、'.join(map(str, dup))}")
    seat_ids = Counter(s.seat_id for s in seats)
    if dup := sorted(i for i, n in seat_ids.items() if n > 1):
        raise AllocationError(f"工位编号重复：{'、'.join(map(str, dup))}")
    if bad := sorted(v for v, c in caps.items() if c < 0):
        raise AllocationError(f"场地 {bad[0]} 的容量上限 {caps[bad[0]]} 无效，应为非负整数")
    # Seats of one venue must agree on where the venue is: distance is a venue property.
    venue_meta: dict[int, tuple[str, str]] = {}
    for s in seats:
        meta = venue_meta.setdefault(s.venue_id, (s.venue_name, s.region))
        if meta != (s.venue_name, s.region):
            raise AllocationError(
                f"场地 {s.venue_id} 的工位给出了不一致的场地名称或地区："
                f"{meta[0]}（{meta[1]}）与 {s.venue_name}（{s.region}）"
            )


def _venues(
    eligible: Sequence[CandidateSeat], caps: Mapping[int, int]
) -> tuple[list[EligibleVenue], list[str]]:
    """Eligible seats grouped by venue (capacity > 0 only), and notes about lowered capacity."""
    by_venue: dict[int, list[CandidateSeat]] = defaultdict(list)
    for s in eligible:
        by_venue[s.venue_id].append(s)
    venues = []
    capped: list[str] = []
    for venue_id in sorted(by_venue):
        vseats = by_venue[venue_id]
        capacity = min(len(vseats), caps.get(venue_id, len(vseats)))
        if capacity < len(vseats):
            capped.append(
                f"场地 {vseats[0].venue_name} 有 {len(vseats)} 个符合条件的工位，"
                f"但容量上限为 {capacity} 个"
            )
        if capacity > 0:
            first = vseats[0]
            venues.append(
                EligibleVenue(venue_id, first.venue_name, first.region, tuple(vseats), capacity)
            )
    return venues, capped


def prepare(
    experts: Iterable[AwayExpert],
    seats: Iterable[CandidateSeat],
    host_venue_id: int,
    required_capabilities: frozenset[str],
    max_per_employer_per_venue: int,
    venue_caps: Mapping[int, int] | None,
) -> Problem:
    expert_list = sorted(experts, key=lambda e: e.expert_id)
    seat_list = sorted(seats, key=lambda s: (s.venue_id, s.seat_id))
    caps = dict(venue_caps or {})
    _validate(expert_list, seat_list, max_per_employer_per_venue, caps)

    at_host = [s for s in seat_list if s.venue_id == host_venue_id]
    away = [s for s in seat_list if s.venue_id != host_venue_id]
    unavailable = [s for s in away if not s.available]
    lacking = [s for s in away if s.available and not required_capabilities <= s.capabilities]
    eligible = [s for s in away if s.available and required_capabilities <= s.capabilities]
    venues, capped = _venues(eligible, caps)

    n = len(expert_list)
    total = sum(v.capacity for v in venues)
    if total < n:
        caps_text = _capability_text(required_capabilities)
        reasons = [f"需要 {n} 个客场工位，具备能力 {caps_text} 且可用的只有 {total} 个"]
        if at_host:
            reasons.append(f"{len(at_host)} 个工位在主场场地，不能分配给客场专家")
        if unavailable:
            reasons.append(
                f"{len(unavailable)} 个客场工位不可用（状态异常、未共享到目录或该时段已被预约）"
            )
        if lacking:
            missing = sorted(
                set().union(*(required_capabilities - s.capabilities for s in lacking))
            )
            reasons.append(f"{len(lacking)} 个客场工位缺少能力 {'、'.join(missing)}")
        reasons.extend(capped)
        raise AllocationError(
            f"可用工位不足：{n} 名专家需要 {n} 个客场工位，"
            f"具备能力 {caps_text} 且可用的非主场工位只有 {total} 个",
            reasons,
        )

    k = max_per_employer_per_venue
    employer_counts = Counter(e.employer for e in expert_list)
    spread = [
        f"单位 {employer} 有 {count} 名专家，每个场地至多 {k} 名，"
        f"需要至少 {math.ceil(count / k)} 个客场场地，但只有 {len(venues)} 个场地有可用工位"
        for employer, count in sorted(employer_counts.items())
        if math.ceil(count / k) > len(venues)
    ]
    if spread:
        raise AllocationError("无法分散同单位专家：" + "；".join(spread), spread)

    if not placeable(dict(employer_counts), {v.venue_id: v.capacity for v in venues}, k, {}):
        reasons = [f"场地 {v.name} 可用 {v.capacity} 个工位" for v in venues]
        raise AllocationError(
            f"在每个场地同单位专家至多 {k} 名的限制下，{len(venues)} 个场地的 {total} 个工位"
            f"无法容纳全部 {n} 名专家，请增加场地或放宽同单位上限",
            reasons,
        )
    return Problem(tuple(expert_list), tuple(venues), k, employer_counts)


def placeable(
    demand: Mapping[str, int],
    room: Mapping[int, int],
    k: int,
    used: Mapping[tuple[str, int], int],
) -> bool:
    """Whether every employer's remaining experts fit, as an integral max-flow.

    Source → employer (its remaining experts) → venue (k minus already seated there) → sink
    (the venue's remaining room). The flow is integral, so it saturates exactly when an
    assignment exists.
    """
    need = sum(demand.values())
    if need == 0:
        return True
    residual: dict[Any, dict[Any, int]] = defaultdict(dict)

    def edge(a: Any, b: Any, cap: int) -> None:
        residual[a][b] = residual[a].get(b, 0) + cap
        residual[b].setdefault(a, 0)

    for employer, count in demand.items():
        if count > 0:
            edge("S", ("e", employer), count)
            for venue_id in room:
                edge(("e", employer), ("v", venue_id), k - used.get((employer, venue_id), 0))
    for venue_id, free in room.items():
        edge(("v", venue_id), "T", free)

    flow = 0
    while True:
        parent: dict[Any, Any] = {"S": None}
        queue: deque[Any] = deque(["S"])
        while queue and "T" not in parent:
            node = queue.popleft()
            for nxt, cap in residual[node].items():
                if cap > 0 and nxt not in parent:
                    parent[nxt] = node
                    queue.append(nxt)
        if "T" not in parent:
            return flow == need
        path = []
        node = "T"
        while parent[node] is not None:
            path.append((parent[node], node))
            node = parent[node]
        push = min(residual[a][b] for a, b in path)
        for a, b in path:
            residual[a][b] -= push
            residual[b][a] += push
        flow += push


def seat_experts(
    problem: Problem, venue_of: Mapping[int, int]
) -> list[tuple[AwayExpert, EligibleVenue, CandidateSeat]]:
    """Hand out seats within each venue in seat_id order to experts in expert_id order."""
    venues = {v.venue_id: v for v in problem.venues}
    taken: Counter[int] = Counter()
    placed = []
    for expert in problem.experts:
        venue = venues[venue_of[expert.expert_id]]
        placed.append((expert, venue, venue.seats[taken[venue.venue_id]]))
        taken[venue.venue_id] += 1
    return placed


def employer_note(problem: Problem, expert: AwayExpert) -> str:
    if problem.employer_counts[expert.employer] > 1:
        return f"同单位专家已分散（每个场地至多 {problem.per_employer} 名）"
    return "无同单位专家"
