"""A session with two experts seated at two enrolled seats of 曲靖, on the real hub app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from evaluation_hub.api.seat_link import CHAPTERS, SEAT_HUB
from evaluation_hub.db.engine import Database
from seat_agent.chapters import ChapterCache
from seat_agent.connection import SeatLink, enroll
from seat_agent.keys import SeatIdentity, init_state_dir
from seat_protocol.events import Event
from seat_protocol.messages import AppMessage
from tests.conftest import FakeClock
from tests.evaluation.helpers import act, attach, demo_package, hub_shuffle
from tests.hub.helpers import login
from tests.support.seed import seed_bookings

Client = TestClient[Any, Any]
# Small chunks, so the demo chapters (about 19 KB per expert) make well over a hundred.
CHUNK_SIZE = 128


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition``; the bound only turns a hang into a failure message."""
    for _ in range(6000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Hub:
    client: Client
    host: dict[str, str]
    sid: int
    # (seat key, chunk hash) in the order the hub was asked for them
    requested: list[tuple[str, str]] = field(default_factory=list)

    def expected_texts(self, shuffle: Any, expert: str) -> dict[str, tuple[str, str]]:
        """label -> (title, text) as the expert must see it, in display order."""
        package = demo_package()
        out: dict[str, tuple[str, str]] = {}
        for cview in shuffle.view(expert).chapters:
            for blind in cview.labels:
                bidder = shuffle.bidder_for(expert, cview.chapter_id, blind)
                out[f"{cview.chapter_id}-{blind}"] = (
                    package.chapter(cview.chapter_id).title,
                    package.texts[bidder, cview.chapter_id],
                )
        return out

    async def release(self) -> dict[str, Any]:
        resp = await self.client.post(f"/api/sessions/{self.sid}/chapters", headers=self.host)
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def seat_experts(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> dict[str, str]:
    """The tests' bookings, with E06 seated at QJ-01 and E07 at QJ-02; the host's headers."""
    bookings = await seed_bookings(database, seeded, clock())
    host = await login(client, "km_operator")
    for expert, seat in (("E06", "QJ-01"), ("E07", "QJ-02")):
        resp = await client.post(
            f"/api/bookings/{bookings['qujing']}/seats/{seeded['seats'][seat]}/expert",
            json={"expert_id": seeded["experts"][expert]},
            headers=host,
        )
        assert resp.status == 204, await resp.text()
    return host


async def enrol_seats(
    client: Client, tmp_path: Path, labels: tuple[str, ...] = ("QJ-01", "QJ-02")
) -> dict[str, SeatIdentity]:
    """Enrol a terminal for each 曲靖 seat in ``labels`` and have 曲靖's admin approve it."""
    url = f"ws://127.0.0.1:{client.server.port}/ws/seat"
    qj = await login(client, "qj_admin")
    venues = await (await client.get("/api/venues", headers=qj)).json()
    qj_venue = next(v["id"] for v in venues if v["code"] == "QJ")
    identities = {}
    for label in labels:
        seat_key = f"QJ.{label}"
        identity = init_state_dir(
            tmp_path / seat_key, seat_id=seat_key, hub_url=url, hub_id="evaluation-hub"
        )
        code = await enroll(identity)
        pending = await (
            await client.get(f"/api/venues/{qj_venue}/seat-enrolments?status=pending", headers=qj)
        ).json()
        [request] = [r for r in pending if r["seat_key"] == seat_key]
        resp = await client.post(
            f"/api/seat-enrolments/{request['id']}/approve",
            json={"enrolment_code": code},
            headers=qj,
        )
        assert resp.status == 200, await resp.text()
        identities[seat_key] = identity
    return identities


async def seated_session(
    client: Client,
    seeded: dict[str, Any],
    database: Database,
    clock: FakeClock,
    tmp_path: Path,
    *,
    enrol: tuple[str, ...] = ("QJ-01", "QJ-02"),
    override: bool = True,
) -> tuple[Hub, dict[str, SeatIdentity]]:
    """E06 at QJ-01 and E07 at QJ-02, check-in open, package attached (its one anonymity
    finding released with a reason unless ``override`` is false), seats enrolled."""
    host = await seat_experts(client, seeded, database, clock)
    sid = int(seeded["session"])
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    if override:
        await release_finding(client, host, sid)
    identities = await enrol_seats(client, tmp_path, enrol)

    assert client.app is not None
    hub = Hub(client, host, sid)
    cache = client.app[CHAPTERS]
    cache.chunk_size = CHUNK_SIZE
    source = client.app[SEAT_HUB].chapter_source
    assert source is cache
    serve = cache.chunk

    def counting(seat_key: str, sha256: str) -> bytes | None:
        hub.requested.append((seat_key, sha256))
        data: bytes | None = serve(seat_key, sha256)
        return data

    setattr(cache, "chunk", counting)  # noqa: B010 (count what the hub is asked for)
    return hub, identities


async def release_finding(client: Client, host: dict[str, str], sid: int) -> None:
    resp = await client.post(
        f"/api/sessions/{sid}/evaluation/overrides",
        json={"bidder_id": "b03", "chapter_id": "ch2", "reason": "联系方式为招标文件示例"},
        headers=host,
    )
    assert resp.status == 201, await resp.text()


async def shuffle_of(client: Client, database: Database, sid: int) -> Any:
    return await hub_shuffle(client, database, sid)


Send = Callable[[AppMessage], Awaitable[object]]


@dataclass
class Seat:
    """A seat agent's link and chapter cache, run as a task."""

    identity: SeatIdentity
    cache: ChapterCache
    link: SeatLink
    events: list[Event]
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.wait({self.task})

    async def kill(self) -> None:
        """Like SIGKILL: the TCP connection drops at once, no close handshake."""
        if self.link.socket is not None:
            self.link.socket.transport.abort()
        await self.stop()


async def start_seat(
    identity: SeatIdentity,
    *,
    send: Callable[[SeatLink, Send], Send] | None = None,
    previous_framing: bool = False,
) -> Seat:
    """Open the cache from the state directory and connect (a fresh process, as far as the
    protocol is concerned: a new channel). ``send`` may wrap the cache's sender;
    ``previous_framing``: the agent speaks as one from before binary chunk frames (protocol
    version 2, JSON chunks)."""
    cache = await ChapterCache.open(identity.state_dir, identity)
    events: list[Event] = []

    async def on_event(event: Event) -> None:
        events.append(event)
        await cache.on_event(event)

    link = SeatLink(identity, on_event=on_event, random=lambda: 0.5, backoff_base=0.02)
    if previous_framing:
        link.protocol_version, link.chunk_framings = 2, ()
    else:
        link.chunk_check = cache.check_chunk  # as ``SeatAgent.open`` wires it
    cache.bind(send(link, link.send) if send is not None else link.send)
    task = asyncio.create_task(link.run())
    return Seat(identity, cache, link, events, task)


def complete(seat: Seat) -> bool:
    entries = seat.cache.entries()
    return bool(entries) and all(e.complete for e in entries)
