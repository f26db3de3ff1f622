from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seat_protocol.backoff import Backoff, reconnect_delay


def test_full_jitter_scales_the_capped_exponential() -> None:
    assert [reconnect_delay(n, lambda: 0.5) for n in range(8)] == [
        0.25,
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        15.0,
        15.0,
    ]
    assert reconnect_delay(3, lambda: 0.0) == 0.0
    assert reconnect_delay(10_000, lambda: 0.999, cap=60.0) == pytest.approx(59.94)


@given(st.integers(0, 200), st.floats(0.0, 1.0, exclude_max=True))
def test_delay_stays_within_zero_and_the_ceiling(attempt: int, draw: float) -> None:
    delay = reconnect_delay(attempt, lambda: draw, base=0.5, cap=30.0)
    assert 0.0 <= delay <= min(30.0, 0.5 * 2.0 ** min(attempt, 64))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempt": -1}, "attempt must be >= 0, got -1"),
        ({"attempt": 0, "base": 0.0}, "need 0 < base <= cap, got base=0.0 cap=30.0"),
        ({"attempt": 0, "base": 5.0, "cap": 1.0}, "need 0 < base <= cap, got base=5.0 cap=1.0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    attempt = int(kwargs.pop("attempt"))
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        reconnect_delay(attempt, lambda: 0.5, **kwargs)


def test_random_source_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"random\(\) must return a number in \[0, 1\), got 1.0"):
        reconnect_delay(0, lambda: 1.0)


def test_backoff_counts_attempts_and_resets() -> None:
    draws = iter([0.5, 0.5, 0.5, 0.5])
    backoff = Backoff(random=lambda: next(draws), base=1.0, cap=10.0)
    assert [backoff.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5
