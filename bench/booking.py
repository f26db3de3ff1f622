"""Booking throughput and latency through a real hub process, on SQLite and on PostgreSQL.

For each back end it starts `evaluation-hub serve` against a fresh, migrated and seeded
database and drives it over loopback HTTP with CONCURRENCY clients:

* baseline      GET /api/health: the cost of a loopback HTTP round trip through the hub
* no contention POST /api/bookings, every request for a different (seat, session) pair
* contention    POST /api/bookings, all requests for 4 seats of one session: 4 win, the rest
                get a 409 naming the winner

For each number of concurrent clients in ``--sizes`` (one row per size) it prints requests/s,
successful bookings/s, p50/p99 latency, the ratio of each booking p50 to the baseline p50
measured in the same run, and the hub process's CPU per request (user + system, from
/proc/<pid>/stat, over the row): the cost per booking, which latency at high concurrency hides
behind queueing. Figures, not a pass/fail test.

``--baseline-tree DIR`` also starts a hub from another checkout of the project (for example
``git archive c7866c2 | tar -x -C /tmp/base``) and runs every row against both hubs one after
the other, so a change is compared with what it replaced under the same machine load. Each
tree gets a database of its own, migrated by its own migrations and seeded by its own
``tests.support.seed`` plus the same bench seats and sessions (a tree cannot open a database
that newer migrations have changed). ``--profile DIR`` runs each hub under cProfile and writes DIR/<hub>-<back
end>.prof when it stops.

    .venv/bin/python bench/booking.py [--requests 1000] [--sizes 1,32,128]
        [--backends sqlite,postgresql] [--baseline-tree DIR] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.postgres_server import free_port, postgres_server

SECRET = "b" * 40


# Run by each tree's own code (``prepare``): its migrations bring the empty database to its
# head, its ``tests.support.seed`` seeds it, and the same bench seats and sessions are added.
# A tree cannot open a database migrated by a newer tree (its schema guard refuses an unknown
# revision), so each hub gets a database of its own, made by its own tree.
_PREPARE = """
import asyncio, json, sys
from datetime import UTC, datetime, timedelta
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import EvaluationSession, Seat
from evaluation_hub.localtime import zone
from tests.support.seed import seed

async def prepare(url, sessions, extra_seats):
    db = Database(url)
    await db.upgrade()
    now = datetime.now(UTC)
    ids = await seed(db, now)
    first_day = (now.astimezone(zone()) + timedelta(days=2)).date()
    async with db.write() as s:
        seat_ids = []
        for n in range(extra_seats):
            seat = Seat(
                venue_id=ids["venues"]["DL"], label=f"B-{n:04d}", room="压测",
                capabilities=["camera", "microphone"], status="available", shared=True,
            )
            s.add(seat)
            await s.flush()
            seat_ids.append(seat.id)
        session_ids = []
        for n in range(sessions):
            day = first_day + timedelta(days=n)
            session = EvaluationSession(
                project_code=f"BENCH-{n}", project_name="压测项目", section="1",
                host_venue_id=ids["venues"]["KM"],
                starts_at=datetime(day.year, day.month, day.day, 9, tzinfo=zone()),
                ends_at=datetime(day.year, day.month, day.day, 17, tzinfo=zone()),
                committee_size=7, state="scheduled", created_at=now,
            )
            s.add(session)
            await s.flush()
            session_ids.append(session.id)
    await db.dispose()
    return {
        "password": ids["password"], "venues": ids["venues"],
        "bench_seats": seat_ids, "bench_sessions": session_ids,
    }

ids = asyncio.run(prepare(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
print("IDS " + json.dumps(ids))
"""

THIS_TREE = Path(__file__).resolve().parent.parent


def prepare(url: str, sessions: int, extra_seats: int, tree: Path | None) -> dict[str, Any]:
    """Migrate and seed ``url`` with ``tree``'s code (this checkout if None); the ids."""
    root = tree or THIS_TREE
    done = subprocess.run(
        [sys.executable, "-c", _PREPARE, url, str(sessions), str(extra_seats)],
        env={**os.environ, "PYTHONPATH": str(root)},
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"preparing {url} with {root} failed:\n{done.stderr}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("IDS "))
    ids: dict[str, Any] = json.loads(line.removeprefix("IDS "))
    return ids


# The hub under cProfile with a CPU-time clock: wall time would charge to a socket send the
# time the hub waits for a core while PostgreSQL, woken by that send, runs on it.
_PROFILED = """
import cProfile, sys, time
from evaluation_hub.cli import main
out = sys.argv.pop(1)
profile = cProfile.Profile(time.process_time)
try:
    profile.runcall(main, sys.argv[1:])
finally:
    profile.dump_stats(out)
"""


def start_hub(
    url: str, log: Path, tree: Path | None = None, profile: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """`evaluation-hub serve` from this checkout, or from ``tree`` (its modules first on the
    path), optionally under cProfile (written when the hub stops on SIGTERM)."""
    port = free_port()
    env = {**os.environ, "EVALHUB_TOKEN_SECRET": SECRET, "EVALHUB_LOG_FORMAT": "json"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    args = [sys.executable, "-m", "evaluation_hub.cli"]
    if profile is not None:
        args = [sys.executable, "-c", _PROFILED, str(profile)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*args, "serve", "--database-url", url, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tree,
        )
    return proc, port


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its threads, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    base: str, bodies: list[dict[str, Any] | None], headers: dict[str, str], concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    ok = 0
    queue = list(reversed(bodies))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def worker() -> None:
            nonlocal ok
            while queue:
                body = queue.pop()
                t0 = time.perf_counter()
                if body is None:
                    async with http.get(f"{base}/api/health") as resp:
                        await resp.read()
                        ok += resp.status == 200
                else:
                    async with http.post(
                        f"{base}/api/bookings", json=body, headers=headers
                    ) as resp:
                        await resp.read()
                        ok += resp.status == 201
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(bodies) / elapsed,
        "ok_per_s": ok / elapsed,
        "ok": ok,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
    }


class Hub:
    """One hub process on its own freshly seeded database, with the bookings it can be asked
    for: ``free`` pairs (a different seat or session each) handed out in order, and one
    session kept for the contended rows."""

    def __init__(self, name: str, url: str, tree: Path | None, profile: Path | None) -> None:
        self.name, self.url, self.tree, self.profile = name, url, tree, profile
        self.headers: dict[str, str] = {}
        self.free: list[dict[str, Any]] = []
        self.hot_session = 0
        self.dl = 0
        self.seats: list[int] = []

    async def start(self, requests: int, rows: int, tmp: Path) -> None:
        # Enough (seat, session) pairs for every uncontended row, plus one session for the
        # contended ones.
        ids = await asyncio.to_thread(prepare, self.url, requests * rows // 50 + 2, 50, self.tree)
        self.proc, port = start_hub(self.url, tmp / f"{self.name}.log", self.tree, self.profile)
        self.base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{self.base}/api/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            async with http.post(
                f"{self.base}/api/auth/token",
                json={"username": "km_operator", "password": ids["password"]},
            ) as resp:
                self.headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        self.dl = ids["venues"]["DL"]
        self.seats = ids["bench_seats"]
        self.hot_session = ids["bench_sessions"][-1]
        self.free = [
            {"session_id": sess, "venue_id": self.dl, "seat_count": 1, "seat_ids": [seat]}
            for sess in ids["bench_sessions"][:-1]
            for seat in ids["bench_seats"]
        ]
        # Warm up connections and caches with requests that are then discarded.
        await drive(self.base, [None] * 200, self.headers, 8)

    async def row(self, workload: str, requests: int, concurrency: int) -> dict[str, float]:
        if workload == "baseline":
            bodies: list[dict[str, Any] | None] = [None] * requests
        elif workload == "free":
            bodies = list(self.free[:requests])
            del self.free[:requests]
        else:
            # The contended session's 4 seats are taken by the first row; later rows are all
            # refusals, as in the first row after its first 4 requests.
            bodies = [
                {
                    "session_id": self.hot_session,
                    "venue_id": self.dl,
                    "seat_count": 1,
                    "seat_ids": [self.seats[n % 4]],
                }
                for n in range(requests)
            ]
        cpu0 = cpu_seconds(self.proc.pid)
        result = await drive(self.base, bodies, self.headers, concurrency)
        result["cpu_ms"] = (cpu_seconds(self.proc.pid) - cpu0) * 1000 / len(bodies)
        return result

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


WORKLOADS = {
    "baseline": "baseline GET /api/health",
    "free": "booking, no contention",
    "hot": "booking, contention (4 seats)",
}


def sizes_arg(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000, help="requests per row")
    parser.add_argument(
        "--sizes", type=sizes_arg, default=[1, 32, 128], help="concurrent clients, one row each"
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--baseline-tree", type=Path, help="also run a hub from this checkout")
    parser.add_argument("--profile", type=Path, help="write each hub's cProfile stats here")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    print(f"{args.requests} requests per row, one hub process per back end and tree\n")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    trees: list[tuple[str, Path | None]] = [("this", None)]
    if args.baseline_tree is not None:
        trees.insert(0, ("base", args.baseline_tree.resolve()))
    with tempfile.TemporaryDirectory() as d, postgres_server() as pg:
        tmp = Path(d)
        print(
            f"{'back end':<10} {'tree':<5} {'clients':>7} {'workload':<30} {'req/s':>7} "
            f"{'booked':>6} {'p50 ms':>8} {'p99 ms':>8} {'p50/base':>8} {'hub CPU ms/req':>14}"
        )
        for backend in args.backends.split(","):
            hubs = []
            for tree_name, tree in trees:
                name = f"{tree_name}-{backend}"
                if backend == "sqlite":
                    url = f"sqlite+aiosqlite:///{tmp / name}.db"
                else:
                    url = pg.create_database(name.replace("-", "_"))
                profile = args.profile / f"{name}.prof" if args.profile else None
                hub = Hub(tree_name, url, tree, profile)
                await hub.start(args.requests, len(args.sizes), tmp)
                hubs.append(hub)
            try:
                for concurrency in args.sizes:
                    # Interleaved: each workload runs on every hub before the next workload.
                    base_p50: dict[str, float] = {}
                    for workload, label in WORKLOADS.items():
                        for hub in hubs:
                            r = await hub.row(workload, args.requests, concurrency)
                            if workload == "baseline":
                                base_p50[hub.name] = r["p50_ms"]
                            booked = "-" if workload == "baseline" else f"{r['ok']:.0f}"
                            print(
                                f"{backend:<10} {hub.name:<5} {concurrency:>7} {label:<30} "
                                f"{r['rps']:>7.0f} {booked:>6} {r['p50_ms']:>8.1f} "
                                f"{r['p99_ms']:>8.1f} {r['p50_ms'] / base_p50[hub.name]:>7.1f}x "
                                f"{r['cpu_ms']:>14.2f}",
                                flush=True,
                            )
            finally:
                for hub in hubs:
                    hub.stop()


if __name__ == "__main__":
    asyncio.run(main())
