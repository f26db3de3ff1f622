"""The score outbox file on its own: saves survive reopening and wait until the hub's verdict;
an accepted or refused save is recorded with the verdict and no longer sent; an outbox file
written before verdicts were recorded opens and keeps its saves."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from seat_agent.errors import OutboxError
from seat_agent.outbox import PendingScore, RefusedScore, ScoreOutbox, Verdict


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
    assert await reopened.verdicts() == [
        Verdict("k1", "s1", True, "accepted", ""),
        Verdict("k2", "s1", False, "score-out-of-range", "分值超出范围"),
    ]
    # A verdict is final: a late refusal of an accepted save, or an ack of a refused one,
    # changes nothing.
    await reopened.refused("k1", "x", "y")
    await reopened.acknowledged("k2", "已保存")
    assert [(v.accepted, v.code) for v in await reopened.verdicts()] == [
        (True, "accepted"),
        (False, "score-out-of-range"),
    ]
    await reopened.close()


async def test_an_outbox_written_before_verdicts_were_kept_opens_with_its_saves(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE outbox (idempotency_key TEXT PRIMARY KEY, session_id TEXT NOT NULL, "
        "sheet TEXT NOT NULL, saved_at REAL NOT NULL, refused_code TEXT, refused_message TEXT)"
    )
    conn.execute("INSERT INTO outbox VALUES ('k1', 's1', '{\"a\": 1}', 5.0, NULL, NULL)")
    conn.commit()
    conn.close()
    outbox = await ScoreOutbox.open(path, clock=lambda: 9.0)
    assert await outbox.pending() == [PendingScore("k1", "s1", {"a": 1}, 5.0)]
    await outbox.acknowledged("k1", "评分已保存，主场校验通过")
    assert await outbox.verdicts() == [
        Verdict("k1", "s1", True, "accepted", "评分已保存，主场校验通过")
    ]
    await outbox.close()


async def test_a_file_that_is_not_an_outbox_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(OutboxError) as caught:
        await ScoreOutbox.open(path)
    assert str(caught.value) == (
        f"the score outbox {path} cannot be used (file is not a database); keep the file for "
        "the venue staff and do not delete it: it may hold unsent scores"
    )
