"""The score outbox file on its own: saves survive reopening; ack removes; refusal keeps."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from seat_agent.errors import OutboxError
from seat_agent.outbox import PendingScore, RefusedScore, ScoreOutbox


def _keys() -> itertools.count[int]:
    return itertools.count(1)


async def test_saves_survive_reopening_and_leave_only_when_acknowledged(tmp_path: Path) -> None:
    counter = itertools.count(1)
    outbox = await ScoreOutbox.open(
        tmp_path / "o.db", new_key=lambda: f"k{next(counter)}", clock=lambda: 100.0
    )
    assert await outbox.save("s1", {"c1": {"item": 7.5}}) == "k1"
    assert await outbox.save("s1", {"c2": {"item": 3}}) == "k2"
    await outbox.close()

    reopened = await ScoreOutbox.open(tmp_path / "o.db", new_key=lambda: "unused")
    assert await reopened.pending() == [
        PendingScore("k1", "s1", {"c1": {"item": 7.5}}, 100.0),
        PendingScore("k2", "s1", {"c2": {"item": 3}}, 100.0),
    ]
    await reopened.acknowledged("k1")
    await reopened.acknowledged("k1")  # a repeated ack changes nothing
    await reopened.refused("k2", "score-out-of-range", "分值超出范围")
    assert await reopened.pending() == []
    assert await reopened.refused_scores() == [
        RefusedScore("k2", "score-out-of-range", "分值超出范围")
    ]
    await reopened.close()


async def test_a_file_that_is_not_an_outbox_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(OutboxError) as caught:
        await ScoreOutbox.open(path)
    assert str(caught.value) == (
        f"the score outbox {path} cannot be used (file is not a database); keep the file for "
        "the venue staff and do not delete it: it may hold unsent scores"
    )
