"""Seat allocation proposals (工位分配) for a session's away experts: nearest venue, or random draw.

Two policies over one shared problem:

    problem.py    inputs and results, eligible seats and venue capacities, the feasibility
                  diagnostics (``AllocationError`` names what is missing, in Chinese)
    distances.py  whole-kilometre distances between regions (great-circle or a table override)
    nearest.py    :func:`propose_nearest`: minimal total distance with an exact optimiser
                  (assignment algorithm, or the MILP model when the employer cap binds)
    draw.py       :func:`draw` (两随机): venues and seats from a secret seed, the published
                  :func:`commitment`, and :func:`verify_draw` for anyone to re-derive it

This package is pure: it never does I/O, reads no clock and draws no randomness of its own
(the draw's seed is a parameter). The use cases that read the directory and book the result
are ``evaluation_hub.sessions.seat_allocation``. This module is the package's public surface.
"""

from __future__ import annotations

from evaluation_hub.booking.allocation.distances import Region, RegionDistances, haversine_km
from evaluation_hub.booking.allocation.draw import (
    MIN_SEED_BYTES,
    DrawInputs,
    DrawResult,
    commitment,
    draw,
    inputs_from_canonical,
    verify_draw,
)
from evaluation_hub.booking.allocation.nearest import propose_nearest
from evaluation_hub.booking.allocation.problem import (
    AllocationProposal,
    Assignment,
    AwayExpert,
    CandidateSeat,
)

__all__ = [
    "MIN_SEED_BYTES",
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
    "haversine_km",
    "inputs_from_canonical",
    "propose_nearest",
    "verify_draw",
]
