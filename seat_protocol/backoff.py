"""Reconnect delays for the seat agent: capped exponential backoff with full jitter.

Full jitter (a uniform draw between 0 and the capped exponential) spreads a venue's seats out
when the hub comes back after an outage, instead of having them all reconnect in lock-step.
Pure: the caller passes the random source (``random.random`` in the shell, a fake in tests)
and sleeps itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff", "reconnect_delay"]


def reconnect_delay(
    attempt: int, random: Callable[[], float], *, base: float = 0.5, cap: float = 30.0
) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0 for the first retry)."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if base <= 0 or cap < base:
        raise ValueError(f"need 0 < base <= cap, got base={base} cap={cap}")
    draw = random()
    if not 0.0 <= draw < 1.0:
        raise ValueError(f"random() must return a number in [0, 1), got {draw}")
    # Past 2**64 the float product is pointless; stop doubling once the cap is reached.
    ceiling = cap if attempt >= 64 else min(cap, base * 2.0**attempt)
    return draw * ceiling


@dataclass
class Backoff:
    """Counts failed attempts; ``reset`` after a connection stayed open."""

    random: Callable[[], float]
    base: float = 0.5
    cap: float = 30.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = reconnect_delay(self.attempt, self.random, base=self.base, cap=self.cap)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
