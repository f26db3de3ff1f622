"""The seat control plane under load: one hub process, many seat connections.

It migrates a fresh SQLite database, adds a venue with SEATS seats whose terminal keys are
already approved, and starts ONE hub process (``create_app`` run with aiohttp's ``AppRunner``
on loopback; this same file with ``--serve``). This process then opens SEATS real seat links
(``seat_agent.connection.SeatLink``: websocket, challenge-response authentication, resume,
heartbeats every 5 s from both ends) and, once all are connected, submits score sheets at a
steady total RATE per second from randomly chosen seats for DURATION seconds.

It prints the submit-to-acknowledge latency (from ``SubmitScore`` written by the seat's link to
the hub's ``score_ack`` read back, i.e. including the hub's database commit; the seat's own
outbox write is not included), the hub process's CPU seconds and RSS over the measured window,
and checks that ``submitted_scores`` holds exactly one row per acknowledged score. Figures,
not a pass/fail test.

    .venv/bin/python bench/control_plane.py [--sizes 100,1000,5000] [--rate 30] [--duration 20]

Each size in ``--sizes`` (seats) is a fresh database and hub process, measured in turn, and
ends with one row of a summary table: connect time, the hub's CPU with heartbeats only (per
seat), the CPU per score over that baseline, latency and memory, so the table shows how each
cost grows with the number of seats.

The named baseline, measured in the same run just before the scores, is the same connections
with heartbeats only: the hub's CPU over an equal window, so the cost of the scores themselves
is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import platform
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Seat, Venue
from evaluation_hub.db.seat_terminals import SeatEnrolment, SubmittedScore
from scoring.signing import save_document, sign
from seat_agent.connection import SeatLink
from seat_agent.keys import SeatIdentity
from seat_protocol.auth import enrolment_code
from seat_protocol.events import Connected, Disconnected, Event, ScoreCommitted, ScoreRefused
from seat_protocol.messages import SubmitScore
from tests.support.postgres_server import free_port

HUB_ID = "evaluation-hub"
VENUE = "BN"


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- the hub process ------------------------------------------------------------------------


async def serve(database_url: str, port: int, state_dir: Path) -> None:
    """One hub process: ``create_app`` on SQLite behind aiohttp's runner, until SIGTERM."""
    from aiohttp import web

    from evaluation_hub.api.app import create_app
    from evaluation_hub.config import HubConfig

    config = HubConfig(
        database_url=database_url,
        port=port,
        token_secret="c" * 40,
        sealing_key_file=state_dir / "sealing.key",
        hub_key_file=state_dir / "hub-key.pem",
        hub_id=HUB_ID,
    )
    runner = web.AppRunner(create_app(config), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    print(f"hub listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


# --- set-up ---------------------------------------------------------------------------------


async def prepare(url: str, seats: int) -> list[tuple[str, Ed25519PrivateKey, X25519PrivateKey]]:
    """A venue with ``seats`` seats, each with an approved terminal key."""
    db = Database(url)
    await db.upgrade()
    now = datetime.now(UTC)
    keys = []
    async with db.write() as s:
        venue = Venue(code=VENUE, name="压测场地", region_code="530100", supervising_department="-")
        s.add(venue)
        await s.flush()
        for n in range(seats):
            seat = Seat(venue_id=venue.id, label=f"{VENUE}-{n:04d}", room="压测")
            s.add(seat)
            await s.flush()
            ed, x = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
            ed_pub = ed.public_key().public_bytes_raw()
            x_pub = x.public_key().public_bytes_raw()
            seat_key = f"{VENUE}.{seat.label}"
            s.add(
                SeatEnrolment(
                    seat_key=seat_key,
                    seat_id=seat.id,
                    ed25519_public_key=ed_pub,
                    x25519_public_key=x_pub,
                    enrolment_code=enrolment_code(ed_pub, x_pub),
                    status="approved",
                    requested_at=now,
                    decided_by="bench",
                    decided_at=now,
                )
            )
            keys.append((seat_key, ed, x))
    await db.dispose()
    return keys


async def count_scores(url: str) -> tuple[int, int]:
    from sqlalchemy import func, select

    db = Database(url)
    try:
        async with db.read() as s:
            rows = (await s.execute(select(func.count(SubmittedScore.id)))).scalar_one()
            keys = (
                await s.execute(select(func.count(func.distinct(SubmittedScore.idempotency_key))))
            ).scalar_one()
    finally:
        await db.dispose()
    return int(rows), int(keys)


# --- the seats ------------------------------------------------------------------------------


class Seats:
    """SEATS seat links in this process and what they report."""

    def __init__(self) -> None:
        self.links: list[SeatLink] = []
        self.connected: set[str] = set()
        self.disconnects = 0
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self._changed = asyncio.Event()

    async def wait_connected(self, count: int, within: float) -> None:
        async def reached() -> None:
            while len(self.connected) < count:
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(reached(), within)
        except TimeoutError:
            raise RuntimeError(
                f"only {len(self.connected)} of {count} seats connected in {within:g} s"
            ) from None

    def handler(self, seat_key: str) -> Any:
        async def on_event(event: Event) -> None:
            if isinstance(event, Connected):
                self.connected.add(seat_key)
                self._changed.set()
            elif isinstance(event, Disconnected):
                self.connected.discard(seat_key)
                self.disconnects += 1
            elif isinstance(event, ScoreCommitted | ScoreRefused):
                # The hub's verdict (no session "BENCH" exists: each save is stored with its
                # refusal) is the acknowledgement.
                sent = self.sent_at.pop(event.idempotency_key, None)
                if sent is not None:
                    self.latencies.append(time.perf_counter() - sent)

        return on_event


async def run(args: argparse.Namespace, size: int) -> dict[str, float]:
    """One size: ``size`` seats on a fresh database and hub; the figures of its summary row."""
    raise_fd_limit()
    args.seats = size
    row: dict[str, float] = {"seats": size}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        url = f"sqlite+aiosqlite:///{tmp / 'hub.db'}"
        t0 = time.perf_counter()
        keys = await prepare(url, args.seats)
        print(f"set-up: {args.seats} seats with approved keys in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        with (tmp / "hub.log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--serve",
                "--database-url",
                url,
                "--port",
                str(port),
                "--state-dir",
                str(tmp),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        hub = psutil.Process(proc.pid)
        seats = Seats()
        tasks: list[asyncio.Task[None]] = []
        try:
            await wait_listening(port, proc, tmp / "hub.log")
            hub_url = f"ws://127.0.0.1:{port}/ws/seat"
            t0 = time.perf_counter()
            for n, (seat_key, ed, x) in enumerate(keys):
                identity = SeatIdentity(seat_key, hub_url, HUB_ID, ed, x, tmp)
                link = SeatLink(identity, on_event=seats.handler(seat_key))
                seats.links.append(link)
                tasks.append(asyncio.create_task(link.run()))
                if n % 50 == 49:  # ramp up: at most about 50 handshakes at a time
                    await seats.wait_connected(n + 1 - 50, 300)
            await seats.wait_connected(args.seats, 600)
            row["connect_s"] = time.perf_counter() - t0
            print(f"connected: {args.seats} seats in {row['connect_s']:.1f} s")
            # Let the heartbeats settle into their 5 s rhythm before measuring.
            await asyncio.sleep(args.settle)
            seats.disconnects = 0
            # Baseline, same run: the same connections with heartbeats only, no scores.
            idle_before = hub.cpu_times()
            t0 = time.perf_counter()
            await asyncio.sleep(args.duration)
            idle_window = time.perf_counter() - t0
            idle_after = hub.cpu_times()
            idle_cpu = (idle_after.user - idle_before.user) + (
                idle_after.system - idle_before.system
            )
            print(
                f"baseline, heartbeats only: hub {idle_cpu:.2f} CPU s over {idle_window:.1f} s "
                f"({idle_cpu / idle_window * 100:.1f}% of one core)"
            )
            row["idle_core"] = idle_cpu / idle_window
            rss_before = hub.memory_info().rss
            cpu_before = hub.cpu_times()
            me_before = psutil.Process().cpu_times()
            t0 = time.perf_counter()
            sent = await submit_steadily(seats, args.rate, args.duration)
            window = time.perf_counter() - t0
            cpu_after = hub.cpu_times()
            me_after = psutil.Process().cpu_times()
            rss = hub.memory_info().rss
            # Answers still in flight when the window closed.
            for _ in range(300):
                if not seats.sent_at:
                    break
                await asyncio.sleep(0.1)
            hub_cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
            me_cpu = (me_after.user - me_before.user) + (me_after.system - me_before.system)
            report(args, seats, sent, window, hub_cpu, me_cpu, rss_before, rss)
            extra = hub_cpu - idle_cpu * window / idle_window
            print(
                f"scores over the heartbeat baseline: {extra:.2f} CPU s, "
                f"{extra / max(sent, 1) * 1000:.2f} ms of hub CPU per score"
            )
            lat = sorted(seats.latencies)
            q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else None
            row.update(
                busy_core=hub_cpu / window,
                score_ms=extra / max(sent, 1) * 1000,
                p50_ms=q[49] * 1000 if q else float("nan"),
                p99_ms=q[98] * 1000 if q else float("nan"),
                rss_mib=rss / 2**20,
                unanswered=len(seats.sent_at),
                disconnects=seats.disconnects,
                simulator_core=me_cpu / window,
            )
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 60)
        rows, distinct = await count_scores(url)
        print(
            f"database: {rows} rows in submitted_scores, {distinct} distinct keys, "
            f"{len(seats.latencies)} acknowledged"
            + ("" if rows == distinct == len(seats.latencies) else "  <-- MISMATCH")
        )
        row["consistent"] = rows == distinct == len(seats.latencies)
    return row


async def wait_listening(port: int, proc: asyncio.subprocess.Process, log: Path) -> None:
    for _ in range(600):
        if proc.returncode is not None:
            raise RuntimeError(f"the hub exited:\n{await asyncio.to_thread(log.read_text)}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError("the hub did not start listening")


async def submit_steadily(seats: Seats, rate: float, duration: float) -> int:
    """Submit ``rate`` scores per second in total, from random seats, for ``duration`` s."""
    pick = random.Random(2026)
    counter = itertools.count(1)
    start = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - start) < duration:
        due = int(elapsed * rate) + 1
        while sent < due:
            link = pick.choice(seats.links)
            n = next(counter)
            key = f"{link.identity.seat_id}-{n}"
            sheet = {"chapter": f"C{n % 7}", "items": {"t1": n % 10, "t2": 5.5}}
            seats.sent_at[key] = time.perf_counter()
            signature = sign(link.identity.ed25519, save_document("BENCH", key, sheet)).hex()
            await link.send(
                SubmitScore(
                    idempotency_key=key, session_id="BENCH", sheet=sheet, signature=signature
                )
            )
            sent += 1
        await asyncio.sleep(max(0.0, start + due / rate - time.perf_counter()))
    return sent


def report(
    args: argparse.Namespace,
    seats: Seats,
    sent: int,
    window: float,
    hub_cpu: float,
    me_cpu: float,
    rss_before: int,
    rss: int,
) -> None:
    lat = sorted(seats.latencies)
    print(
        f"window: {window:.1f} s, {sent} submissions ({sent / window:.1f}/s), "
        f"{len(lat)} acknowledged, {len(seats.sent_at)} unanswered, "
        f"{seats.disconnects} disconnects"
    )
    if len(lat) >= 2:
        q = statistics.quantiles(lat, n=100, method="inclusive")
        print(
            f"submit-to-acknowledge latency: p50 {q[49] * 1000:.1f} ms, "
            f"p99 {q[98] * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms"
        )
    print(
        f"hub process: {hub_cpu:.2f} CPU s over the window ({hub_cpu / window * 100:.1f}% of one "
        f"core), RSS {rss / 2**20:.0f} MiB (at the window's start {rss_before / 2**20:.0f} MiB)"
    )
    print(
        f"seat simulator (this process, for context): {me_cpu:.2f} CPU s "
        f"({me_cpu / window * 100:.1f}% of one core)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--sizes",
        default="100,1000,5000",
        help="numbers of seats, one fresh hub and one summary row each",
    )
    parser.add_argument("--seats", type=int, help="one size (the same as --sizes N)")
    parser.add_argument("--rate", type=float, default=30.0, help="score submissions per second")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--settle", type=float, default=6.0, help="seconds before measuring")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        raise_fd_limit()
        asyncio.run(serve(args.database_url, args.port, args.state_dir))
        return
    # The seat links' own info logs (one per connection) would drown the figures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}"
    )
    sizes = [args.seats] if args.seats else [int(n) for n in args.sizes.split(",") if n.strip()]
    print(
        f"seats {', '.join(map(str, sizes))}; heartbeats every 5 s, {args.rate:g} score "
        f"submissions/s for {args.duration:g} s; one hub process on SQLite per size\n"
    )
    rows = []
    for size in sizes:
        print(f"--- {size} seats")
        rows.append(asyncio.run(run(args, size)))
        print()
    summary(rows)


def summary(rows: list[dict[str, float]]) -> None:
    """One row per size; CPU in % of one core, 'per seat' is the heartbeat baseline / seats."""
    print(
        f"{'seats':>6} {'connect s':>9} {'idle CPU':>8} {'µs/seat·s':>9} {'busy CPU':>8} "
        f"{'ms/score':>8} {'p50 ms':>7} {'p99 ms':>7} {'RSS MiB':>7} {'sim CPU':>7} {'ok':>3}"
    )
    for r in rows:
        ok = r.get("consistent") and not r.get("unanswered") and not r.get("disconnects")
        print(
            f"{r['seats']:>6.0f} {r['connect_s']:>9.1f} {r['idle_core'] * 100:>7.1f}% "
            f"{r['idle_core'] / r['seats'] * 1e6:>9.1f} {r['busy_core'] * 100:>7.1f}% "
            f"{r['score_ms']:>8.2f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
            f"{r['rss_mib']:>7.0f} {r['simulator_core'] * 100:>6.0f}% {'yes' if ok else 'NO':>3}"
        )
    print(
        "(idle CPU: the hub with heartbeats only, the baseline measured in the same run; "
        "µs/seat·s: that baseline per connected seat; ms/score: the hub's CPU over the baseline "
        "per score; sim CPU: the seat simulator process, which shares the machine's cores)"
    )


if __name__ == "__main__":
    main()
