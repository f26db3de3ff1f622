"""The random draw (两随机): away venues and the placement of experts on their seats drawn
from a secret seed. :func:`commitment` is published before the session, the seed is revealed
after its start, and :func:`verify_draw` lets anyone re-derive and check the draw from the
published canonical inputs (:func:`inputs_from_canonical`).

Pure: draws no randomness of its own (the seed is a parameter), no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluation_hub.booking.allocation.problem import (
    Assignment,
    AwayExpert,
    CandidateSeat,
    EligibleVenue,
    employer_note,
    placeable,
    prepare,
)
from evaluation_hub.errors import AllocationError

__all__ = [
    "MIN_SEED_BYTES",
    "DrawInputs",
    "DrawResult",
    "commitment",
    "draw",
    "inputs_from_canonical",
    "verify_draw",
]

MIN_SEED_BYTES = 32
_COMMIT_DOMAIN = b"evaluation-hub/seat-draw/commitment/v1\x00"
_STREAM_DOMAIN = b"evaluation-hub/seat-draw/stream/v1\x00"


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
    problem = prepare(
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
    order: list[EligibleVenue] = stream.shuffled(problem.venues)
    demand = dict(problem.employer_counts)
    count = inputs.min_venues
    while not placeable(demand, {v.venue_id: v.capacity for v in order[:count]}, k, {}):
        count += 1  # terminates: _prepare proved all venues together are placeable
    drawn = order[:count]

    room = {v.venue_id: v.capacity for v in drawn}
    free = {v.venue_id: list(v.seats) for v in drawn}
    used: Counter[tuple[str, int]] = Counter()
    placed: list[tuple[AwayExpert, EligibleVenue, CandidateSeat]] = []
    for expert in stream.shuffled(problem.experts):
        demand[expert.employer] -= 1
        candidates: list[tuple[EligibleVenue, CandidateSeat]] = []
        for venue in sorted(drawn, key=lambda v: v.venue_id):
            key = (expert.employer, venue.venue_id)
            if room[venue.venue_id] == 0 or used[key] >= k:
                continue
            room[venue.venue_id] -= 1
            used[key] += 1
            if placeable(demand, room, k, used):
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
            f"{employer_note(problem, expert)}",
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


def inputs_from_canonical(doc: dict[str, Any]) -> DrawInputs:
    """Rebuild the draw's inputs from their published canonical encoding, to re-derive it."""
    return DrawInputs(
        experts=tuple(AwayExpert(e[0], e[1], e[2], e[3]) for e in doc["experts"]),
        seats=tuple(
            CandidateSeat(s[0], s[1], s[2], s[3], s[4], frozenset(s[5]), s[6]) for s in doc["seats"]
        ),
        host_venue_id=doc["host_venue_id"],
        required_capabilities=frozenset(doc["required_capabilities"]),
        max_per_employer_per_venue=doc["max_per_employer_per_venue"],
        venue_caps=tuple((a, b) for a, b in doc["venue_caps"]),
        min_venues=doc["min_venues"],
    )
