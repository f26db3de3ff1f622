"""The scripted evaluation the fault tests break: one ``evaluation-hub serve`` process on
PostgreSQL (and Redis when given), seven ``seat-agent run --script`` processes (the seven
experts of tests/e2e/test_evaluation_processes.py, with its figures), the host driving over
HTTP. Each seat's script confirms the commitment, waits for the start, saves ch1 and ch2, waits
for the gate (the test injects its fault before opening it), saves ch3 and the commercial part,
and signs the report from the seat.

What is checked at the end of every fault (``finish``): the evaluation reaches
``report_signed``, every (seat, part) is in ``submitted_scores`` exactly once (rows counted,
each accepted), the hub's ``audit verify`` exits 0.

The seats are enrolled in-process (their keys recorded and approved through the enrolment use
cases, as the venue admin's approval over HTTP would): enrolment is not what these tests break,
and seven more process starts would not fit in a minute.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlalchemy import func, select

from evaluation_hub.db.engine import Database
from evaluation_hub.db.seat_terminals import SubmittedScore
from evaluation_hub.principal import Principal
from evaluation_hub.seats import enrolment
from seat_agent.keys import init_state_dir
from tests.e2e.conftest import SEALING_KEY, TOKEN_SECRET, api, until
from tests.e2e.test_evaluation_processes import (
    PARTS,
    SEATS,
    SEVEN,
    VENUE_ADMIN,
    _login,
    _points,
    _shuffle,
)
from tests.evaluation.helpers import DEMO_PACKAGE, demo_package, part_save
from tests.support.postgres_server import free_port
from tests.support.seed import seed, seed_bookings
from tests.support.tcp_proxy import TcpProxy

__all__ = ["Evaluation", "HubServe", "prepared_database", "running_evaluation"]

SYSADMIN = Principal("sysadmin", "system_admin", None)
ALL_SAVES = len(SEVEN) * len(PARTS)
FIRST_SAVES = 2 * len(SEVEN)


async def prepared_database(url: str) -> dict[str, Any]:
    """Migrate and seed the hub's database (the demo directory and its booking requests)."""
    db = Database(url)
    try:
        await db.upgrade()
        now = datetime.now(UTC)
        ids = await seed(db, now)
        ids["bookings"] = await seed_bookings(db, ids, now)
        return ids
    finally:
        await db.dispose()


@dataclass
class HubServe:
    """``evaluation-hub serve`` as a child process (stdout and stderr kept apart per start)."""

    database_url: str
    state: Path
    redis_url: str | None = None
    port: int = field(default_factory=free_port)
    shutdown_s: float = 10.0
    env: dict[str, str] = field(default_factory=dict)  # more settings (EVALHUB_…) of a test
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def out(self, n: int | None = None) -> Path:
        return self.state / f"hub-{n or self.starts}.out"

    def err(self, n: int | None = None) -> Path:
        return self.state / f"hub-{n or self.starts}.err"

    def logs(self) -> str:
        return "".join(
            p.read_text(errors="replace")
            for n in range(1, self.starts + 1)
            for p in (self.out(n), self.err(n))
            if p.exists()
        )

    async def start(self) -> None:
        assert self.proc is None or self.proc.returncode is not None
        self.starts += 1
        args = ["--database-url", self.database_url, "--host", "127.0.0.1"]
        args += ["--port", str(self.port)]
        if self.redis_url:
            args += ["--redis-url", self.redis_url]
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "EVALHUB_TOKEN_SECRET": TOKEN_SECRET,
            "EVALHUB_SEALING_KEY": base64.urlsafe_b64encode(SEALING_KEY).decode(),
            "EVALHUB_HUB_KEY_FILE": str(self.state / "hub-key.pem"),
            "EVALHUB_RECORDINGS_DIR": str(self.state / "recordings"),
            "EVALHUB_SHUTDOWN_SECONDS": str(self.shutdown_s),
            # On the wall clock: the evening cut-off must not pause the test's session.
            "EVALHUB_SESSION_TIMERS": "off",
            **self.env,
        }
        with self.out().open("wb") as out, self.err().open("wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "evaluation_hub.cli", "serve", *args,
                stdout=out, stderr=err, env=env,
            )  # fmt: skip

        async def up() -> bool:
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(f"the hub exited: {self.logs()[-3000:]}")
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(f"{self.base}/api/health") as resp,
                ):
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await until(up, "the hub process to answer")

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def terminate(self, limit: float = 60.0) -> int:
        """SIGTERM; the exit status (the limit only turns a hang into a failure)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), limit)

    def verify_audit(self) -> str:
        """``evaluation-hub audit verify`` on the hub's database; asserts it exits 0."""
        done = subprocess.run(
            [
                sys.executable, "-m", "evaluation_hub.cli", "audit", "verify",
                "--database-url", self.database_url,
                "--public-key", str(self.state / "hub-key.pub"),
            ],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@dataclass
class Seat:
    expert: str
    seat_id: str
    state_dir: Path
    script: Path | None  # None: an idle seat, connected, that plays no script
    publish: bool = False
    talkback: bool = False  # receives push-to-talk audio into ``talkback_wav``
    proc: asyncio.subprocess.Process | None = None
    runs: int = 0

    @property
    def log(self) -> Path:
        return self.state_dir.parent / f"{self.state_dir.name}.log"

    @property
    def talkback_wav(self) -> Path:
        return self.state_dir.parent / f"{self.state_dir.name}.talkback.wav"

    async def run(self) -> None:
        self.runs += 1
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "seat_agent.cli", "run", "--state-dir", str(self.state_dir),
                *(["--script", str(self.script)] if self.script is not None else []),
                # Each on a port of its own, as on the terminals' own machines (one 8765 here).
                "--page-port", "0",
                *(["--publish", "testpattern"] if self.publish else []),
                *(["--talkback", str(self.talkback_wav)] if self.talkback else []),
                stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip

    async def signal(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), 60)


class Evaluation:
    """The seven seats' scripted evaluation against ``hub``; ``urls`` routes a seat (by
    expert) through another address (a proxy) instead of the hub's own."""

    def __init__(
        self,
        hub: HubServe,
        ids: dict[str, Any],
        root: Path,
        urls: dict[str, str] | None = None,
        publish: Iterable[str] = (),
        talkback: bool = False,
    ) -> None:
        self.hub = hub
        self.ids = ids
        self.root = root
        self.urls = urls or {}
        self.publish = frozenset(publish)
        self.talkback = talkback
        self.proxies: dict[str, TcpProxy] = {}
        self.db = Database(hub.database_url)
        self.seats: dict[str, Seat] = {}
        self.started = root / "started"
        self.gate = root / "gate"
        self.http: aiohttp.ClientSession | None = None
        self.host: dict[str, str] = {}
        self._t0 = time.monotonic()
        self.marks: list[tuple[str, float]] = []

    def mark(self, what: str) -> None:
        """Note when a phase ended (printed by ``phases``, to see where a test's time goes)."""
        self.marks.append((what, time.monotonic() - self._t0))

    def phases(self) -> str:
        return ", ".join(f"{what} {at:.1f} s" for what, at in self.marks)

    @property
    def sid(self) -> int:
        return int(self.ids["session"])

    @property
    def _mine(self) -> Any:
        """The rows of ``submitted_scores`` saved for this evaluation's session."""
        return SubmittedScore.session_ref == str(self.sid)

    async def close(self) -> None:
        for seat in self.seats.values():
            if seat.proc is not None and seat.proc.returncode is None:
                seat.proc.send_signal(signal.SIGKILL)
                await seat.proc.wait()
        if self.http is not None:
            await self.http.close()
        await self.db.dispose()

    async def _enrol(self, expert: str, label: str) -> Seat:
        seat_id = f"{label[:2]}.{label}"
        url = self.urls.get(expert, f"ws://127.0.0.1:{self.hub.port}/ws/seat")
        identity = init_state_dir(
            self.root / "seats" / seat_id, seat_id=seat_id, hub_url=url, hub_id="evaluation-hub"
        )
        now = datetime.now(UTC)
        await enrolment.record_enrolment(
            self.db,
            seat_id,
            identity.ed25519_public,
            identity.x25519_public,
            identity.enrolment_code,
            now,
        )
        await enrolment.approve_enrolment(
            self.db, SYSADMIN, seat_id, now, enrolment_code=identity.enrolment_code
        )
        script = self.root / f"{expert}.yaml"
        return Seat(
            expert, seat_id, identity.state_dir, script, expert in self.publish, self.talkback
        )

    async def prepare(self, agents: Iterable[str] | None = None) -> None:
        """Seats enrolled, booked and seated; the package attached; every script written and
        every seat agent started (only those of the experts in ``agents``, if given; the hub
        must be running)."""
        self.http = http = aiohttp.ClientSession()
        base, ids, sid = self.hub.base, self.ids, self.sid
        (self.root / "seats").mkdir(exist_ok=True)
        for expert, label in SEATS.items():
            self.seats[expert] = await self._enrol(expert, label)
        host = self.host = await _login(http, base, "km_operator")
        admins = {v: await _login(http, base, u) for v, u in VENUE_ADMIN.items()}
        bookings, seat_ids = ids["bookings"], ids["seats"]
        for booking, venue, labels in (
            ("dali", "DL", ["DL-01", "DL-02"]),
            ("honghe", "HH", ["HH-01"]),
        ):
            await api(
                http, "POST", f"{base}/api/bookings/{bookings[booking]}/confirm", admins[venue],
                {"seat_ids": [seat_ids[label] for label in labels]},
            )  # fmt: skip
        km_seats = [seat_ids["KM-01"], seat_ids["KM-02"]]
        kunming = await api(
            http, "POST", f"{base}/api/bookings", host,
            {"session_id": sid, "venue_id": ids["venues"]["KM"], "seat_count": 2,
             "seat_ids": km_seats},
            status=201,
        )  # fmt: skip
        await api(
            http, "POST", f"{base}/api/bookings/{kunming['id']}/confirm", admins["KM"],
            {"seat_ids": km_seats},
        )  # fmt: skip
        bookings = {**bookings, "kunming": kunming["id"]}
        booking_of = {"KM": "kunming", "DL": "dali", "HH": "honghe", "QJ": "qujing"}
        for expert, label in SEATS.items():
            booking = bookings[booking_of[label[:2]]]
            await api(
                http, "POST", f"{base}/api/bookings/{booking}/seats/{seat_ids[label]}/expert",
                host, {"expert_id": ids["experts"][expert]}, status=204,
            )  # fmt: skip
        for action in ("confirm_seats", "open_check_in"):
            await api(http, "POST", f"{base}/api/sessions/{sid}/actions", host, {"action": action})
        self.mark("seated")
        evaluation = f"{base}/api/sessions/{sid}/evaluation"
        attached = await api(
            http, "POST", f"{evaluation}/package", host, {"path": str(DEMO_PACKAGE)}, status=201
        )
        for finding in attached["anonymity"]["blocked"]:
            bidder, chapter = finding.split("/")
            await api(
                http, "POST", f"{evaluation}/overrides", host,
                {"bidder_id": bidder, "chapter_id": chapter, "reason": "经核对为引用的行业规范示例"},
                status=201,
            )  # fmt: skip
        self.mark("package attached")
        shuffle = await _shuffle(self.db, sid)
        package = demo_package()
        for expert, seat in self.seats.items():
            sheets = []
            for part in PARTS:
                sheet = part_save(package, shuffle, expert, part, _points(expert))
                del sheet["expert"]
                sheets.append(sheet)
            steps: list[dict[str, Any]] = [
                {"wait_for": str(self.started)},
                {"sheet": sheets[0]},
                {"pause": 0.1, "sheet": sheets[1]},
                {"wait_for": str(self.gate)},
                {"sheet": sheets[2]},
                {"pause": 0.5, "sheet": sheets[3]},
            ]
            script = {"session": str(sid), "commitment": "confirm", "sign": "agree"}
            assert seat.script is not None
            seat.script.write_text(yaml.safe_dump({**script, "steps": steps}), "utf-8")
            if agents is None or expert in agents:
                await seat.run()
        self.mark("prepared")

    async def start(self) -> None:
        """Every member confirmed from the seats; the evaluation starts; ch1 and ch2 come in."""
        assert self.http is not None
        committee = f"{self.hub.base}/api/sessions/{self.sid}/committee"

        async def all_confirmed() -> bool:
            view = await api(self.http, "GET", committee, self.host)
            return bool(view["confirmed"] == len(SEVEN))

        await until(all_confirmed, "every member's commitment, from the seats' scripts")
        await api(
            self.http, "POST", f"{self.hub.base}/api/sessions/{self.sid}/actions", self.host,
            {"action": "start_evaluation"},
        )  # fmt: skip
        self.started.write_text("started")
        self.mark("started")
        await self.saved_at_least(FIRST_SAVES)
        self.mark("ch1+ch2 stored")

    async def stored(self, seat: str | None = None) -> int:
        """Rows of this session in ``submitted_scores`` (of one seat, by expert, if given)."""
        query = select(func.count()).select_from(SubmittedScore).where(self._mine)
        if seat is not None:
            query = query.where(SubmittedScore.seat_key == self.seats[seat].seat_id)
        async with self.db.read() as s:
            return int((await s.execute(query)).scalar_one())

    async def received_before(self, moment: datetime) -> int:
        """Rows in ``submitted_scores`` the hub received (its clock) before ``moment``."""
        async with self.db.read() as s:
            query = select(SubmittedScore.received_at).where(self._mine)
            times = (await s.execute(query)).scalars().all()
        # The column holds UTC; SQLAlchemy may hand it back naive.
        return sum(1 for t in times if (t if t.tzinfo else t.replace(tzinfo=UTC)) < moment)

    async def recovery(self, since: float, seat: str | None = None) -> float:
        """Seconds from ``since`` (the fault's end, monotonic) to the next save stored (of
        ``seat`` if given); 0 if nothing was left to store."""
        total = len(PARTS) if seat is not None else ALL_SAVES
        before = await self.stored(seat)
        if before >= total:
            return 0.0

        async def more() -> bool:
            return await self.stored(seat) > before

        await until(more, f"a save stored after the fault ({seat or 'any seat'})")
        return time.monotonic() - since

    async def live_state(self, expert: str) -> str:
        """The wall's state of the expert's seat (as a host supervisor reads it)."""
        assert self.http is not None
        supervisor = await _login(self.http, self.hub.base, "km_supervisor")
        body = await api(
            self.http, "GET", f"{self.hub.base}/api/sessions/{self.sid}/live/seats", supervisor
        )
        label = SEATS[expert]
        return str(next(s["state"] for s in body["seats"] if s["label"] == label))

    async def saved_at_least(self, n: int, what: str = "") -> float:
        """Wait until ``n`` saves are stored; returns the monotonic time it was seen."""

        async def enough() -> bool:
            return await self.stored() >= n

        await until(enough, what or f"{n} saves in submitted_scores")
        return time.monotonic()

    def open_gate(self) -> None:
        self.gate.write_text("go")

    async def finish(self) -> None:
        """Everything stored, reviewed, sealed, revealed and signed from the seats; exactly
        once per (seat, part); the audit chain verifies."""
        assert self.http is not None
        http, host, base = self.http, self.host, self.hub.base
        await self.saved_at_least(ALL_SAVES, "every save stored")
        self.mark("all stored")
        evaluation = f"{base}/api/sessions/{self.sid}/evaluation"
        review = await api(http, "POST", f"{evaluation}/review", host, status=201)
        assert review["created"] == []
        await api(http, "POST", f"{evaluation}/seal", host)
        revealed = await api(http, "POST", f"{evaluation}/reveal", host)
        assert revealed["result"]["candidates"] == ["b05", "b02", "b01"]
        self.mark("revealed")

        async def signed() -> bool:
            body = await api(http, "GET", f"{base}/api/sessions/{self.sid}/lifecycle", host)
            return bool(body["state"] == "report_signed")

        await until(signed, "every member's signature from their seat")
        self.mark("signed")
        await self.exactly_once()
        self.hub.verify_audit()
        self.mark("verified")
        print(f"\nphases: {self.phases()}")

    async def exactly_once(self) -> None:
        async with self.db.read() as s:
            rows = list((await s.execute(select(SubmittedScore).where(self._mine))).scalars())
        assert len(rows) == ALL_SAVES, len(rows)
        assert len({r.idempotency_key for r in rows}) == ALL_SAVES
        assert sorted((r.seat_key, str(r.sheet.get("part"))) for r in rows) == sorted(
            (f"{label[:2]}.{label}", part) for label in SEATS.values() for part in PARTS
        )
        assert {(r.accepted, r.verdict_code) for r in rows} == {(True, "accepted")}


@contextlib.asynccontextmanager
async def running_evaluation(
    database_url: str,
    root: Path,
    *,
    redis_url: str | None = None,
    cut: Iterable[str] = (),
    publish: Iterable[str] = (),
    hub_env: dict[str, str] | None = None,
) -> AsyncIterator[Evaluation]:
    """The evaluation prepared (hub started, seats enrolled and running their scripts); the
    seats of the experts in ``cut`` reach the hub through a :class:`TcpProxy` each
    (``run.proxies``), those in ``publish`` publish the test pattern too; ``hub_env`` adds to
    the hub's settings."""
    ids = await prepared_database(database_url)
    hub = HubServe(database_url, root, redis_url=redis_url, env=dict(hub_env or {}))
    proxies = {expert: TcpProxy("127.0.0.1", hub.port) for expert in cut}
    for proxy in proxies.values():
        await proxy.start()
    urls = {e: f"ws://127.0.0.1:{p.port}/ws/seat" for e, p in proxies.items()}
    run = Evaluation(hub, ids, root, urls, publish)
    run.proxies = proxies
    try:
        await hub.start()
        await run.prepare()
        yield run
    finally:
        await run.close()
        await hub.kill()
        for proxy in proxies.values():
            await proxy.close()
