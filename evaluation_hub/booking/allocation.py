"""Seat allocation proposals (工位分配) for a session's away experts: nearest venue, or random draw.

Two policies:

* :func:`propose_nearest` puts every expert at an away venue near their home region. It
  minimises the total home-to-venue distance with an exact optimiser (never first-fit):
  ``scipy.optimize.linear_sum_assignment`` when the employer cap cannot bind, otherwise a
  binary program solved by ``scipy.optimize.milp``. Each assignment carries a one-line reason.
* :func:`draw` is the random draw (两随机): away venues and the placement of experts on their
  seats are drawn from a secret seed. :func:`commitment` is published before the session, the
  seed is revealed after it, and :func:`verify_draw` lets anyone re-derive and check the draw.

Both respect the same constraints: never a seat at the host venue, only seats the caller marked
available (status ok, shared to the directory, free in the window), only seats with every
required capability, optional per-venue caps, and at most ``max_per_employer_per_venue`` experts
of one employer at one venue. When no feasible allocation exists an :class:`AllocationError`
names what is missing; its message and reasons are Simplified Chinese because the host-site
user who must book more seats or relax a rule reads them.

This module is pure: it never does I/O, reads no clock and draws no randomness of its own (the
draw's seed is a parameter). Seats of one venue are interchangeable for distance, so the
optimiser works on (expert, venue) pairs and hands out seats within a venue in ``seat_id``
order; that keeps the models small and the result deterministic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

from evaluation_hub.errors import AllocationError

__all__ = [
    "AllocationProposal",
    "Assignment",
    "AwayExpert",
    "CandidateSeat",
    "DrawInputs",
    "DrawResult",
    "Region",
    "RegionDistances",
    "commitment",
    "draw",
    "propose_nearest",
    "verify_draw",
]

EARTH_RADIUS_KM = 6371.0088
MIN_SEED_BYTES = 32
_COMMIT_DOMAIN = b"evaluation-hub/seat-draw/commitment/v1\x00"
_STREAM_DOMAIN = b"evaluation-hub/seat-draw/stream/v1\x00"


# ---------------------------------------------------------------------------------------------
# Inputs and results


@dataclass(frozen=True)
class Region:
    """A prefecture-level division (地级行政区) with the coordinates of its seat of government."""

    code: str
    name: str
    latitude: float
    longitude: float


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


# ---------------------------------------------------------------------------------------------
# Distances


def haversine_km(a: Region, b: Region) -> float:
    """Great-circle distance between the two regions' seats of government."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class RegionDistances:
    """Whole-kilometre distances between regions: haversine, or an explicit override.

    Distances are whole kilometres on purpose: with integer costs a tie-break smaller than one
    kilometre in total can never change which total distance is optimal.
    """

    def __init__(
        self,
        regions: Iterable[Region],
        overrides: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        self._regions: dict[str, Region] = {}
        for region in regions:
            if region.code in self._regions:
                raise AllocationError(f"地区代码 {region.code} 在地区表中重复出现")
            self._regions[region.code] = region
        self._overrides: dict[frozenset[str], int] = {}
        for (a, b), km in (overrides or {}).items():
            self.region(a)
            self.region(b)
            if not math.isfinite(km) or km < 0:
                raise AllocationError(f"地区 {a} 与 {b} 之间的距离 {km} km 无效，应为非负数")
            self._overrides[frozenset((a, b))] = round(km)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._regions)

    def region(self, code: str) -> Region:
        try:
            return self._regions[code]
        except KeyError:
            raise AllocationError(
                f"未知地区代码 {code}：距离表中没有该地区，请更正地区代码或在地区配置中补充该地区",
                [f"未知地区代码 {code}"],
            ) from None

    def name(self, code: str) -> str:
        return self.region(code).name

    def km(self, a: str, b: str) -> int:
        ra, rb = self.region(a), self.region(b)
        override = self._overrides.get(frozenset((a, b)))
        if override is not None:
            return override
        if a == b:
            return 0
        return round(haversine_km(ra, rb))


# ---------------------------------------------------------------------------------------------
# The shared problem: eligible venues, capacities, feasibility diagnostics


@dataclass(frozen=True)
class _Venue:
    venue_id: int
    name: str
    region: str
    seats: tuple[CandidateSeat, ...]  # eligible seats in seat_id order
    capacity: int  # how many of them may be used (a venue cap can lower it)


@dataclass(frozen=True)
class _Problem:
    experts: tuple[AwayExpert, ...]  # by expert_id
    venues: tuple[_Venue, ...]  # venues with capacity > 0, by venue_id
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
) -> tuple[list[_Venue], list[str]]:
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
            venues.append(_Venue(venue_id, first.venue_name, first.region, tuple(vseats), capacity))
    return venues, capped


def _prepare(
    experts: Iterable[AwayExpert],
    seats: Iterable[CandidateSeat],
    host_venue_id: int,
    required_capabilities: frozenset[str],
    max_per_employer_per_venue: int,
    venue_caps: Mapping[int, int] | None,
) -> _Problem:
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

    if not _placeable(dict(employer_counts), {v.venue_id: v.capacity for v in venues}, k, {}):
        reasons = [f"场地 {v.name} 可用 {v.capacity} 个工位" for v in venues]
        raise AllocationError(
            f"在每个场地同单位专家至多 {k} 名的限制下，{len(venues)} 个场地的 {total} 个工位"
            f"无法容纳全部 {n} 名专家，请增加场地或放宽同单位上限",
            reasons,
        )
    return _Problem(tuple(expert_list), tuple(venues), k, employer_counts)


def _placeable(
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


def _seat_experts(
    problem: _Problem, venue_of: Mapping[int, int]
) -> list[tuple[AwayExpert, _Venue, CandidateSeat]]:
    """Hand out seats within each venue in seat_id order to experts in expert_id order."""
    venues = {v.venue_id: v for v in problem.venues}
    taken: Counter[int] = Counter()
    placed = []
    for expert in problem.experts:
        venue = venues[venue_of[expert.expert_id]]
        placed.append((expert, venue, venue.seats[taken[venue.venue_id]]))
        taken[venue.venue_id] += 1
    return placed


def _employer_note(problem: _Problem, expert: AwayExpert) -> str:
    if problem.employer_counts[expert.employer] > 1:
        return f"同单位专家已分散（每个场地至多 {problem.per_employer} 名）"
    return "无同单位专家"


# ---------------------------------------------------------------------------------------------
# Nearest policy


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
    problem = _prepare(
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
    for expert, venue, seat in _seat_experts(problem, venue_of):
        km = distances.km(expert.home_region, venue.region)
        total += km
        reason = (
            f"专家 {expert.code} 所在地 {distances.name(expert.home_region)}，"
            f"分配至 {venue.name} {seat.label}，距离 {km} km；{_employer_note(problem, expert)}"
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


def _solve_milp(problem: _Problem, cost: np.ndarray[Any, np.dtype[np.float64]]) -> dict[int, int]:
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


# ---------------------------------------------------------------------------------------------
# Random draw (两随机)


@dataclass(frozen=True)
class DrawInputs:
    """Everything a draw depends on besides the seed, in canonical (sorted) order."""

    experts: tuple[AwayExpert, ...]
    seats: tuple[CandidateSeat, ...]
    host_venue_id: int
    required_capabilities: frozenset[str] = frozenset()
    max_per_employer_per_venue: int = 1
    venue_caps: tuple[tuple[int, int], ...] = ()
    min_venues: int = 1

    @classmethod
    def of(
        cls,
        experts: Iterable[AwayExpert],
        seats: Iterable[CandidateSeat],
        host_venue_id: int,
        *,
        required_capabilities: frozenset[str] = frozenset(),
        max_per_employer_per_venue: int = 1,
        venue_caps: Mapping[int, int] | None = None,
        min_venues: int = 1,
    ) -> DrawInputs:
        return cls(
            tuple(sorted(experts, key=lambda e: e.expert_id)),
            tuple(sorted(seats, key=lambda s: (s.venue_id, s.seat_id))),
            host_venue_id,
            frozenset(required_capabilities),
            max_per_employer_per_venue,
            tuple(sorted((venue_caps or {}).items())),
            min_venues,
        )

    def canonical(self) -> bytes:
        """The canonical encoding hashed into the commitment: sorted-key compact UTF-8 JSON."""
        doc = {
            "experts": [[e.expert_id, e.code, e.home_region, e.employer] for e in self.experts],
            "seats": [
                [
                    s.seat_id,
                    s.label,
                    s.venue_id,
                    s.venue_name,
                    s.region,
                    sorted(s.capabilities),
                    s.available,
                ]
                for s in self.seats
            ],
            "host_venue_id": self.host_venue_id,
            "required_capabilities": sorted(self.required_capabilities),
            "max_per_employer_per_venue": self.max_per_employer_per_venue,
            "venue_caps": [list(pair) for pair in self.venue_caps],
            "min_venues": self.min_venues,
        }
        return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class DrawResult:
    """A random draw: the venues in the order drawn, and each expert's seat (by expert_id)."""

    commitment: str
    venue_ids: tuple[int, ...]
    assignments: tuple[Assignment, ...]
    inputs: DrawInputs = field(repr=False)


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def _check_seed(seed: bytes) -> None:
    if len(seed) < MIN_SEED_BYTES:
        raise AllocationError(
            f"抽取种子至少需要 {MIN_SEED_BYTES} 字节的随机数，收到 {len(seed)} 字节"
        )


def commitment(seed: bytes, inputs: DrawInputs) -> str:
    """SHA-256 (hex) over the domain-separated, length-prefixed seed and canonical inputs."""
    _check_seed(seed)
    payload = _COMMIT_DOMAIN + _length_prefixed(seed) + _length_prefixed(inputs.canonical())
    return hashlib.sha256(payload).hexdigest()


class _DrawStream:
    """Deterministic random integers: HMAC-SHA256(seed, domain ‖ inputs digest ‖ counter)."""

    def __init__(self, seed: bytes, inputs: DrawInputs) -> None:
        self._seed = seed
        self._context = _STREAM_DOMAIN + hashlib.sha256(inputs.canonical()).digest()
        self._counter = 0
        self._pool = b""

    def _take(self, count: int) -> bytes:
        while len(self._pool) < count:
            block = self._context + self._counter.to_bytes(8, "big")
            self._pool += hmac.new(self._seed, block, hashlib.sha256).digest()
            self._counter += 1
        out, self._pool = self._pool[:count], self._pool[count:]
        return out

    def randbelow(self, n: int) -> int:
        """Uniform on [0, n): 64-bit words, rejecting the top partial range (no modulo bias)."""
        if n < 1:
            raise ValueError("randbelow needs n >= 1")
        limit = (1 << 64) - (1 << 64) % n
        while True:
            word = int.from_bytes(self._take(8), "big")
            if word < limit:
                return word % n

    def shuffled(self, items: Sequence[Any]) -> list[Any]:
        """Fisher-Yates with unbiased indices."""
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = self.randbelow(i + 1)
            out[i], out[j] = out[j], out[i]
        return out


def draw(
    seed: bytes,
    experts: Iterable[AwayExpert],
    seats: Iterable[CandidateSeat],
    host_venue_id: int,
    *,
    required_capabilities: frozenset[str] = frozenset(),
    max_per_employer_per_venue: int = 1,
    venue_caps: Mapping[int, int] | None = None,
    min_venues: int = 1,
) -> DrawResult:
    """Draw away venues and place the experts on their seats, from ``seed`` alone.

    Venues with at least one usable seat are put in a uniformly random order; the drawn venues
    are the shortest prefix of at least ``min_venues`` that can seat every expert under the
    constraints. Experts are then taken in a uniformly random order and each is placed on a
    seat chosen uniformly among the seats that keep the rest placeable. Without a binding
    employer cap this is a uniform placement over the drawn venues' seats.
    """
    inputs = DrawInputs.of(
        experts,
        seats,
        host_venue_id,
        required_capabilities=required_capabilities,
        max_per_employer_per_venue=max_per_employer_per_venue,
        venue_caps=venue_caps,
        min_venues=min_venues,
    )
    return _draw(seed, inputs)


def _draw(seed: bytes, inputs: DrawInputs) -> DrawResult:
    committed = commitment(seed, inputs)
    problem = _prepare(
        inputs.experts,
        inputs.seats,
        inputs.host_venue_id,
        inputs.required_capabilities,
        inputs.max_per_employer_per_venue,
        dict(inputs.venue_caps),
    )
    k = problem.per_employer
    if inputs.min_venues < 1 or inputs.min_venues > len(problem.venues):
        raise AllocationError(
            f"要求至少抽取 {inputs.min_venues} 个客场场地，"
            f"但只有 {len(problem.venues)} 个场地有可用工位"
        )
    stream = _DrawStream(seed, inputs)
    order: list[_Venue] = stream.shuffled(problem.venues)
    demand = dict(problem.employer_counts)
    count = inputs.min_venues
    while not _placeable(demand, {v.venue_id: v.capacity for v in order[:count]}, k, {}):
        count += 1  # terminates: _prepare proved all venues together are placeable
    drawn = order[:count]

    room = {v.venue_id: v.capacity for v in drawn}
    free = {v.venue_id: list(v.seats) for v in drawn}
    used: Counter[tuple[str, int]] = Counter()
    placed: list[tuple[AwayExpert, _Venue, CandidateSeat]] = []
    for expert in stream.shuffled(problem.experts):
        demand[expert.employer] -= 1
        candidates: list[tuple[_Venue, CandidateSeat]] = []
        for venue in sorted(drawn, key=lambda v: v.venue_id):
            key = (expert.employer, venue.venue_id)
            if room[venue.venue_id] == 0 or used[key] >= k:
                continue
            room[venue.venue_id] -= 1
            used[key] += 1
            if _placeable(demand, room, k, used):
                candidates.extend((venue, seat) for seat in free[venue.venue_id])
            room[venue.venue_id] += 1
            used[key] -= 1
        venue, seat = candidates[stream.randbelow(len(candidates))]
        room[venue.venue_id] -= 1
        used[(expert.employer, venue.venue_id)] += 1
        free[venue.venue_id].remove(seat)
        placed.append((expert, venue, seat))

    assignments = tuple(
        Assignment(
            expert.expert_id,
            expert.code,
            seat.seat_id,
            seat.label,
            venue.venue_id,
            venue.name,
            None,
            f"专家 {expert.code} 经随机抽取分配至 {venue.name} {seat.label}；"
            f"{_employer_note(problem, expert)}",
        )
        for expert, venue, seat in sorted(placed, key=lambda p: p[0].expert_id)
    )
    return DrawResult(committed, tuple(v.venue_id for v in drawn), assignments, inputs)


def verify_draw(seed: bytes, published_commitment: str, inputs: DrawInputs) -> DrawResult:
    """Check the revealed seed and the inputs against the commitment; return the re-derived draw.

    The caller compares the returned assignments with the ones announced at the start.
    """
    actual = commitment(seed, inputs)
    if not hmac.compare_digest(actual.encode(), published_commitment.lower().encode()):
        raise AllocationError(
            "抽取验证失败：公开的种子或抽取输入与事先公布的承诺值不符",
            [f"事先公布的承诺值 {published_commitment}", f"按公开种子和输入计算得到 {actual}"],
        )
    return _draw(seed, inputs)
