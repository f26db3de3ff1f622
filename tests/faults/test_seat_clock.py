"""A seat terminal whose clock is wrong by minutes, or is stepped back during the evaluation (an
NTP correction, a time set by hand), keeps its saves in the order they were made: the outbox
orders by its rows, never by the terminal's clock (the hub counts the latest save of a part,
and only the seat knows which one that is until it is sent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from seat_agent.outbox import ScoreOutbox


def _clock(*readings: float) -> Iterator[float]:
    yield from readings


async def test_a_clock_stepped_back_between_two_saves_keeps_their_order(tmp_path: Path) -> None:
    # The first save at 10:00, the second after the clock was set back ten minutes.
    readings = _clock(36_000.0, 35_400.0, 35_410.0, 35_420.0, 35_430.0)
    keys = iter(["first", "second", "third"])
    outbox = await ScoreOutbox.open(
        tmp_path / "outbox.db", new_key=lambda: next(keys), clock=lambda: next(readings)
    )
    try:
        await outbox.save("S-1", {"part": "ch1", "entries": [{"points": "6"}]})
        await outbox.save("S-1", {"part": "ch1", "entries": [{"points": "7"}]})
        await outbox.save("S-1", {"part": "ch2", "entries": []})
        assert [p.idempotency_key for p in await outbox.pending()] == ["first", "second", "third"]
        # The earlier save of ch1 was replaced by the later one, whatever the clock said.
        assert await outbox.superseded("first") is True
        assert await outbox.superseded("second") is False
        await outbox.acknowledged("second")
        await outbox.acknowledged("first")
        assert [v.idempotency_key for v in await outbox.verdicts()] == ["first", "second"]
    finally:
        await outbox.close()
