"""Beyond one process (issue 14, "Show"): three hub processes behind Debian's nginx
(round-robin, websockets passed through: ``tests/faults/nginx_rig.py``), on PostgreSQL and
Redis (``tests/support``), with ``EVALHUB_MEDIA_BACKEND=janus`` on Debian's Janus
(``tests/support/janus_server.py``), all on this machine.

``--seat-links`` seat links connect through nginx (so round-robin spreads them over the hubs);
the first ``--publishers`` of them also publish the pre-encoded test pattern (320×240 VP8 at
15 fps, ``bench/media.py``'s ``encode_cycle``/``ReplayTrack``) through the seat agent's
publisher: the ``media_offer`` goes over the seat link to whichever hub holds it, which relays
it into its session's Janus room. ``--viewers-per-seat`` supervisors watch each publishing seat
through the hub's Janus route (any hub: nginx again), one viewer each. The database
(``bench/scale_seed.py``) puts ``--seats-per-session`` publishing seats in each session, in
check-in. The load runs in worker processes (``bench/scale_workers.py``).

Measured, once every seat is connected, every publisher live and every viewer receiving:

1. **media, links idle**: ``--duration`` s of heartbeats and video only;
2. **media + saves**: the same with score sheets submitted at ``--rate`` per second in total
   from random seat links (``bench/control_plane.py``'s saves: the sheet names no session, so
   each is stored with its refusal; the latency is from the seat link's write to the hub's
   verdict read back, the database commit included).

Each window prints one row per process: CPU (user + system, all threads, ``psutil``) in % of
one core — each hub, Janus, nginx, PostgreSQL (every backend), Redis, the seat and viewer
workers — and a summary: delivered frames per second per viewer (mean, worst), the save
latency p50/p99, disconnects.

**The baseline, in the same run and interleaved**: bare Janus with the same publishers and
viewers and no hub at all (``bench/media.py``'s ``janus`` mode: its publishers signal Janus
directly, one publisher process and one viewer process), once before and once after the hubs'
run. Janus's CPU and the delivered fps there against the hubs' run show what the hubs' control
plane (and their conduct monitors: each live seat has a keyframe-only subscriber in its hub)
adds to the media plane.

    .venv/bin/python bench/scale.py                       # 1,500 links, 300 × 3, 20 s windows
    .venv/bin/python bench/scale.py --seat-links 300 --publishers 30 --duration 15

Figures, not a pass/fail test. Recording is off unless ``--record`` (Janus's recorder and the
conversion at the end cost per seat, not per viewer).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

# This file is in bench/, beside bench/media.py: keep that from shadowing the media package.
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

import psutil  # noqa: E402

from bench.control_plane import raise_fd_limit  # noqa: E402
from bench.scale_report import Window, baseline_row, machine, summary, window_rows  # noqa: E402
from bench.scale_seed import ScalePlan, seed_scale  # noqa: E402

FPS = 15
WIDTH, HEIGHT = 320, 240


class Worker:
    """A ``--seat-worker`` or ``--viewer-worker`` process and its command line protocol."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.proc = proc

    @classmethod
    async def start(cls, name: str, role: str, spec: dict[str, Any], folder: Path) -> Worker:
        path = folder / f"{name}.json"
        path.write_text(json.dumps(spec))
        err = (folder / f"{name}.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, f"--{role}", str(path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, limit=2**26,
        )  # fmt: skip
        err.close()
        return cls(name, proc)

    async def ask(self, command: str, wait_s: float = 900) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), wait_s)
            if not line:
                raise RuntimeError(f"{self.name} exited (see its log)")
            if line.startswith(b"@@"):
                answer = json.loads(line[2:])
                if isinstance(answer, dict) and "error" in answer:
                    raise RuntimeError(f"{self.name}: {answer['error']}")
                return answer

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"quit\n")
                await self.proc.stdin.drain()
            try:
                await asyncio.wait_for(self.proc.wait(), 60)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def processes(named: dict[str, int], trees: dict[str, int]) -> dict[str, list[psutil.Process]]:
    """The processes to read, by row: ``named`` pids; ``trees`` pids with their children (the
    PostgreSQL postmaster and its backends); this run's nginx and Redis, found by name."""
    rows: dict[str, list[psutil.Process]] = {n: [psutil.Process(p)] for n, p in named.items()}
    for row, pid in trees.items():
        root = psutil.Process(pid)
        rows[row] = [root, *root.children(recursive=True)]
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            name = child.name()
            for row, prefix in (("nginx", "nginx"), ("redis", "redis-server")):
                if name.startswith(prefix):
                    rows.setdefault(row, []).append(child)
    return rows


def cpu_now(rows: dict[str, list[psutil.Process]]) -> dict[str, dict[int, float]]:
    found: dict[str, dict[int, float]] = {}
    for row, procs in rows.items():
        found[row] = {}
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                found[row][proc.pid] = t.user + t.system
    return found


async def measured(
    name: str,
    seconds: float,
    named: dict[str, int],
    trees: dict[str, int],
    viewers: list[Worker],
    during: Any = None,
) -> Window:
    """A window of ``seconds`` (or of ``during``, awaited): CPU per row, fps per viewer."""
    rows = processes(named, trees)
    for worker in viewers:
        await worker.ask("mark")
    before, began = cpu_now(rows), time.monotonic()
    result = await during if during is not None else await asyncio.sleep(seconds)
    after, wall = cpu_now(rows), time.monotonic() - began
    fps = [f for worker in viewers for f in await worker.ask("fps")]
    cpu = {
        row: sum(t - before[row].get(pid, 0.0) for pid, t in after[row].items()) / wall
        for row in rows
    }
    return Window(name, wall, cpu, fps, result)


async def wait_for(what: str, check: Any, limit: float) -> None:
    ends = time.monotonic() + limit
    while not await check():
        if time.monotonic() > ends:
            raise RuntimeError(f"timed out after {limit:g} s waiting for {what}")
        await asyncio.sleep(5.0)


async def hubs_run(args: argparse.Namespace, root: Path) -> list[Window]:
    """The subject: three hubs, nginx, PostgreSQL, Redis and Janus; the two windows."""
    from bench.media import encode_cycle
    from bench.scale_janus import ScaleJanus
    from evaluation_hub.audit.keys import load_or_create_private_key
    from tests.faults.nginx_rig import NamedHub, Nginx
    from tests.support.postgres_server import postgres_server
    from tests.support.redis_server import redis_server

    raise_fd_limit()
    cycle = root / "cycle.json"
    frames = encode_cycle(WIDTH, HEIGHT, FPS)
    cycle.write_text(json.dumps([base64.b64encode(f).decode() for f in frames]))
    with postgres_server() as pg, redis_server() as redis:
        url = pg.create_database("scale")
        t0 = time.monotonic()
        plan = await seed_scale(
            url, seat_links=args.seat_links, publishers=args.publishers,
            per_session=args.seats_per_session, viewers=args.viewers_per_seat,
        )  # fmt: skip
        print(f"seeded {len(plan.seats)} seats, {len(plan.sessions)} sessions in "
              f"{time.monotonic() - t0:.0f} s", flush=True)  # fmt: skip
        janus = ScaleJanus(root / "janus", ports=4 * args.publishers * (args.viewers_per_seat + 2))
        janus.start()
        env = {
            "EVALHUB_MEDIA_BACKEND": "janus",
            "EVALHUB_JANUS_URLS": janus.url,
            "EVALHUB_JANUS_API_SECRET": janus.api_secret,
            "EVALHUB_JANUS_ADMIN_KEY": janus.admin_key,
            "EVALHUB_RECORDINGS": "on" if args.record else "off",
            "EVALHUB_LOG_LEVEL": "warning",
        }
        hubs = [NamedHub(url, root, redis_url=redis.url, name=f"hub{n}", env=dict(env))
                for n in range(1, 4)]  # fmt: skip
        nginx = Nginx(root, [hub.port for hub in hubs])
        workers: list[Worker] = []
        try:
            load_or_create_private_key(root / "hub-key.pem")
            await asyncio.gather(*(hub.start() for hub in hubs))
            nginx.start()
            seats, viewers = await start_load(args, root, plan, nginx.port, janus, cycle)
            workers = seats + viewers
            named = {hub.name: hub.proc.pid for hub in hubs if hub.proc is not None}
            named["janus"] = janus.pid
            named |= {w.name: w.proc.pid for w in workers}
            named["bench"] = os.getpid()
            postmaster = (pg.datadir / "postmaster.pid").read_text().split()[0]
            trees = {"postgres": int(postmaster)}
            await asyncio.sleep(args.settle)
            windows = [await measured("media, links idle", args.duration, named, trees, viewers)]
            share = args.rate / len(seats)
            saving = asyncio.gather(*(w.ask(f"saves {share} {args.duration}") for w in seats))
            windows.append(await measured("media + saves", 0, named, trees, viewers, saving))
            for hub in hubs:
                assert hub.proc is not None and hub.proc.returncode is None, f"{hub.name} died"
            return windows
        finally:
            for worker in workers:
                await worker.stop()
            for hub in hubs:
                await hub.kill()
            nginx.stop()
            janus.stop()


async def start_load(
    args: argparse.Namespace, root: Path, plan: ScalePlan, port: int, janus: Any, cycle: Path
) -> tuple[list[Worker], list[Worker]]:
    """Seat workers (links, publishers), then viewer workers; back when every viewer counts
    frames."""
    n = args.seat_workers
    specs: list[dict[str, Any]] = [
        {"url": f"ws://127.0.0.1:{port}/ws/seat", "address": janus.address,
         "cycle": str(cycle), "seats": []}
        for _ in range(n)
    ]  # fmt: skip
    for i, seat in enumerate(plan.seats):
        specs[i % n]["seats"].append(
            (seat.seat_key, seat.ed25519.hex(), seat.x25519.hex(), i < args.publishers)
        )
    t0 = time.monotonic()
    seats = [await Worker.start(f"seats{i + 1}", "seat-worker", s, root)
             for i, s in enumerate(specs)]  # fmt: skip

    async def linked() -> bool:
        states = [await w.ask("status") for w in seats]
        failed = [f for s in states for f in s["failed"]]
        if failed:
            raise RuntimeError(f"seat links failed: {failed}")
        total = {k: sum(s[k] for s in states) for k in ("opened", "connected", "publishing",
                                                         "offers", "disconnects")}  # fmt: skip
        print(f"  {time.monotonic() - t0:5.0f} s: {total['connected']} of {total['opened']} "
              f"links connected, {total['publishing']} publishing ({total['offers']} media "
              f"offers made), {total['disconnects']} disconnects", flush=True)  # fmt: skip
        connected, publishing = total["connected"], total["publishing"]
        return connected == args.seat_links and publishing == args.publishers

    await wait_for("every seat link and publisher", linked, args.limit)
    print(f"links and publishers up in {time.monotonic() - t0:.0f} s", flush=True)
    jobs = [(s.session_id, sup, list(s.labels)) for s in plan.sessions for sup in s.supervisors]
    m = args.viewer_workers
    t0 = time.monotonic()
    viewers = [
        await Worker.start(f"viewers{i + 1}", "viewer-worker",
                           {"base": f"http://127.0.0.1:{port}", "address": janus.address,
                            "jobs": jobs[i::m]}, root)
        for i in range(m)
    ]  # fmt: skip
    expected = args.publishers * args.viewers_per_seat

    async def watching() -> bool:
        states = [await w.ask("status") for w in viewers]
        failed = [f for s in states for f in s["failed"]]
        if failed:
            raise RuntimeError(f"viewers failed: {failed[:3]}")
        receiving = sum(s["receiving"] for s in states)
        opened = sum(s["opened"] for s in states)
        print(f"  {time.monotonic() - t0:5.0f} s: {opened} viewers, {receiving} receiving",
              flush=True)  # fmt: skip
        return receiving == expected

    await wait_for("every viewer receiving", watching, args.limit)
    print(f"viewers up in {time.monotonic() - t0:.0f} s", flush=True)
    return seats, viewers


def bare_janus(args: argparse.Namespace) -> Window:
    """The baseline: ``bench/media.py``'s ``janus`` trial with the same publishers and viewers."""
    import bench.media

    trial_args = argparse.Namespace(
        seats=args.publishers, width=WIDTH, height=HEIGHT, fps=FPS, warmup=args.settle,
        seconds=args.duration, decode_viewers=0,
    )  # fmt: skip
    t = bench.media.trial("janus", trial_args, args.viewers_per_seat)
    return Window("bare Janus", args.duration, {"janus": t.cpu}, t.fps, None)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seat-links", type=int, default=1500)
    parser.add_argument("--publishers", type=int, default=300)
    parser.add_argument("--viewers-per-seat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per window")
    parser.add_argument("--rate", type=float, default=30.0, help="saves per second in total")
    parser.add_argument("--seats-per-session", type=int, default=10)
    parser.add_argument("--seat-workers", type=int, default=2)
    parser.add_argument("--viewer-workers", type=int, default=2)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--limit", type=float, default=900.0, help="seconds any start may take")
    parser.add_argument("--record", action="store_true", help="Janus records every seat")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep its logs")
    parser.add_argument("--seat-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--viewer-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seat_worker or args.viewer_worker:
        return worker(args)
    if args.publishers > args.seat_links:
        raise SystemExit("--publishers must not exceed --seat-links")
    command = shlex.join(["bench/scale.py", *sys.argv[1:]])
    header = f"{machine()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    print(f"{command}\n{header}\n", flush=True)
    bare: list[Window] = []
    windows: list[Window] = []
    failures: list[str] = []

    def baseline() -> None:
        if args.no_baseline:
            return
        try:
            bare.append(bare_janus(args))
            baseline_row(bare[-1])
        except Exception as exc:  # the hubs' run still goes ahead
            failures.append(f"bare Janus: {type(exc).__name__}: {exc}")
            print(failures[-1], flush=True)

    baseline()
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            windows = asyncio.run(hubs_run(args, args.keep))
        else:
            with TemporaryDirectory(prefix="bench-scale-") as d:
                windows = asyncio.run(hubs_run(args, Path(d)))
        for window in windows:
            window_rows(window)
    except Exception as exc:
        failures.append(f"hubs: {type(exc).__name__}: {exc}")
        print(failures[-1], flush=True)
    baseline()
    failure = "; ".join(failures) or None
    summary(args, command, header, bare, windows, failure)
    return 1 if failure else 0


def worker(args: argparse.Namespace) -> int:
    """A worker process's body (``--seat-worker``/``--viewer-worker`` SPEC)."""
    import logging

    import structlog

    from bench.scale_workers import seat_worker, viewer_worker

    # The seat links' info lines (one per connection) would drown everything else.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.seat_worker:
        spec = json.loads(args.seat_worker.read_text())
        spec["frames"] = json.loads(Path(spec["cycle"]).read_text())
        asyncio.run(seat_worker(spec))
    else:
        asyncio.run(viewer_worker(json.loads(args.viewer_worker.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
