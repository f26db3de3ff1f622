"""Scores from the seat's outbox to the hub's database, exactly once, over real loopback:
a connection killed between the hub's commit and its acknowledgement, a seat restart (a new
outbox object on the same file), a hub restart (fresh in-memory state, same database), and a
database failure at the hub (no verdict), sent again with backoff on the same link.

The saves here name no session the hub knows ("S-2026-0412"): each is stored with the hub's
refusal, which is the verdict the outbox records; what is tested is that every save reaches
the database once and its verdict comes back."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import text

from evaluation_hub.seats import scores
from scoring.signing import save_document, sign
from seat_agent.connection import SeatLink
from seat_agent.keys import SeatIdentity
from seat_agent.outbox import ScoreDelivery, ScoreOutbox
from seat_protocol.events import CommitScore, Disconnected, Event
from tests.seats.conftest import NOW, HubUnderTest, enrol_approved, services_for

MakeIdentity = Callable[..., SeatIdentity]
SHEETS = [{"chapter": "A", "items": {"t1": n, "t2": n + 0.5}} for n in range(1, 5)]


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for ``condition``; the bound only turns a hang into a failure message."""
    for _ in range(2000):
        if await condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


async def _no_sleep(delay: float) -> None:
    await asyncio.sleep(0)


class Seat:
    """One seat-agent process: an outbox on a file, a link and the delivery between them."""

    def __init__(self, identity: SeatIdentity, path: Path, keys: Callable[[], str]) -> None:
        self.identity = identity
        self.path = path
        self.keys = keys
        self.delays: list[float] = []
        self.gate: asyncio.Event | None = None  # when set, reconnecting waits for it
        self.closes: list[int] = []

    @asynccontextmanager
    async def running(self, **retry: Any) -> AsyncIterator[ScoreDelivery]:
        outbox = await ScoreOutbox.open(self.path, new_key=self.keys)

        async def sleep(delay: float) -> None:
            self.delays.append(delay)
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)

        delivery: ScoreDelivery | None = None

        async def on_event(event: Event) -> None:
            assert delivery is not None
            if isinstance(event, Disconnected):
                self.closes.append(event.code)
            await delivery.on_event(event)

        self.link = SeatLink(self.identity, on_event=on_event, random=lambda: 0.25, sleep=sleep)
        delivery = ScoreDelivery(outbox, self.link, **retry)
        task = asyncio.create_task(self.link.run())
        try:
            yield delivery
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            await delivery.close()
            await outbox.close()


def _keys(prefix: str) -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


async def _approved_seat(hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path) -> Seat:
    identity = make_identity("DL.DL-01")
    await enrol_approved(hub.db, identity)
    return Seat(identity, tmp_path / "outbox.db", _keys("DL.DL-01"))


async def _assert_exactly_once(hub: HubUnderTest, keys: list[str]) -> None:
    rows = await hub.scores()
    assert sorted(r.idempotency_key for r in rows) == sorted(keys)
    by_key = {r.idempotency_key: r for r in rows}
    for key, sheet in zip(keys, SHEETS, strict=False):
        assert by_key[key].sheet == sheet
        assert by_key[key].session_ref == "S-2026-0412"
        assert by_key[key].seat_key == "DL.DL-01"


async def test_scores_are_delivered_and_leave_the_outbox(
    hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path
) -> None:
    seat = await _approved_seat(hub, make_identity, tmp_path)
    async with seat.running() as delivery:
        # Saved before the first connection: kept on disk, sent once the link is up.
        keys = [await delivery.submit("S-2026-0412", SHEETS[0])]
        await until(lambda: _empty(delivery), "the first score's ack")
        keys += [await delivery.submit("S-2026-0412", sheet) for sheet in SHEETS[1:]]
        await until(lambda: _empty(delivery), "every ack")
    await _assert_exactly_once(hub, keys)
    assert hub.committed == keys


async def _empty(delivery: ScoreDelivery) -> bool:
    return await delivery.outbox.pending() == []


async def test_connection_killed_between_commit_and_ack_counts_each_score_once(
    hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path
) -> None:
    seat = await _approved_seat(hub, make_identity, tmp_path)
    killed: list[str] = []

    async def kill_after_commit(commit: CommitScore) -> None:
        # Committed, not yet acknowledged: the worst moment for the link to die.
        if commit.idempotency_key == "DL.DL-01-2" and not killed:
            killed.append(commit.idempotency_key)
            socket = seat.link.socket
            assert socket is not None
            socket.transport.abort()

    hub.listener = kill_after_commit
    async with seat.running() as delivery:
        await until(lambda: _connected(seat), "the first connection")
        keys = [await delivery.submit("S-2026-0412", sheet) for sheet in SHEETS]
        await until(lambda: _empty(delivery), "every ack after the reconnect")
    assert killed == ["DL.DL-01-2"]
    assert seat.link.connections >= 2
    assert seat.delays[0] == 0.125  # full jitter: 0.25 x the 0.5 s base, from the fake random
    await _assert_exactly_once(hub, keys)
    assert sorted(hub.committed) == sorted(keys)  # the replay was acknowledged, not re-committed


async def _closed(seat: Seat) -> bool:
    return bool(seat.closes)


async def _connected(seat: Seat) -> bool:
    return seat.link.connections > 0


async def test_seat_restart_replays_its_outbox_and_each_score_counts_once(
    hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path
) -> None:
    seat = await _approved_seat(hub, make_identity, tmp_path)
    seat.gate = asyncio.Event()  # the first process never reconnects: it "crashes" instead
    dropped = asyncio.Event()

    async def drop_first_ack(commit: CommitScore) -> None:
        if commit.idempotency_key == "DL.DL-01-1":
            socket = seat.link.socket
            assert socket is not None
            socket.transport.abort()
            dropped.set()

    hub.listener = drop_first_ack
    async with seat.running() as delivery:
        await until(lambda: _connected(seat), "the first connection")
        first = await delivery.submit("S-2026-0412", SHEETS[0])
        await asyncio.wait_for(dropped.wait(), 10)
        # Saved while the link is down; the process then dies with both in its outbox.
        second = await delivery.submit("S-2026-0412", SHEETS[1])
        assert [p.idempotency_key for p in await delivery.outbox.pending()] == [first, second]
    assert [r.idempotency_key for r in await hub.scores()] == [first]

    hub.listener = None
    restarted = Seat(seat.identity, seat.path, _keys("DL.DL-01-restart"))
    async with restarted.running() as delivery:
        await until(lambda: _empty(delivery), "the replay's acks")
    await _assert_exactly_once(hub, [first, second])


async def test_hub_restart_mid_scoring_loses_and_doubles_nothing(
    hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path
) -> None:
    seat = await _approved_seat(hub, make_identity, tmp_path)
    async with seat.running() as delivery:
        await until(lambda: _connected(seat), "the first connection")
        keys = [await delivery.submit("S-2026-0412", SHEETS[0])]
        await until(lambda: _empty(delivery), "the first ack")
        seat.gate = asyncio.Event()
        await hub.stop()
        # The hub's close frame is sent and its side of the socket closed before stop()
        # returns; the seat reads the close in its own time, so wait for it.
        await until(lambda: _closed(seat), "the seat to read the hub's close")
        assert seat.closes == [4012]  # the hub said it was shutting down: retry, do not give up
        keys += [await delivery.submit("S-2026-0412", sheet) for sheet in SHEETS[1:3]]
        await hub.start()  # same port and database, fresh channels and ledger
        seat.gate.set()
        await until(lambda: _empty(delivery), "the acks after the hub restart")
        keys.append(await delivery.submit("S-2026-0412", SHEETS[3]))
        await until(lambda: _empty(delivery), "an ack on the new hub process")
    await _assert_exactly_once(hub, keys)


async def test_same_key_with_another_payload_is_refused_and_kept_for_staff(
    hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path
) -> None:
    seat = await _approved_seat(hub, make_identity, tmp_path)
    # Another terminal image already used this key with a different sheet.
    await scores.commit_score(
        services_for(hub.db),
        seat_key="DL.DL-01",
        idempotency_key="DL.DL-01-1",
        session_ref="S-2026-0412",
        sheet={"other": 1},
        digest="0" * 64,
        signature=sign(
            seat.identity.ed25519, save_document("S-2026-0412", "DL.DL-01-1", {"other": 1})
        ).hex(),
        now=NOW,
    )
    async with seat.running() as delivery:
        await delivery.submit("S-2026-0412", SHEETS[0])

        async def refused() -> bool:
            return bool(await delivery.outbox.refused_scores())

        await until(refused, "the refusal")
        [score] = await delivery.outbox.refused_scores()
        assert await delivery.outbox.pending() == []
    assert score.code == "idempotency-conflict"
    assert score.message == (
        "该评分提交的幂等键已用于内容不同的另一次提交，本次提交未被接受，请联系现场工作人员"
    )
    [row] = await hub.scores()
    assert row.sheet == {"other": 1}


async def test_a_failing_score_listener_neither_withholds_the_ack_nor_doubles_the_score(
    hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path
) -> None:
    seat = await _approved_seat(hub, make_identity, tmp_path)

    async def broken(commit: CommitScore) -> None:
        raise RuntimeError("the engine's hook is broken")

    hub.listener = broken
    async with seat.running() as delivery:
        keys = [await delivery.submit("S-2026-0412", sheet) for sheet in SHEETS[:2]]
        await until(lambda: _empty(delivery), "the verdicts despite the broken listener")
        verdicts = await delivery.outbox.verdicts()
        assert sorted((v.idempotency_key, v.code) for v in verdicts) == [
            (key, "unknown-session") for key in keys
        ]
    await _assert_exactly_once(hub, keys)
    assert hub.committed == keys  # told once each, as committed


async def test_a_save_the_hub_could_not_store_is_sent_again_on_the_same_link(
    hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path
) -> None:
    """A database failure at the hub is no verdict (``commit-failed``): the seat sends the
    save again after a backoff delay, growing each time, while the link stays up — it does
    not wait for a reconnection that will not come."""
    seat = await _approved_seat(hub, make_identity, tmp_path)
    delays: list[float] = []
    release = asyncio.Event()

    async def retry_sleep(delay: float) -> None:
        delays.append(delay)
        await release.wait()
        release.clear()

    async def table(name: str, to: str) -> None:
        # A real fault in the hub's database: the table the intake writes is gone for a while.
        async with hub.db.write() as s:
            await s.execute(text(f"ALTER TABLE {name} RENAME TO {to}"))

    async with seat.running(random=lambda: 0.5, sleep=retry_sleep, retry_base=0.2) as delivery:
        await until(lambda: _connected(seat), "the first connection")
        await table("submitted_scores", "submitted_scores_away")
        key = await delivery.submit("S-2026-0412", SHEETS[0])

        async def waiting(n: int) -> bool:
            return len(delays) >= n

        await until(lambda: waiting(1), "the first resend to be scheduled")
        release.set()  # the resend fails too: the next delay doubles (full jitter, 0.5 drawn)
        await until(lambda: waiting(2), "the second resend to be scheduled")
        assert delays == [0.1, 0.2]
        assert await delivery.outbox.pending() != []  # no verdict yet: still waiting to go
        await table("submitted_scores_away", "submitted_scores")
        release.set()
        await until(lambda: _empty(delivery), "the verdict after the database came back")
        assert seat.link.connections == 1  # the same link throughout: no reconnection
        assert delivery.retried == 2
        [verdict] = await delivery.outbox.verdicts()
        assert (verdict.idempotency_key, verdict.code) == (key, "unknown-session")
    await _assert_exactly_once(hub, [key])


async def test_a_failed_save_a_later_save_of_its_part_replaced_is_not_sent_again(
    hub: HubUnderTest, make_identity: MakeIdentity, tmp_path: Path
) -> None:
    """The hub counts the latest save of a part: an older save whose commit failed must not
    be sent again after a newer save of the same part went through."""
    seat = await _approved_seat(hub, make_identity, tmp_path)
    delays: list[float] = []
    release = asyncio.Event()

    async def retry_sleep(delay: float) -> None:
        delays.append(delay)
        await release.wait()

    async def table(name: str, to: str) -> None:
        async with hub.db.write() as s:
            await s.execute(text(f"ALTER TABLE {name} RENAME TO {to}"))

    older = {"part": "ch1", "entries": [{"subject": "AB", "item": "1.1", "points": "6"}]}
    newer = {"part": "ch1", "entries": [{"subject": "AB", "item": "1.1", "points": "7"}]}
    async with seat.running(random=lambda: 0.5, sleep=retry_sleep, retry_base=0.2) as delivery:
        await until(lambda: _connected(seat), "the first connection")
        await table("submitted_scores", "submitted_scores_away")
        first = await delivery.submit("S-2026-0412", older)

        async def scheduled() -> bool:
            return bool(delays)

        await until(scheduled, "the resend to be scheduled")
        await table("submitted_scores_away", "submitted_scores")
        second = await delivery.submit("S-2026-0412", newer)

        async def judged() -> bool:
            return second in {v.idempotency_key for v in await delivery.outbox.verdicts()}

        await until(judged, "the newer save's verdict")
        release.set()
        await until(lambda: _empty(delivery), "the older save settled at the seat")
        verdicts = {v.idempotency_key: v for v in await delivery.outbox.verdicts()}
        assert (verdicts[first].code, verdicts[first].message) == (
            "superseded",
            "本部分之后的评分已提交，此前未保存成功的这次评分不再重新发送",
        )
        assert delivery.retried == 0
    assert [r.idempotency_key for r in await hub.scores()] == [second]
