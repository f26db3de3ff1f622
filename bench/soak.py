"""Soak (issue 17, item 7): scripted evaluations back to back on one hub process for a while,
watching the hub's memory and file descriptors for growth, and every warning or error logged.

One ``evaluation-hub serve`` on PostgreSQL and Redis (private servers, as the fault tests start
them) and 20 seat agents: the seven of the scripted evaluation (``tests/faults/harness.py``:
each confirms the commitment, saves ch1 to the commercial part, signs the report from the
seat; restarted with a fresh script for every evaluation, stopped with SIGTERM after it) and
thirteen idle seats that stay connected throughout. Every evaluation is a new session of the
tests' directory on the next day (``tests.support.seed.seed_session``), run to
``report_signed`` and checked as the fault tests check theirs (every save stored exactly once,
``audit verify``).

Every ``--sample-seconds`` the hub's resident memory (VmRSS) and open descriptors are read from
``/proc/<pid>``. At the end: the curve (time, evaluations completed, RSS MB, FDs), every
warning/error line of the hub and the seats, and a verdict: least-squares slopes over the
second half of the run (after warm-up) and the growth they amount to over that half.

    .venv/bin/python bench/soak.py --minutes 30

To find what grows: ``--probe-every N`` has the hub report what its memory is made of after
every N evaluations (``bench/soak_probes.py``; the collector's objects by type), with
``--tracemalloc FRAMES`` its traced allocations by traceback too, with ``--malloc-trim`` what
the C allocator gives back; ``--malloc-arena-max N`` runs the hub with ``MALLOC_ARENA_MAX=N``.
These change what they measure (tracing slows the hub and costs memory; trimming lowers RSS):
the curve of record is a run without them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import platform
import re
import signal
import sys
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.soak_probes import Probe, ProbeSettings, summary, take
from evaluation_hub import localtime
from evaluation_hub.db.engine import Database
from tests.e2e.test_evaluation_processes import SEATS
from tests.faults.harness import Evaluation, HubServe, Seat, prepared_database
from tests.support.postgres_server import postgres_server
from tests.support.redis_server import redis_server
from tests.support.seed import seed_bookings, seed_session

SEAT_AGENTS = 20
# A line at warning level or above, in the hub's and the seat agent's log formats (structlog's
# console and JSON renderers, the standard library's) or a traceback.
_BAD = re.compile(
    r"\[(warning|error|critical|exception)\s*\]|\"level\": ?\"(warning|error|critical)\"|"
    r"^(WARNING|ERROR|CRITICAL)\b|Traceback"
)


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the soak started
    evaluations: int
    rss_mb: float
    fds: int


def read_proc(pid: int) -> tuple[float, int]:
    """The process's resident memory (MB) and open file descriptors, from /proc."""
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return rss_kb / 1024, len(list(Path(f"/proc/{pid}/fd").iterdir()))


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if sxx == 0 else sum((x - mx) * (y - my) for x, y in points) / sxx


class SoakEvaluation(Evaluation):
    """One evaluation of the soak: the seats enrolled for the first are reused by the next."""

    def __init__(
        self, hub: HubServe, ids: dict[str, Any], root: Path, enrolled: dict[str, Seat]
    ) -> None:
        super().__init__(hub, ids, root)
        self.enrolled = enrolled

    async def _enrol(self, expert: str, label: str) -> Seat:
        seat = self.enrolled.get(expert)
        if seat is None:
            seat = self.enrolled[expert] = await super()._enrol(expert, label)
        return Seat(expert, seat.seat_id, seat.state_dir, self.root / f"{expert}.yaml")

    async def idle_seats(self, labels: Iterable[str]) -> list[Seat]:
        """Seat agents enrolled at ``labels`` that play no script (started, connected)."""
        seats = []
        for label in labels:
            enrolled = await super()._enrol(f"idle-{label}", label)
            seat = Seat(enrolled.expert, enrolled.seat_id, enrolled.state_dir, None)
            await seat.run()
            seats.append(seat)
        return seats

    async def stop_seats(self) -> None:
        """SIGTERM the scripted seats (what an expert's terminal gets when it is shut down)."""
        for seat in self.seats.values():
            if seat.proc is not None and seat.proc.returncode is None:
                await seat.signal(signal.SIGTERM)


async def sampler(
    hub: HubServe, done: list[int], t0: float, every: float, out: list[Sample]
) -> None:
    assert hub.proc is not None
    while True:
        rss, fds = read_proc(hub.proc.pid)
        out.append(Sample(time.monotonic() - t0, done[0], rss, fds))
        await asyncio.sleep(every)


def bad_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text(errors="replace").splitlines() if _BAD.search(line)]


@dataclass(frozen=True)
class Options:
    minutes: float
    every: float  # seconds between samples
    probe_every: int  # evaluations between memory probes; 0: none
    probes: ProbeSettings
    arena_max: int | None


async def soak(opts: Options, root: Path) -> int:
    minutes, every = opts.minutes, opts.every
    with postgres_server() as pg, redis_server() as redis:
        url = pg.create_database("soak")
        ids = await prepared_database(url)
        env = opts.probes.env() if opts.probe_every else {}
        if opts.arena_max is not None:
            env["MALLOC_ARENA_MAX"] = str(opts.arena_max)
        hub = HubServe(url, root / "hub", redis_url=redis.url, env=env)
        hub.state.mkdir()
        if opts.probe_every:
            opts.probes.out.mkdir()
        probes: list[Probe] = []
        await hub.start()
        assert hub.proc is not None
        enrolled: dict[str, Seat] = {}
        idle: list[Seat] = []
        samples: list[Sample] = []
        done = [0]
        durations: list[float] = []
        t0 = time.monotonic()
        sampling = asyncio.ensure_future(sampler(hub, done, t0, every, samples))
        first_day = localtime.day_of(datetime.now(UTC)) + timedelta(days=1)
        failure: str | None = None
        db = Database(url)
        try:
            while time.monotonic() - t0 < minutes * 60:
                n = done[0]
                if n:
                    now = datetime.now(UTC)
                    day = first_day + timedelta(days=n)
                    ids = {**ids, "session": await seed_session(db, ids, now, day=day)}
                    ids["bookings"] = await seed_bookings(db, ids, now)
                where = root / f"evaluation-{n + 1:03d}"
                where.mkdir()
                run = SoakEvaluation(hub, ids, where, enrolled)
                began = time.monotonic()
                try:
                    if not idle:
                        taken = set(SEATS.values())
                        free = sorted(label for label in ids["seats"] if label not in taken)
                        idle = await run.idle_seats(free[: SEAT_AGENTS - len(SEATS)])
                    await run.prepare()
                    await run.start()
                    run.open_gate()
                    with contextlib.redirect_stdout(io.StringIO()):
                        await run.finish()
                    await run.stop_seats()
                except Exception:
                    failure = f"evaluation {n + 1} failed:\n{traceback.format_exc()}"
                    break
                finally:
                    await run.close()
                durations.append(time.monotonic() - began)
                done[0] += 1
                print(
                    f"evaluation {done[0]}: report_signed in {durations[-1]:.1f} s "
                    f"(session {run.sid}); t = {time.monotonic() - t0:.0f} s",
                    flush=True,
                )
                if opts.probe_every and done[0] % opts.probe_every == 0:
                    probe = await take(hub.proc.pid, opts.probes.out, len(probes) + 1, done[0])
                    probes.append(probe)
                    print(f"  probe {len(probes)}: RSS {probe.facts['rss_kb'] / 1024:.1f} MB, "
                          f"{probe.facts['gc_objects']} objects, written in "
                          f"{probe.facts['dump_seconds']:.1f} s", flush=True)  # fmt: skip
        finally:
            rss, fds = read_proc(hub.proc.pid)
            samples.append(Sample(time.monotonic() - t0, done[0], rss, fds))
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            if opts.probe_every and done[0] and hub.proc.returncode is None:
                # After the curve's last sample: the last probe also says what malloc_trim(0)
                # gives back, free memory the C allocator kept (fragmentation), not objects.
                probe = await take(
                    hub.proc.pid, opts.probes.out, len(probes) + 1, done[0], trim=True
                )
                probes.append(probe)
            for seat in idle:
                if seat.proc is not None and seat.proc.returncode is None:
                    await seat.signal(signal.SIGTERM)
            try:
                status = await hub.terminate()
            except TimeoutError:
                await hub.kill()
                status = -signal.SIGKILL
                print("the hub did not exit within 60 s of SIGTERM: killed", flush=True)
            await db.dispose()
        report(samples, durations, hub, [*enrolled.values(), *idle], status, minutes, every)
        if opts.arena_max is not None:
            print(f"hub run with MALLOC_ARENA_MAX={opts.arena_max}")
        for line in summary(probes):
            print(line)
        if failure is not None:
            print(f"\nSOAK FAILED: {failure}")
        return 0 if failure is None else 1


def report(
    samples: list[Sample],
    durations: list[float],
    hub: HubServe,
    seats: list[Seat],
    status: int,
    minutes: float,
    every: float,
) -> None:
    print(f"\nsoak: {len(durations)} evaluations in {samples[-1].at / 60:.1f} min on one hub, "
          f"{SEAT_AGENTS} seat agents; hub exit status after SIGTERM: {status}")  # fmt: skip
    if durations:
        ordered = sorted(durations)
        print(f"evaluation (prepare → report_signed → audit verify): median "
              f"{ordered[len(ordered) // 2]:.1f} s, min {ordered[0]:.1f} s, "
              f"max {ordered[-1]:.1f} s")  # fmt: skip
    print("\n| t (min) | evaluations | hub RSS (MB) | hub FDs |")
    print("|---:|---:|---:|---:|")
    step = max(1, round(60 / every))  # one row a minute, and the last
    rows = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    for s in rows:
        print(f"| {s.at / 60:.1f} | {s.evaluations} | {s.rss_mb:.1f} | {s.fds} |")
    half = samples[-1].at / 2
    late = [s for s in samples if s.at >= half]
    if len(late) >= 3:
        span_min = (late[-1].at - late[0].at) / 60
        rss_slope = slope([(s.at / 60, s.rss_mb) for s in late])
        fd_slope = slope([(s.at / 60, float(s.fds)) for s in late])
        rss_growth, fd_growth = rss_slope * span_min, fd_slope * span_min
        mean = sum(s.rss_mb for s in late) / len(late)
        flat = rss_growth <= max(5.0, 0.02 * mean) and fd_growth <= 2.0
        print(
            f"\nverdict: {'NO GROWTH' if flat else 'GROWTH'} after warm-up — over the second "
            f"half ({len(late)} samples, {span_min:.1f} min): RSS {rss_slope:+.2f} MB/min "
            f"({rss_growth:+.1f} MB, mean {mean:.1f} MB), FDs {fd_slope:+.2f}/min "
            f"({fd_growth:+.1f}); flat means ≤ max(5 MB, 2 %) and ≤ 2 descriptors"
        )
    lines = [f"hub: {line}" for line in _hub_lines(hub)]
    for seat in seats:
        lines += [f"{seat.seat_id}: {line}" for line in bad_lines(seat.log)]
    print(f"\nwarning/error lines: {len(lines)} (hub and {len(seats)} seats)")
    for line in lines:
        print(f"  {line}")
    print(f"\nmachine: {platform.machine()}, nproc {_nproc()}, {_cpu()}, "
          f"Python {platform.python_version()}; --minutes {minutes:g}")  # fmt: skip


def _hub_lines(hub: HubServe) -> list[str]:
    found = []
    for n in range(1, hub.starts + 1):
        found += bad_lines(hub.out(n)) + bad_lines(hub.err(n))
    return found


def _nproc() -> int:
    return len(os.sched_getaffinity(0))


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--keep", type=Path, help="keep the hub's and seats' files here")
    parser.add_argument(
        "--probe-every", type=int, default=0, metavar="N",
        help="probe the hub's memory (objects by type) after every N evaluations",
    )  # fmt: skip
    parser.add_argument(
        "--tracemalloc", type=int, default=0, metavar="FRAMES",
        help="with --probe-every: trace allocations with this many frames, compare snapshots",
    )  # fmt: skip
    parser.add_argument(
        "--malloc-trim", action="store_true",
        help="with --probe-every: RSS after malloc_trim(0) at every probe, not only the last "
        "(lowers the curve)",
    )  # fmt: skip
    parser.add_argument("--malloc-arena-max", type=int, metavar="N", help="MALLOC_ARENA_MAX")
    args = parser.parse_args()

    def run(root: Path) -> int:
        probes = ProbeSettings(root / "probes", args.tracemalloc, args.malloc_trim)
        opts = Options(
            args.minutes, args.sample_seconds, args.probe_every, probes, args.malloc_arena_max
        )
        return asyncio.run(soak(opts, root))

    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
        return run(args.keep)
    with TemporaryDirectory(prefix="soak-") as tmp:
        return run(Path(tmp))


if __name__ == "__main__":
    raise SystemExit(main())
