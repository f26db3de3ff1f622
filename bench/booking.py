"""Booking throughput and latency through a real hub process, on SQLite and on PostgreSQL.

For each back end it starts `evaluation-hub serve` against a fresh, migrated and seeded
database and drives it over loopback HTTP with CONCURRENCY clients:

* baseline      GET /api/health: the cost of a loopback HTTP round trip through the hub
* no contention POST /api/bookings, every request for a different (seat, session) pair
* contention    POST /api/bookings, all requests for 4 seats of one session: 4 win, the rest
                get a 409 naming the winner

It prints requests/s, successful bookings/s and p50/p99 latency, and the ratio of each booking
p50 to the baseline p50 measured in the same run. Figures, not a pass/fail test.

    .venv/bin/python bench/booking.py [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import EvaluationSession, Seat
from evaluation_hub.localtime import zone
from tests.support.postgres_server import free_port, postgres_server
from tests.support.seed import seed

SECRET = "b" * 40


async def prepare(url: str, sessions: int, extra_seats: int) -> dict[str, Any]:
    db = Database(url)
    await db.upgrade()
    now = datetime.now(UTC)
    ids = await seed(db, now)
    first_day = (now.astimezone(zone()) + timedelta(days=2)).date()
    async with db.write() as s:
        seat_ids = []
        for n in range(extra_seats):
            seat = Seat(
                venue_id=ids["venues"]["DL"],
                label=f"B-{n:04d}",
                room="压测",
                capabilities=["camera", "microphone"],
                status="available",
                shared=True,
            )
            s.add(seat)
            await s.flush()
            seat_ids.append(seat.id)
        session_ids = []
        for n in range(sessions):
            day = first_day + timedelta(days=n)
            session = EvaluationSession(
                project_code=f"BENCH-{n}",
                project_name="压测项目",
                section="1",
                host_venue_id=ids["venues"]["KM"],
                starts_at=datetime(day.year, day.month, day.day, 9, tzinfo=zone()),
                ends_at=datetime(day.year, day.month, day.day, 17, tzinfo=zone()),
                committee_size=7,
                state="scheduled",
                created_at=now,
            )
            s.add(session)
            await s.flush()
            session_ids.append(session.id)
    await db.dispose()
    return {**ids, "bench_seats": seat_ids, "bench_sessions": session_ids}


def start_hub(url: str, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "EVALHUB_TOKEN_SECRET": SECRET, "EVALHUB_LOG_FORMAT": "json"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "evaluation_hub.cli",
                "serve",
                "--database-url",
                url,
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, port


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


async def run_backend(
    name: str, url: str, requests: int, concurrency: int, tmp: Path
) -> list[tuple[str, dict[str, float]]]:
    # One session more than the uncontended requests need: the contended ones get it to themselves.
    ids = await prepare(url, sessions=requests // 50 + 2, extra_seats=50)
    proc, port = start_hub(url, tmp / f"{name}.log")
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/api/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            async with http.post(
                f"{base}/api/auth/token",
                json={"username": "km_operator", "password": ids["password"]},
            ) as resp:
                headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        dl = ids["venues"]["DL"]
        free = [
            {"session_id": sess, "venue_id": dl, "seat_count": 1, "seat_ids": [seat]}
            for sess in ids["bench_sessions"][:-1]
            for seat in ids["bench_seats"]
        ][:requests]
        hot = [
            {
                "session_id": ids["bench_sessions"][-1],
                "venue_id": dl,
                "seat_count": 1,
                "seat_ids": [ids["bench_seats"][n % 4]],
            }
            for n in range(requests)
        ]
        # Warm up connections and caches with requests that are then discarded.
        await drive(base, [None] * 200, headers, concurrency)
        return [
            (
                "baseline GET /api/health",
                await drive(base, [None] * requests, headers, concurrency),
            ),
            ("booking, no contention", await drive(base, free, headers, concurrency)),
            ("booking, contention (4 seats)", await drive(base, hot, headers, concurrency)),
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    print(
        f"{args.requests} requests per row, {args.concurrency} concurrent clients, one hub process\n"
    )
    with tempfile.TemporaryDirectory() as d, postgres_server() as pg:
        tmp = Path(d)
        backends = [
            ("SQLite", f"sqlite+aiosqlite:///{tmp / 'bench.db'}"),
            ("PostgreSQL", pg.create_database("bench")),
        ]
        print(
            f"{'back end':<11} {'workload':<31} {'req/s':>8} {'booked':>7} {'booked/s':>9} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'p50 / baseline':>15}"
        )
        for name, url in backends:
            rows = await run_backend(name, url, args.requests, args.concurrency, tmp)
            base_p50 = rows[0][1]["p50_ms"]
            for label, r in rows:
                baseline = label.startswith("baseline")
                booked = "-" if baseline else f"{r['ok']:.0f}"
                per_s = "-" if baseline else f"{r['ok_per_s']:.1f}"
                print(
                    f"{name:<11} {label:<31} {r['rps']:>8.0f} {booked:>7} {per_s:>9} "
                    f"{r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['p50_ms'] / base_p50:>14.1f}x"
                )


if __name__ == "__main__":
    asyncio.run(main())
