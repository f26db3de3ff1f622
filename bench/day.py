"""A province's day on one machine (issue 16, item 3): many scripted evaluations at once on
one hub process, with video, measured.

One ``evaluation-hub serve`` on PostgreSQL and Redis (private servers, started as the fault
tests start them: ``tests/faults/harness.py``). ``tests.support.seed.seed_day`` adds 1 + N
sessions of the tests' project, each with a committee of its own (``--experts`` members: two at
the host KM, the others at 大理, 红河 and 曲靖 in turn, each on a seat of their own) and a
supervisor of its own. Every session is run as the host runs it, over HTTP as ``km_operator``:
four booking requests confirmed by the venue admins, every expert seated, seats confirmed,
check-in opened, the package attached (its anonymity findings overridden), the chapters
released and every seat's chapters delivered, decrypted and reported (已校验, the hub's delivery
board); every member confirms the integrity commitment from the seat; the evaluation starts;
each seat saves ch1, ch2, ch3 and the commercial part; the host runs the review round, seals
and reveals; every member signs the report from the seat, to ``report_signed``. Each session's
nine seat agents are ``seat_agent.runner.run_until_signalled`` (the ``seat-agent run
--script`` command's body) run side by side in one process per session (``--farm``), so 270
seat links do not need 270 Python interpreters; a seat link is the same websocket, the same
authentication and outbox as the command's.

``--publishers`` of the seats (spread over the sessions) also publish video: the test pattern
encoded once with libvpx and replayed (``bench/media.py``'s ``encode_cycle`` and
``ReplayTrack``, 320×240 at 15 fps, as ``--publish testpattern``; the seat's
``SeatPublisher`` sends it without encoding) and ``--viewers`` aiortc viewers per publisher
watch it through the hub's viewer route (``POST /api/sessions/{id}/live/seats/{seat}/viewers``)
as the session's supervisor, counting frames without decoding (``media.forwarding`` taps the
receiver).

``--media-backend janus``: the hub relays the seats' and viewers' signalling and Janus (the
tests' Janus, ``tests/support/janus_server.py``, with ``bench/scale_janus.py``'s wider port
range) forwards, records (the hub converts and audits each 10 s part, as in production) and
serves the viewers; the hub's conduct monitors subscribe to Janus like viewers. Every peer of
the farms gathers ICE on Janus's address only. Janus's CPU and the recordings' conversions
(the hub's finished children: janus-pp-rec, FFmpeg) are reported beside the hub's, with the
load average sampled every second (a machine shared with other work is no quiet run).

The farms run at niceness ``--farm-nice`` (default 10): in the field the seats and the viewers
are other machines, so here the load generators give way to what is measured (the hub,
PostgreSQL, Redis, Janus, the recordings' conversions) rather than share two cores with it as
thirty equals (in round 8's first quiet run at the target size the hub was one of 36 runnable
processes, with a load average of 33 and its transactions waiting seconds for their COMMIT).

Rounds on the same hub, the baseline first: **1 session** alone, then **N sessions** together
(each size of ``--sessions`` in turn; the publishers per session are those of the largest size,
so every round has the same mix). Each round: prepare (everything up to every seat's chapters verified, every member
confirmed and every viewer receiving frames), a steady window of ``--steady-seconds`` (links,
heartbeats and video only), then the evaluation (start → report_signed) of every session at
once. Measured: the hub process's CPU time (``/proc``, user + system, all threads) per phase;
save latency at the seats (from the script's save, outbox write included, to the hub's
``score_ack``, patched into the farm's ``ScoreDelivery``); the host's review round, seal and
reveal (HTTP round trip) per session; the hub's RSS (sampled every second, and ``VmHWM``);
every warning/error line of the hub and the farms. Checked as the fault tests check theirs:
every session ``report_signed`` with every (seat, part) stored exactly once and accepted, the
same three candidates in every session, ``audit verify`` exits 0.

    .venv/bin/python bench/day.py                     # 30 sessions × 9 experts, 60 publishers
    .venv/bin/python bench/day.py --media-backend janus   # the same, media through Janus
    .venv/bin/python bench/day.py --sessions 4 --publishers 8
    .venv/bin/python bench/day.py --sessions 10,30            # a curve: 1, 10, then 30

Figures, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import os
import platform
import re
import statistics
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

# This file is in bench/, beside bench/media.py: keep that from shadowing the media package.
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

import aiohttp  # noqa: E402
import psutil  # noqa: E402
import yaml  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from bench.control_plane import raise_fd_limit  # noqa: E402
from bench.soak import _cpu, _nproc, bad_lines  # noqa: E402
from evaluation_hub.audit.store import AUDIT_CHAIN_LOCK  # noqa: E402
from evaluation_hub.db.engine import Database  # noqa: E402
from evaluation_hub.db.seat_terminals import SubmittedScore  # noqa: E402
from tests.e2e.conftest import api  # noqa: E402
from tests.e2e.test_evaluation_processes import (  # noqa: E402
    PARTS,
    SEVEN,
    VENUE_ADMIN,
    _points,
    _shuffle,
)
from tests.evaluation.helpers import DEMO_PACKAGE, demo_package, part_save  # noqa: E402
from tests.faults.harness import Evaluation, HubServe, prepared_database  # noqa: E402
from tests.support.janus_server import candidates_on  # noqa: E402
from tests.support.postgres_server import postgres_server  # noqa: E402
from tests.support.redis_server import redis_server  # noqa: E402
from tests.support.seed import DaySession, seed_day  # noqa: E402

FPS = 15
POLL = 0.25  # seconds between looks at a file or the database
# Seconds between looks through the hub (committee, delivery board, wall, lifecycle), as a page
# would refresh: thirty sessions polling every 0.25 s were 240 requests a second, most of the
# hub's CPU and enough to exhaust its database pool while 270 seat links connected.
HUB_POLL = 1.0
# A 503 (database unavailable: "请在 5 秒后重试") is retried after 5 s, as the page says, and
# counted; any other unexpected status fails the run.
RETRY_AFTER = 5.0
retried: Counter[str] = Counter()
LIMIT = 1800.0  # seconds any one wait may take before the run is declared stuck (--wait-limit)
limits = {"wait": LIMIT}
# The farms' niceness (--farm-nice): the seats and viewers are other machines in the field, so
# here the load generators give way to what is measured (the hub, PostgreSQL, Redis, Janus and
# the recordings' conversions) instead of sharing the cores with it as 30 equals.
farm_priority = {"nice": 10}
DAY_HOURS = 8.5  # the tests' session: 09:00–17:30


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
    status: int = 200,
) -> Any:
    """``api`` (the tests' HTTP helper), retrying a 503 after ``RETRY_AFTER`` seconds."""
    for _ in range(12):
        try:
            return await api(http, method, url, headers, body, status)
        except AssertionError as exc:
            if ": 503 " not in str(exc):
                raise
            retried[f"{method} {re.sub(r'/[0-9]+', '/{id}', url.split('/', 3)[3])}"] += 1
            await asyncio.sleep(RETRY_AFTER)
    return await call(http, method, url, headers, body, status)


async def login(http: aiohttp.ClientSession, base: str, user: str) -> dict[str, str]:
    """``_login`` (the tests' sign-in), through ``call``."""
    body = await call(
        http, "POST", f"{base}/api/auth/token", body={"username": user, "password": "demo-2026"}
    )
    return {"Authorization": f"Bearer {body['token']}"}


async def wait(condition: Any, what: str, limit: float | None = None, every: float = POLL) -> None:
    """``until`` with a coarser poll and a longer bound (30 sessions poll side by side)."""
    ends = time.monotonic() + (limits["wait"] if limit is None else limit)
    while not await condition():
        if time.monotonic() > ends:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


def profile(j: int) -> str:
    """Member ``j``'s figures: the seven experts' of the scripted evaluation, then the middle
    ones again (E03, E04, …), so a committee of nine flags no deviation either."""
    return SEVEN[j] if j < len(SEVEN) else SEVEN[2 + (j - len(SEVEN)) % 3]


@dataclass
class Timings:
    prepared: float = 0.0
    started: float = 0.0
    stored: float = 0.0
    review: float = 0.0
    seal: float = 0.0
    reveal: float = 0.0
    signed: float = 0.0
    candidates: list[str] = field(default_factory=list)


class DayEvaluation(Evaluation):
    """One session of the day: ``plan``'s members at their seats in one farm process."""

    def __init__(
        self,
        hub: HubServe,
        ids: dict[str, Any],
        root: Path,
        plan: DaySession,
        db: Database,
        publishers: int,
        viewers: int,
        cycle: Path,
        janus_address: str | None = None,
    ) -> None:
        super().__init__(hub, {**ids, "session": plan.session}, root)
        # Janus's ICE address (the janus backend): the farm's peers gather on it only.
        self.janus_address = janus_address
        self.db = db  # one pool for every session of the bench (PostgreSQL's connections)
        self.plan = plan
        self.publishing = [label for _, label, venue in plan.members if venue != "KM"][:publishers]
        self.viewers = viewers
        self.cycle = cycle
        self.farm: asyncio.subprocess.Process | None = None
        self.t = Timings()
        self.began = time.monotonic()

    @property
    def farm_log(self) -> Path:
        return self.root / "farm.log"

    async def close(self) -> None:
        if self.farm is not None and self.farm.returncode is None:
            self.farm.kill()
            await self.farm.wait()
        if self.http is not None:
            await self.http.close()

    async def prepare(self) -> None:
        """Seats enrolled, booked and seated; package attached; the farm started; chapters
        delivered and verified at every seat; every member confirmed; viewers receiving."""
        self.began = time.monotonic()
        self.http = http = aiohttp.ClientSession()
        base, ids, sid = self.hub.base, self.ids, self.sid
        (self.root / "seats").mkdir(parents=True, exist_ok=True)
        for code, label, _ in self.plan.members:
            self.seats[code] = await self._enrol(code, label)
        host = self.host = await login(http, base, "km_operator")
        for venue in ("KM", "DL", "HH", "QJ"):
            members = [(c, label) for c, label, v in self.plan.members if v == venue]
            if not members:
                continue
            seat_ids = [ids["seats"][label] for _, label in members]
            booking = await call(
                http, "POST", f"{base}/api/bookings", host,
                {"session_id": sid, "venue_id": ids["venues"][venue],
                 "seat_count": len(seat_ids), "seat_ids": seat_ids},
                status=201,
            )  # fmt: skip
            admin = await login(http, base, VENUE_ADMIN[venue])
            await call(
                http, "POST", f"{base}/api/bookings/{booking['id']}/confirm", admin,
                {"seat_ids": seat_ids},
            )  # fmt: skip
            for code, label in members:
                await call(
                    http, "POST",
                    f"{base}/api/bookings/{booking['id']}/seats/{ids['seats'][label]}/expert",
                    host, {"expert_id": ids["experts"][code]}, status=204,
                )  # fmt: skip
        for action in ("confirm_seats", "open_check_in"):
            await call(http, "POST", f"{base}/api/sessions/{sid}/actions", host, {"action": action})
        evaluation = f"{base}/api/sessions/{sid}/evaluation"
        attached = await call(
            http, "POST", f"{evaluation}/package", host, {"path": str(DEMO_PACKAGE)}, status=201
        )
        for finding in attached["anonymity"]["blocked"]:
            bidder, chapter = finding.split("/")
            await call(
                http, "POST", f"{evaluation}/overrides", host,
                {"bidder_id": bidder, "chapter_id": chapter, "reason": "经核对为引用的行业规范示例"},
                status=201,
            )  # fmt: skip
        await self._write_scripts()
        await self._start_farm()
        committee = f"{base}/api/sessions/{sid}/committee"

        async def all_confirmed() -> bool:
            view = await call(http, "GET", committee, host)
            return bool(view["confirmed"] == len(self.plan.members))

        await wait(all_confirmed, f"session {sid}: every member's commitment", every=HUB_POLL)
        await call(http, "POST", f"{base}/api/sessions/{sid}/chapters", host)

        async def verified() -> bool:
            board = await call(http, "GET", f"{base}/api/sessions/{sid}/chapters", host)
            return all(seat["status"] == "verified" for seat in board["seats"]) and len(
                board["seats"]
            ) == len(self.plan.members)

        await wait(verified, f"session {sid}: every seat's chapters verified", every=HUB_POLL)
        ready = self.root / "viewing"

        async def viewing() -> bool:
            assert self.farm is not None
            if self.farm.returncode is not None:
                raise AssertionError(f"session {sid}: the farm exited; see {self.farm_log}")
            return ready.exists()

        await wait(viewing, f"session {sid}: every viewer receiving frames")
        self.t.prepared = time.monotonic() - self.began

    async def _write_scripts(self) -> None:
        shuffle = await _shuffle(self.db, self.sid)
        package = demo_package()
        for j, (code, _, _) in enumerate(self.plan.members):
            sheets = []
            for part in PARTS:
                sheet = part_save(package, shuffle, code, part, _points(profile(j)))
                del sheet["expert"]
                sheets.append(sheet)
            steps = [
                {"wait_for": str(self.started)},
                {"sheet": sheets[0]},
                {"pause": 0.1, "sheet": sheets[1]},
                {"pause": 0.1, "sheet": sheets[2]},
                {"pause": 0.5, "sheet": sheets[3]},
            ]
            script = {"session": str(self.sid), "commitment": "confirm", "sign": "agree"}
            seat = self.seats[code]
            assert seat.script is not None
            seat.script.write_text(yaml.safe_dump({**script, "steps": steps}), "utf-8")

    async def _start_farm(self) -> None:
        spec = {
            "hub": self.hub.base,
            "session": self.sid,
            "supervisor": self.plan.supervisor,
            "viewers": self.viewers,
            "cycle": str(self.cycle),
            "ready": str(self.root / "viewing"),
            "result": str(self.root / "farm.json"),
            "janus_address": self.janus_address,
            "seats": [
                {
                    "state_dir": str(seat.state_dir),
                    "script": str(seat.script),
                    "label": seat.seat_id.split(".", 1)[1],
                    "publish": seat.seat_id.split(".", 1)[1] in self.publishing,
                }
                for seat in self.seats.values()
            ],
        }
        (self.root / "farm-spec.json").write_text(json.dumps(spec))
        with self.farm_log.open("ab") as out:
            nice = farm_priority["nice"]
            self.farm = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--farm", str(self.root / "farm-spec.json"),
                stdin=asyncio.subprocess.PIPE, stdout=out, stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                preexec_fn=(lambda: os.nice(nice)) if nice else None,  # before any thread
            )  # fmt: skip

    async def evaluate(self) -> None:
        """Start; every save stored; review round, seal, reveal; every signature."""
        assert self.http is not None
        http, host, base, sid = self.http, self.host, self.hub.base, self.sid
        t0 = time.monotonic()
        # A start answered 503 after its commit is retried like any 503: the hub answers the
        # host's repeat of its own latest move with the session as it left it (not 409).
        await call(http, "POST", f"{base}/api/sessions/{sid}/actions", host,
                   {"action": "start_evaluation"})  # fmt: skip
        self.started.write_text("started")
        self.t.started = time.monotonic() - t0
        everything = len(self.plan.members) * len(PARTS)

        async def stored() -> bool:
            return await self.stored() >= everything

        await wait(stored, f"session {sid}: every save stored")
        self.t.stored = time.monotonic() - t0
        evaluation = f"{base}/api/sessions/{sid}/evaluation"
        began = time.monotonic()
        review = await call(http, "POST", f"{evaluation}/review", host, status=201)
        self.t.review = time.monotonic() - began
        assert review["created"] == [], review["created"]
        began = time.monotonic()
        await call(http, "POST", f"{evaluation}/seal", host)
        self.t.seal = time.monotonic() - began
        began = time.monotonic()
        revealed = await call(http, "POST", f"{evaluation}/reveal", host)
        self.t.reveal = time.monotonic() - began
        self.t.candidates = list(revealed["result"]["candidates"])

        async def signed() -> bool:
            body = await call(http, "GET", f"{base}/api/sessions/{sid}/lifecycle", host)
            return bool(body["state"] == "report_signed")

        await wait(
            signed, f"session {sid}: every member's signature from their seat", every=HUB_POLL
        )
        self.t.signed = time.monotonic() - t0

    async def check(self) -> None:
        """Every (seat, part) stored exactly once, accepted (as ``Evaluation.exactly_once``
        checks the seven seats')."""
        async with self.db.read() as s:
            rows = list((await s.execute(select(SubmittedScore).where(self._mine))).scalars())
        expected = sorted(
            (f"{label[:2]}.{label}", part) for _, label, _ in self.plan.members for part in PARTS
        )
        assert len(rows) == len(expected), (self.sid, len(rows))
        assert len({r.idempotency_key for r in rows}) == len(expected)
        assert sorted((r.seat_key, str(r.sheet.get("part"))) for r in rows) == expected
        assert {(r.accepted, r.verdict_code) for r in rows} == {(True, "accepted")}

    async def stop_farm(self) -> dict[str, Any]:
        """End the farm (stdin closed): its save latencies and viewers' frame counts."""
        assert self.farm is not None and self.farm.stdin is not None
        self.farm.stdin.close()
        await asyncio.wait_for(self.farm.wait(), 120)
        result: dict[str, Any] = read_json(self.root / "farm.json")
        return result


# --- the farm: one session's seat agents in one process ---------------------------------------


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value))


async def farm(spec_path: Path) -> None:
    spec = read_json(spec_path)
    address = spec.get("janus_address")
    if address is None:
        await _farm(spec)
        return
    # Janus: every peer of the farm gathers on Janus's address only (as bench/scale.py's
    # workers do), and the seats' publishers ask no STUN server (there is none here).
    from aiortc import RTCConfiguration, RTCPeerConnection

    import seat_agent.publisher

    def no_stun(configuration: RTCConfiguration | None = None) -> RTCPeerConnection:
        return RTCPeerConnection(configuration or RTCConfiguration(iceServers=[]))

    seat_agent.publisher.RTCPeerConnection = no_stun  # type: ignore[assignment,misc]
    with candidates_on(address):
        await _farm(spec)


async def _watch(
    http: aiohttp.ClientSession, wall: str, seat_id: int, headers: dict[str, str], janus: bool
) -> tuple[Any, Any]:
    """One viewer of the seat, through the hub's viewer route: the built-in forwarder answers
    the viewer's offer; Janus offers and the viewer answers (``bench/scale_workers.py``)."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    from media.forwarding import TrackForwarder

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    forwarder = TrackForwarder("video")
    try:
        return await _open(http, wall, seat_id, headers, janus, pc, forwarder)
    except BaseException:
        await forwarder.close()
        await pc.close()
        raise


async def _open(
    http: aiohttp.ClientSession,
    wall: str,
    seat_id: int,
    headers: dict[str, str],
    janus: bool,
    pc: Any,
    forwarder: Any,
) -> tuple[Any, Any]:
    from aiortc import RTCSessionDescription

    from media.forwarding import accept_publisher

    if janus:
        opened = await call(
            http, "POST", f"{wall}/{seat_id}/viewers", headers, {"type": "subscribe"}, status=201
        )
        accept_publisher(pc, {"video": forwarder})
        await pc.setRemoteDescription(RTCSessionDescription(opened["sdp"], opened["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        base = wall.split("/api/", 1)[0]
        await call(
            http, "POST", f"{base}/api/live/viewers/{opened['viewer_id']}/answer", headers,
            {"type": "answer", "sdp": pc.localDescription.sdp, "token": opened["token"]},
            status=204,
        )  # fmt: skip
        return pc, forwarder
    pc.addTransceiver("video", direction="recvonly")
    accept_publisher(pc, {"video": forwarder})
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"type": "offer", "sdp": pc.localDescription.sdp}
    opened = await call(http, "POST", f"{wall}/{seat_id}/viewers", headers, offer, status=201)
    await pc.setRemoteDescription(RTCSessionDescription(opened["sdp"], opened["type"]))
    return pc, forwarder


async def _farm(spec: dict[str, Any]) -> None:
    from aiortc import RTCPeerConnection

    from bench.media import ReplayTrack
    from media.forwarding import TrackForwarder
    from seat_agent import runner
    from seat_agent.keys import load_identity
    from seat_agent.outbox import ScoreDelivery
    from seat_protocol.events import ScoreCommitted

    cycle = [base64.b64decode(f) for f in read_json(Path(spec["cycle"]))]

    async def replay(name: str) -> list[Any]:
        return [ReplayTrack(cycle, FPS)]

    runner.open_tracks = replay  # type: ignore[assignment]  # the pre-encoded source
    saved: dict[str, float] = {}
    latencies: list[float] = []
    submit, on_event = ScoreDelivery.submit, ScoreDelivery.on_event

    async def timed_submit(self: ScoreDelivery, session_id: str, sheet: dict[str, Any]) -> str:
        began = time.monotonic()
        key = await submit(self, session_id, sheet)
        saved.setdefault(key, began)
        return key

    async def timed_on_event(self: ScoreDelivery, event: Any) -> None:
        if isinstance(event, ScoreCommitted) and event.idempotency_key in saved:
            latencies.append(time.monotonic() - saved.pop(event.idempotency_key))
        await on_event(self, event)

    ScoreDelivery.submit = timed_submit  # type: ignore[method-assign]
    ScoreDelivery.on_event = timed_on_event  # type: ignore[method-assign]

    agents = [
        asyncio.create_task(
            runner.run_until_signalled(
                load_identity(Path(seat["state_dir"])),
                script=Path(seat["script"]),
                publish="replay" if seat["publish"] else None,
            )
        )
        for seat in spec["seats"]
    ]
    watchers: list[tuple[RTCPeerConnection, TrackForwarder]] = []
    counts_at: list[int] = []
    async with aiohttp.ClientSession() as http:
        base, sid = spec["hub"], spec["session"]
        supervisor = await login(http, base, spec["supervisor"])
        wall = f"{base}/api/sessions/{sid}/live/seats"
        for seat in (s for s in spec["seats"] if s["publish"]):

            async def live(label: str = seat["label"]) -> bool:
                body = await call(http, "GET", wall, supervisor)
                return any(s["label"] == label and s["state"] == "live" for s in body["seats"])

            janus = spec.get("janus_address") is not None
            for _ in range(spec["viewers"]):
                for attempt in itertools.count(1):
                    await wait(live, f"{seat['label']} live on the wall", every=HUB_POLL)
                    body = await call(http, "GET", wall, supervisor)
                    seat_id = next(
                        s["seat_id"] for s in body["seats"] if s["label"] == seat["label"]
                    )
                    try:
                        watchers.append(await _watch(http, wall, seat_id, supervisor, janus))
                        break
                    except AssertionError as exc:
                        # The viewer was closed before it was answered, or the seat is not
                        # live any more (it republished after its link dropped): as a page
                        # would, open it again once the seat is live. Counted.
                        if attempt == 5 or not re.search(r": (404|409) ", str(exc)):
                            raise
                        retried[f"viewer opened again ({str(exc).split(': ', 1)[1][:3]})"] += 1

        async def receiving() -> bool:
            return all(f.counters.frames_received > 0 for _, f in watchers)

        await wait(receiving, "every viewer receiving frames")
        counts_at = [f.counters.frames_received for _, f in watchers]
        began = time.monotonic()
        write_json(Path(spec["ready"]), "viewing")
        # Until the bench closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        seconds = time.monotonic() - began
        frames = [
            f.counters.frames_received - n for (_, f), n in zip(watchers, counts_at, strict=True)
        ]
        for pc, forwarder in watchers:
            await forwarder.close()
            await pc.close()
    for agent in agents:
        agent.cancel()
    await asyncio.wait(agents)
    failed = [repr(a.exception()) for a in agents if not a.cancelled() and a.exception()]
    write_json(
        Path(spec["result"]),
        {
            "latencies": latencies,
            "fps": [n / seconds for n in frames] if seconds > 0 else [],
            "unacknowledged": len(saved),
            "failed": failed,
            "retried": dict(retried),
        },
    )


# --- the rounds -------------------------------------------------------------------------------


@dataclass
class Round:
    name: str
    runs: list[DayEvaluation]
    publishers: int
    viewers: int
    cpu: dict[str, float] = field(default_factory=dict)  # hub CPU seconds per phase
    # CPU seconds per phase of the hub's finished children (Janus recordings' conversions:
    # janus-pp-rec, FFmpeg) and of Janus itself (the janus backend)
    children: dict[str, float] = field(default_factory=dict)
    janus: dict[str, float] = field(default_factory=dict)
    wall: dict[str, float] = field(default_factory=dict)
    rss: list[float] = field(default_factory=list)  # MB, sampled
    latencies: list[float] = field(default_factory=list)
    fps: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    load: list[float] = field(default_factory=list)  # 1-minute load average, sampled
    # pg_stat_activity of the hub's database, sampled: (longest idle in transaction, longest
    # wait on a lock, transactions waiting on the audit chain's lock, how long its holder has
    # been idle in transaction) per sample, in seconds / counts
    pg: list[tuple[float, float, int, float]] = field(default_factory=list)


def hub_cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def children_cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.children_user + times.children_system)


def janus_cpu(janus: psutil.Process | None) -> float:
    return 0.0 if janus is None else hub_cpu(janus)


_PG_SAMPLE = text(
    """
    SELECT
      coalesce(max(extract(epoch FROM now() - a.state_change))
               FILTER (WHERE a.state = 'idle in transaction'), 0),
      coalesce(max(extract(epoch FROM now() - a.query_start))
               FILTER (WHERE a.wait_event_type = 'Lock'), 0),
      (SELECT count(*) FROM pg_locks l
        WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objid = :low),
      coalesce((SELECT max(extract(epoch FROM now() - h.state_change))
        FROM pg_locks l JOIN pg_stat_activity h ON h.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :low
          AND h.state = 'idle in transaction'), 0)
    FROM pg_stat_activity a
    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
    """
)


async def sample_pg(db: Database) -> tuple[float, float, int, float]:
    """One look at the hub's transactions (``Round.pg``)."""
    async with db.lookup() as conn:
        row = (await conn.execute(_PG_SAMPLE, {"low": AUDIT_CHAIN_LOCK & 0xFFFF_FFFF})).one()
    return float(row[0]), float(row[1]), int(row[2]), float(row[3])


def hub_memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


async def run_round(
    r: Round, proc: psutil.Process, steady: float, stagger: float, janus: psutil.Process | None
) -> None:
    async def sample() -> None:
        for n in itertools.count():
            r.rss.append(hub_memory(proc.pid)[0])
            r.load.append(os.getloadavg()[0])
            if n % 5 == 0 and r.runs:
                with contextlib.suppress(Exception):  # a look, not a requirement
                    r.pg.append(await sample_pg(r.runs[0].db))
            await asyncio.sleep(1.0)

    sampling = asyncio.ensure_future(sample())

    def mark() -> tuple[float, float, float, float]:
        return time.monotonic(), hub_cpu(proc), children_cpu(proc), janus_cpu(janus)

    try:
        marks = [mark()]

        async def prepare(i: int, run: DayEvaluation) -> None:
            await asyncio.sleep(i * stagger)  # the host's desks do not all click at once
            await run.prepare()

        await asyncio.gather(*(prepare(i, run) for i, run in enumerate(r.runs)))
        marks.append(mark())
        await asyncio.sleep(steady)
        marks.append(mark())
        await asyncio.gather(*(run.evaluate() for run in r.runs))
        marks.append(mark())
        for phase, (a, b) in zip(
            ("prepare", "steady", "evaluate"), itertools.pairwise(marks), strict=True
        ):
            r.cpu[phase], r.wall[phase] = b[1] - a[1], b[0] - a[0]
            r.children[phase], r.janus[phase] = b[2] - a[2], b[3] - a[3]
        for run in r.runs:
            await run.check()
        results = {tuple(run.t.candidates) for run in r.runs}
        assert len(results) == 1, f"the sessions' results differ: {results}"
        for run in r.runs:
            result = await run.stop_farm()
            r.latencies += result["latencies"]
            r.fps += result["fps"]
            r.failed += result["failed"]
            retried.update(result["retried"])
            assert result["unacknowledged"] == 0, (run.sid, result["unacknowledged"])
        r.rss.append(hub_memory(proc.pid)[0])
    finally:
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling


def spread(total: int, n: int) -> list[int]:
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


async def day(args: argparse.Namespace, root: Path) -> int:
    raise_fd_limit()
    from bench.media import encode_cycle

    cycle = root / "cycle.json"
    frames = encode_cycle(320, 240, FPS)
    cycle.write_text(json.dumps([base64.b64encode(f).decode() for f in frames]))
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(postgres_server())
        redis = stack.enter_context(redis_server())
        url = pg.create_database("day")
        ids = await prepared_database(url)
        db = Database(url)
        sizes = [1, *args.sessions]
        plans = await seed_day(db, ids, datetime.now(UTC), sessions=sum(sizes), size=args.experts)
        # Logs as in production (JSON): the console format renders each traceback with rich
        # on the hub's event loop, a cost a hub under load cannot afford (the bad lines are
        # counted the same way).
        env: dict[str, str] = {"EVALHUB_LOG_FORMAT": "json"}
        janus = None
        janus_proc = None
        if args.media_backend == "janus":
            from bench.scale_janus import ScaleJanus

            # A port per peer connection and then some: each publisher, its viewers and the
            # hub's conduct monitor of it (as bench/scale.py sizes it).
            janus = ScaleJanus(root / "janus", ports=4 * args.publishers * (args.viewers + 2))
            janus.start()
            stack.callback(janus.stop)
            janus_proc = psutil.Process(janus.pid)
            env = {
                **env,
                "EVALHUB_MEDIA_BACKEND": "janus",
                "EVALHUB_JANUS_URLS": janus.url,
                "EVALHUB_JANUS_API_SECRET": janus.api_secret,
                "EVALHUB_JANUS_ADMIN_KEY": janus.admin_key,
            }
        hub = HubServe(url, root / "hub", redis_url=redis.url, env=env)
        hub.state.mkdir()
        await hub.start()
        assert hub.proc is not None
        proc = psutil.Process(hub.proc.pid)
        # Publishers per session as at the largest size, so every size has the same mix.
        per_session = spread(args.publishers, max(sizes))
        rounds, groups, first = [], [], 0
        for n in sizes:
            name = "1 session (baseline)" if not rounds else f"{n} sessions"
            rounds.append(Round(name, [], sum(per_session[:n]), args.viewers))
            groups.append((plans[first : first + n], per_session[:n]))
            first += n
        failure: str | None = None
        status = None
        try:
            for r, (group, publishers) in zip(rounds, groups, strict=True):
                for plan, p in zip(group, publishers, strict=True):
                    where = root / f"session-{plan.session:03d}"
                    address = None if janus is None else janus.address
                    r.runs.append(
                        DayEvaluation(hub, ids, where, plan, db, p, args.viewers, cycle, address)
                    )
                t0 = time.monotonic()
                try:
                    await run_round(r, proc, args.steady_seconds, args.stagger, janus_proc)
                finally:
                    for run in r.runs:
                        await run.close()
                print(f"{r.name}: done in {time.monotonic() - t0:.0f} s", flush=True)
            hub.verify_audit()
        except (Exception, asyncio.CancelledError) as exc:
            # Also Ctrl-C (asyncio.run cancels this task): the report of what was measured
            # until then is printed all the same (the cancellation is taken back, so the
            # hub's termination below is not cancelled in turn).
            failure = traceback.format_exc()
            if isinstance(exc, asyncio.CancelledError) and (me := asyncio.current_task()):
                me.uncancel()
        finally:
            rss_end, hwm = hub_memory(proc.pid)
            try:
                status = await hub.terminate()
            except TimeoutError:
                # Overloaded, the hub may not exit within the limit: say so, kill it and still
                # print the report (it was lost that way once).
                print("the hub did not exit within 60 s of SIGTERM: killed", flush=True)
                await hub.kill()
                status = -9
            await db.dispose()
        report(args, rounds, hub, rss_end, hwm, status, janus)
        if failure is not None:
            print(f"\nDAY FAILED:\n{failure}")
            return 1
        return 0


# --- the report -------------------------------------------------------------------------------

_EVENT = re.compile(r"\[(?:warning|error|critical|exception)\s*\]\s*(\S+)|\"event\": ?\"([^\"]+)\"")


def counted(lines: list[str]) -> Counter[str]:
    """Bad lines by event name (the first word after the level), else the line's start."""
    found: Counter[str] = Counter()
    for line in lines:
        m = _EVENT.search(line)
        found[(m.group(1) or m.group(2)) if m else line.strip()[:80]] += 1
    return found


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(
    args: argparse.Namespace,
    rounds: list[Round],
    hub: HubServe,
    rss_end: float,
    hwm: float,
    status: int | None,
    janus: Any = None,
) -> None:
    sizes = ",".join(map(str, args.sessions))
    print(f"\nA province's day on one hub: --media-backend {args.media_backend} "
          f"--sessions {sizes} --experts {args.experts} "
          f"--publishers {args.publishers} --viewers {args.viewers} "
          f"--steady-seconds {args.steady_seconds:g} --stagger {args.stagger:g} "
          f"--farm-nice {args.farm_nice}")  # fmt: skip
    cost, time_ = [], []
    for r in rounds:
        if len(r.cpu) < 3:
            cost.append(f"| {r.name} | did not complete |")
            continue
        n = len(r.runs)
        links = sum(len(run.plan.members) for run in r.runs)
        steady_rate = r.cpu["steady"] / r.wall["steady"]  # CPU s per s, the whole hub
        idle_hour = steady_rate / n * 3600
        busy = r.wall["prepare"] + r.wall["evaluate"]
        work = (r.cpu["prepare"] + r.cpu["evaluate"] - steady_rate * busy) / n
        cost.append(
            f"| {r.name} | {links} | {r.publishers} / {r.publishers * r.viewers} | "
            f"{r.wall['prepare']:.0f} s / {r.cpu['prepare'] / n:.2f} s | "
            f"{100 * steady_rate:.1f} % / {idle_hour:.1f} s | "
            f"{r.wall['evaluate']:.0f} s / {r.cpu['evaluate'] / n:.2f} s | "
            f"{work:.2f} s | {idle_hour + work / DAY_HOURS:.1f} s |"
        )
        t = [run.t for run in r.runs]

        def mm(values: list[float]) -> str:
            return f"{statistics.median(values) * 1000:.0f} / {max(values) * 1000:.0f}"

        lat = r.latencies
        time_.append(
            f"| {r.name} | {len(lat)} | {quantile(lat, 0.5) * 1000:.0f} / "
            f"{quantile(lat, 0.99) * 1000:.0f} / {max(lat, default=float('nan')) * 1000:.0f} | "
            f"{mm([x.review for x in t])} | {mm([x.seal for x in t])} | "
            f"{mm([x.reveal for x in t])} | {mm([x.signed for x in t])} | "
            f"{max(r.rss):.0f} / {r.rss[-1]:.0f} | "
            + (f"{min(r.fps):.1f} / {statistics.mean(r.fps):.1f} |" if r.fps else "– |")
        )
    print(
        "\n| round | seat links | publishers / viewer streams | prepare: wall / hub CPU per "
        "session | steady: hub CPU (% of a core) / per session-hour | evaluation: wall / hub "
        "CPU per session | work per session (net of steady) | hub CPU per session-hour of a "
        f"{DAY_HOURS:g} h session |"
    )
    print("|---|" + "---:|" * 7)
    print("\n".join(cost))
    print(
        "\n| round | saves | save p50 / p99 / max (ms, at the seats) | review round median / "
        "max (ms) | seal median / max (ms) | reveal median / max (ms) | start → report_signed "
        "median / max (ms) | hub RSS peak / end in the round (MB) | viewer fps min / mean |"
    )
    print("|---|" + "---:|" * 8)
    print("\n".join(time_))
    print(
        "\n| round | load average min / mean / max | hub steady (% of a core) | Janus steady "
        "(% of a core) | recordings' conversions steady (% of a core) | hub + Janus + "
        "conversions, prepare / steady / evaluation (CPU s) |"
    )
    print("|---|" + "---:|" * 5)
    for r in rounds:
        if len(r.cpu) < 3:
            continue
        w = r.wall["steady"]
        both = " / ".join(
            f"{r.cpu[p] + r.janus[p] + r.children[p]:.1f}"
            for p in ("prepare", "steady", "evaluate")
        )
        print(
            f"| {r.name} | {min(r.load):.1f} / {statistics.mean(r.load):.1f} / {max(r.load):.1f} | "
            f"{100 * r.cpu['steady'] / w:.1f} % | {100 * r.janus['steady'] / w:.1f} % | "
            f"{100 * r.children['steady'] / w:.1f} % | {both} |"
        )
    for r in rounds:
        if len(r.cpu) < 3:
            continue
        t = [run.t for run in r.runs]
        print(f"\n{r.name}: hub CPU {r.cpu['prepare']:.1f} s prepare ({r.wall['prepare']:.0f} s), "
              f"{r.cpu['steady']:.1f} s steady ({r.wall['steady']:.0f} s), "
              f"{r.cpu['evaluate']:.1f} s evaluation ({r.wall['evaluate']:.0f} s); "
              f"saves measured {len(r.latencies)}; per session median / max: prepared "
              f"{statistics.median(x.prepared for x in t):.0f} / {max(x.prepared for x in t):.0f} s, "
              f"start → all stored {statistics.median(x.stored for x in t):.1f} / "
              f"{max(x.stored for x in t):.1f} s, start → report_signed "
              f"{statistics.median(x.signed for x in t):.1f} / {max(x.signed for x in t):.1f} s; "
              f"candidates {sorted({tuple(x.candidates) for x in t})}")  # fmt: skip
        if r.failed:
            print(f"  seat agents that failed: {r.failed}")
    print(f"\nhub: RSS at the end {rss_end:.0f} MB, peak (VmHWM) {hwm:.0f} MB; "
          f"exit status after SIGTERM {status}")  # fmt: skip
    hub_bad: list[str] = []
    for n in range(1, hub.starts + 1):
        hub_bad += bad_lines(hub.out(n)) + bad_lines(hub.err(n))
    farm_bad = [line for r in rounds for run in r.runs for line in bad_lines(run.farm_log)]
    # Logged at info, but they matter: a link the hub closed for silence (the seat, or the
    # hub's own loop, fell 15 s behind); the seat reconnects and its outbox resends.
    silent = sum(
        hub.err(n).read_text(errors="replace").count("heartbeat timeout")
        for n in range(1, hub.starts + 1)
        if hub.err(n).exists()
    )
    print(f"seat links the hub closed on heartbeat timeout (4008): {silent}")
    print(f"host and supervisor requests retried after a 503: {sum(retried.values())}")
    for request, count in retried.most_common():
        print(f"  {count:6d}  {request}")
    print(
        "\n| round | PostgreSQL samples (every 5 s) | longest idle in transaction (s) | "
        "longest wait on a lock (s) | most waiting on the audit chain's lock | its holder idle "
        "in transaction, longest (s) |"
    )
    print("|---|" + "---:|" * 5)
    for r in rounds:
        if r.pg:
            print(
                f"| {r.name} | {len(r.pg)} | {max(x[0] for x in r.pg):.1f} | "
                f"{max(x[1] for x in r.pg):.1f} | {max(x[2] for x in r.pg)} | "
                f"{max(x[3] for x in r.pg):.1f} |"
            )
    janus_bad: list[str] = []
    if janus is not None:
        # Without the handle's id, so one kind of line counts as one.
        janus_bad = [
            re.sub(r"\[\d{6,}\] *| \d+$", "", line)
            for line in janus.log_tail(10**9).splitlines()
            if "[ERR]" in line or "[WARN]" in line
        ]
    for who, lines in (("hub", hub_bad), ("seat farms", farm_bad), ("Janus", janus_bad)):
        print(f"warning/error lines of the {who}: {len(lines)}")
        for event, count in counted(lines).most_common():
            print(f"  {count:6d}  {event}")
    print(f"\nmachine: {platform.machine()}, nproc {_nproc()}, {_cpu()}, "
          f"Python {platform.python_version()}, {_debian()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip


def _debian() -> str:
    path = Path("/etc/debian_version")
    return f"Debian {path.read_text().strip()}" if path.exists() else platform.platform()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sessions",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[30],
        help="concurrent sessions, or a list of sizes (10,30) run in turn after the baseline",
    )
    parser.add_argument(
        "--media-backend",
        choices=("builtin", "janus"),
        default="builtin",
        help="builtin: the hub forwards and records; janus: the hub relays signalling and "
        "Janus (tests/support/janus_server.py) forwards, records and serves viewers",
    )
    parser.add_argument("--experts", type=int, default=9, help="committee size (odd, ≥ 5)")
    parser.add_argument("--publishers", type=int, default=60, help="seats publishing video")
    parser.add_argument("--viewers", type=int, default=2, help="viewers per publisher")
    parser.add_argument("--steady-seconds", type=float, default=30.0)
    parser.add_argument(
        "--stagger", type=float, default=1.0, help="seconds between sessions' preparations"
    )
    parser.add_argument(
        "--wait-limit",
        type=float,
        default=LIMIT,
        help="seconds any one wait may take before the run is declared stuck",
    )
    parser.add_argument("--keep", type=Path, help="keep the hub's and seats' files here")
    parser.add_argument(
        "--farm-nice",
        type=int,
        default=10,
        help="niceness of the seat and viewer farms (default 10; 0: equal with the hub)",
    )
    parser.add_argument("--farm", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    farm_priority["nice"] = args.farm_nice
    if args.farm is not None:
        asyncio.run(farm(args.farm))
        return 0
    limits["wait"] = args.wait_limit
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
        return asyncio.run(day(args, args.keep))
    with TemporaryDirectory(prefix="day-", ignore_cleanup_errors=True) as tmp:
        return asyncio.run(day(args, Path(tmp)))


if __name__ == "__main__":
    raise SystemExit(main())
