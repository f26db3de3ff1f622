"""The nearest-venue policy (就近分配): every away expert at an away venue near their home
region, minimising the total home-to-venue distance with an exact optimiser (never first-fit).

``scipy.optimize.linear_sum_assignment`` solves it when the employer cap cannot bind; otherwise
a binary program (``scipy.optimize.milp``: one venue per expert, venue capacity, employer cap
per venue). Each assignment carries a one-line reason in Chinese.

Pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

from evaluation_hub.booking.allocation.distances import RegionDistances
from evaluation_hub.booking.allocation.problem import (
    AllocationProposal,
    Assignment,
    AwayExpert,
    CandidateSeat,
    Problem,
    employer_note,
    prepare,
    seat_experts,
)
from evaluation_hub.errors import AllocationError

__all__ = ["propose_nearest"]


def propose_nearest(
    experts: Iterable[AwayExpert],
    seats: Iterable[CandidateSeat],
    *,
    host_venue_id: int,
    distances: RegionDistances,
    required_capabilities: frozenset[str] = frozenset(),
    max_per_employer_per_venue: int = 1,
    venue_caps: Mapping[int, int] | None = None,
    solver: Literal["auto", "milp"] = "auto",
) -> AllocationProposal:
    """Propose a seat for every expert minimising the total home-to-venue distance.

    ``solver="auto"`` uses the assignment algorithm when no employer has more experts than the
    per-venue cap (the cap cannot bind) and the binary program otherwise; ``"milp"`` forces the
    binary program, which the tests use to cross-check the two.
    """
    problem = prepare(
        experts,
        seats,
        host_venue_id,
        required_capabilities,
        max_per_employer_per_venue,
        venue_caps,
    )
    for expert in problem.experts:
        distances.region(expert.home_region)
    for venue in problem.venues:
        distances.region(venue.region)
    if not problem.experts:
        return AllocationProposal((), 0, "none")

    n, m = len(problem.experts), len(problem.venues)
    dist = np.array(
        [[distances.km(e.home_region, v.region) for v in problem.venues] for e in problem.experts],
        dtype=np.int64,
    )
    # Tie-break: (venue rank + 1) * (n - expert rank). Its total is below `weight`, so it only
    # orders equal-distance solutions; being non-separable it also fixes which of two experts
    # takes which venue when swapping them costs nothing (lower ids go to lower venue ids).
    weight = m * n * n + 1
    ranks = np.arange(1, m + 1)[None, :] * (n - np.arange(n))[:, None]
    cost = (dist * weight + ranks).astype(np.float64)

    binding = max(problem.employer_counts.values()) > problem.per_employer
    if solver == "auto" and not binding:
        used_solver: Literal["linear_sum_assignment", "milp"] = "linear_sum_assignment"
        columns = [j for j, v in enumerate(problem.venues) for _ in range(v.capacity)]
        rows, cols = linear_sum_assignment(cost[:, columns])
        venue_index = {int(r): columns[int(c)] for r, c in zip(rows, cols, strict=True)}
    else:
        used_solver = "milp"
        venue_index = _solve_milp(problem, cost)

    venue_of = {
        e.expert_id: problem.venues[venue_index[i]].venue_id for i, e in enumerate(problem.experts)
    }
    assignments = []
    total = 0
    for expert, venue, seat in seat_experts(problem, venue_of):
        km = distances.km(expert.home_region, venue.region)
        total += km
        reason = (
            f"专家 {expert.code} 所在地 {distances.name(expert.home_region)}，"
            f"分配至 {venue.name} {seat.label}，距离 {km} km；{employer_note(problem, expert)}"
        )
        assignments.append(
            Assignment(
                expert.expert_id,
                expert.code,
                seat.seat_id,
                seat.label,
                venue.venue_id,
                venue.name,
                km,
                reason,
            )
        )
    return AllocationProposal(tuple(assignments), total, used_solver)


def _solve_milp(problem: Problem, cost: np.ndarray[Any, np.dtype[np.float64]]) -> dict[int, int]:
    """Binary x[expert, venue]: one venue per expert, venue capacity, employer cap per venue."""
    n, m = cost.shape
    rows: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    lower: list[float] = []
    upper: list[float] = []

    def add(indices: Sequence[int], lo: float, hi: float) -> None:
        row = np.zeros(n * m)
        row[list(indices)] = 1.0
        rows.append(row)
        lower.append(lo)
        upper.append(hi)

    for i in range(n):
        add([i * m + j for j in range(m)], 1, 1)
    for j, venue in enumerate(problem.venues):
        add([i * m + j for i in range(n)], 0, venue.capacity)
    members: dict[str, list[int]] = defaultdict(list)
    for i, expert in enumerate(problem.experts):
        members[expert.employer].append(i)
    for group in members.values():
        if len(group) > problem.per_employer:
            for j in range(m):
                add([i * m + j for i in group], 0, problem.per_employer)

    result = milp(
        cost.ravel(),
        integrality=np.ones(n * m),
        bounds=Bounds(0, 1),
        constraints=LinearConstraint(np.array(rows), lower, upper),
        # The default relative gap (1e-4) could stop at a solution a few km worse.
        options={"mip_rel_gap": 0.0},
    )
    if result.status != 0 or result.x is None:
        raise AllocationError(f"求解器未能给出最优分配：{result.message}")
    x = np.rint(result.x).reshape(n, m)
    return {i: int(np.argmax(x[i])) for i in range(n)}
