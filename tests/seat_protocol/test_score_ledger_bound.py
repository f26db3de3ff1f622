"""A seat's channel lives as long as the hub process, and the seat saves in session after session
(the soak, bench/soak.py, found every verdict kept: +28 ledger entries an evaluation for ever).
The ledger keeps the latest ``SETTLED_KEPT`` verdicts; a replay of an older key goes to the
shell again (``CommitScore``), which answers it from the database, as after a hub restart."""

from __future__ import annotations

from seat_protocol.events import CommitScore, ScoreCommitted
from seat_protocol.hub_side import SETTLED_KEPT, HubChannels
from seat_protocol.streams import Channel
from tests.seat_protocol.wire import SEAT_ID, connect

EXTRA = 40


def _commits(events: list[object]) -> list[str]:
    return [e.idempotency_key for e in events if isinstance(e, CommitScore)]


def test_the_ledger_keeps_the_latest_verdicts_and_sends_older_replays_to_the_shell() -> None:
    channels = HubChannels()
    link = connect(channels=channels, seat_channel=Channel())
    keys = [f"k{n}" for n in range(SETTLED_KEPT + EXTRA)]
    for key in keys:
        link.seat.submit_score(key, "S1", {"item-1": 8})
        link.pump()
        link.hub.score_committed(key)
    link.pump()
    assert channels.get(SEAT_ID).ledger_size == SETTLED_KEPT
    assert _commits(link.hub_events) == keys

    # The newest kept key: answered from memory, no second commit.
    link.seat.submit_score(keys[-SETTLED_KEPT], "S1", {"item-1": 8})
    link.pump()
    assert _commits(link.hub_events) == keys
    # The oldest key, dropped: the shell is asked again (it answers from the database).
    link.seat.submit_score(keys[0], "S1", {"item-1": 8})
    link.pump()
    assert _commits(link.hub_events) == [*keys, keys[0]]
    link.hub.score_committed(keys[0])
    link.pump()
    assert link.seat_events[-1] == ScoreCommitted(keys[0])
    assert channels.get(SEAT_ID).ledger_size == SETTLED_KEPT


def test_a_score_waiting_for_its_commit_is_never_dropped() -> None:
    channels = HubChannels()
    link = connect(channels=channels, seat_channel=Channel())
    link.seat.submit_score("slow", "S1", {"item-1": 8})
    link.pump()
    for n in range(SETTLED_KEPT + EXTRA):
        link.seat.submit_score(f"k{n}", "S1", {"item-1": 8})
        link.pump()
        link.hub.score_committed(f"k{n}")
    link.hub.score_committed("slow")  # still waiting: its verdict is taken
    link.pump()
    assert link.seat_events[-1] == ScoreCommitted("slow")
    assert channels.get(SEAT_ID).ledger_size == SETTLED_KEPT
