"""``/api/health`` latency while a flood of wrong passwords hits sign-in.

For each scenario a fresh state directory and ONE real ``evaluation-hub serve`` process
(SQLite, recordings off) are started; a user ``km_operator`` is added with
``evaluation-hub user add``. This process asks ``GET /api/health`` at a steady HEALTH_RATE per
second for DURATION seconds and times each answer; in the flood scenarios a second process
(this file with ``--flood``) sends wrong-password sign-ins at a steady RATE per second at the
same time (at most 512 in flight; any beyond that would be counted as not sent):

* ``baseline``        no flood (the named baseline, measured in the same run);
* ``one address``     every attempt from 127.0.0.1 for ``km_operator``: the lockout engages;
* ``many addresses``  attempts from 250 loopback addresses (127.0.1.x) for made-up usernames, so
                      no per-address, per-user or pair limit is reached: every attempt asks for
                      a password check, and what bounds the work is the password-check pool;
* with ``--before SRC``: the same baseline and many-address flood against the hub code in SRC
  (e.g. ``git archive main | tar -x -C SRC``), run with this interpreter (``PYTHONPATH=SRC``).

Prints p50/p99/max of the health answers per scenario, the flood's answers by status, the
hub's CPU seconds, and the machine. Figures, not a pass/fail test:

    .venv/bin/python bench/signin_flood.py [--rate 100] [--duration 20] [--before /tmp/main-src]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.postgres_server import free_port

PASSWORD = "Right-password-2026"
HEALTH_RATE = 20.0
MAX_IN_FLIGHT = 512
ADDRESSES = [f"127.0.1.{n}" for n in range(1, 251)]


# --- the flood (its own process, so it never slows the health prober's event loop) -----------


async def flood(base: str, rate: float, duration: float, mode: str) -> dict[str, int]:
    counts: collections.Counter[str] = collections.Counter()
    sessions: dict[str, aiohttp.ClientSession] = {}
    in_flight = 0

    def session(address: str) -> aiohttp.ClientSession:
        if address not in sessions:
            connector = aiohttp.TCPConnector(local_addr=(address, 0), limit=0)
            sessions[address] = aiohttp.ClientSession(connector=connector)
        return sessions[address]

    async def attempt(n: int) -> None:
        nonlocal in_flight
        if mode == "one":
            address, username = "127.0.0.1", "km_operator"
        else:
            address, username = random.choice(ADDRESSES), f"guess{n:06d}"
        body = {"username": username, "password": f"wrong-{n}"}
        in_flight += 1
        try:
            async with session(address).post(
                f"{base}/api/auth/token", json=body, timeout=aiohttp.ClientTimeout(total=60)
            ) as resp:
                await resp.read()
                counts[str(resp.status)] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            counts[type(exc).__name__] += 1
        finally:
            in_flight -= 1

    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for n in range(int(rate * duration)):
        await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
        if in_flight >= MAX_IN_FLIGHT:
            counts["not sent"] += 1
            continue
        tasks.append(asyncio.create_task(attempt(n)))
    await asyncio.gather(*tasks)
    for s in sessions.values():
        await s.close()
    return dict(counts)


# --- the hub process ------------------------------------------------------------------------


def hub_env(source: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALHUB_")}
    env["EVALHUB_RECORDINGS"] = "off"
    env["EVALHUB_TOKEN_SECRET"] = "b" * 40
    if source is not None:
        env["PYTHONPATH"] = str(source)
    return env


def cli(source: Path | None, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evaluation_hub.cli", *args],
        env=hub_env(source),
        cwd=source or Path.cwd(),
        capture_output=True,
        text=True,
        check=True,
        **kwargs,
    )


@dataclass
class Hub:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def start_hub(state: Path, source: Path | None) -> Hub:
    database = f"sqlite+aiosqlite:///{state / 'hub.db'}"
    # Paths given explicitly: the code under --before may not know --state-dir.
    cli(source, "db", "upgrade", "--database-url", database)
    cli(
        source,
        "user",
        "add",
        "km_operator",
        "--role",
        "system_admin",
        "--password-file",
        "-",
        "--database-url",
        database,
        input=PASSWORD + "\n",
    )
    port = free_port()
    log = state / "hub.log"
    env = hub_env(source)
    env.update(
        EVALHUB_SEALING_KEY_FILE=str(state / "sealing.key"),
        EVALHUB_HUB_KEY_FILE=str(state / "hub-key.pem"),
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "evaluation_hub.cli",
                "serve",
                "--database-url",
                database,
                "--port",
                str(port),
            ],
            env=env,
            cwd=source or Path.cwd(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2):
                return Hub(process, base, log)
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.1)
    raise RuntimeError("the hub did not start")


# --- one scenario ---------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    code: str
    latencies: list[float]
    failures: int
    flood: dict[str, int] = field(default_factory=dict)
    cpu: float = 0.0

    def row(self, baseline: float | None) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        p50, p99 = statistics.median(ms), ms[max(0, int(len(ms) * 0.99) - 1)]
        ratio = "" if baseline is None else f"{p99 / baseline:7.1f}x"
        answered = ", ".join(f"{k}: {v}" for k, v in sorted(self.flood.items())) or "-"
        return (
            f"{self.code:7} {self.name:16} {len(ms):5} {p50:7.1f} {p99:7.1f} {ms[-1]:8.1f} "
            f"{ratio:>8} {self.cpu:6.1f}  {answered}"
        )

    def p99(self) -> float:
        ms = sorted(x * 1000 for x in self.latencies)
        return ms[max(0, int(len(ms) * 0.99) - 1)]


async def probe(base: str, duration: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    async with aiohttp.ClientSession() as http:

        async def one() -> None:
            nonlocal failures
            began = time.perf_counter()
            try:
                async with http.get(
                    f"{base}/api/health", timeout=aiohttp.ClientTimeout(total=30)
                ) as resp:
                    await resp.read()
                    if resp.status != 200:
                        failures += 1
                        return
            except (aiohttp.ClientError, TimeoutError):
                failures += 1
                return
            latencies.append(time.perf_counter() - began)

        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for n in range(int(HEALTH_RATE * duration)):
            await asyncio.sleep(max(0.0, start + n / HEALTH_RATE - loop.time()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies, failures


async def scenario(
    name: str, code: str, source: Path | None, mode: str | None, args: argparse.Namespace
) -> Result:
    with tempfile.TemporaryDirectory(prefix="signin-flood-") as tmp:
        hub = start_hub(Path(tmp), source)
        try:
            await probe(hub.base, 2.0)  # warm-up: connections, caches
            cpu_before = hub.cpu_seconds()
            flooder = None
            if mode is not None:
                flooder = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--flood",
                    mode,
                    "--base",
                    hub.base,
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(args.duration),
                    stdout=asyncio.subprocess.PIPE,
                )
            latencies, failures = await probe(hub.base, args.duration)
            counts: dict[str, int] = {}
            if flooder is not None:
                out, _ = await flooder.communicate()
                counts = json.loads(out)
            cpu = hub.cpu_seconds() - cpu_before
        finally:
            hub.stop()
    return Result(name, code, latencies, failures, counts, cpu)


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, "
        f"{platform.platform(terse=True)}, Python {platform.python_version()}; "
        f"load average at start {load}"
    )


async def main(args: argparse.Namespace) -> None:
    print(f"machine: {machine()}", flush=True)
    print(
        f"health: {HEALTH_RATE:g}/s for {args.duration:g} s per scenario; flood: "
        f"{args.rate:g} wrong passwords/s; one fresh hub process per scenario",
        flush=True,
    )
    plan: list[tuple[str, str, Path | None, str | None]] = [
        ("baseline", "this", None, None),
        ("one address", "this", None, "one"),
        ("many addresses", "this", None, "many"),
    ]
    if args.before is not None:
        plan += [
            ("baseline", "before", args.before, None),
            ("many addresses", "before", args.before, "many"),
        ]
    results = []
    for name, code, source, mode in plan:
        results.append(await scenario(name, code, source, mode, args))
        print(f"  done: {code} {name}", flush=True)
    print()
    print(
        "code    scenario          health    p50     p99      max  p99/base  cpu s  flood answers"
    )
    base_p99: dict[str, float] = {}
    for result in results:
        baseline = base_p99.get(result.code)
        print(result.row(baseline))
        if result.name == "baseline":
            base_p99[result.code] = result.p99()
        if result.failures:
            print(f"        ({result.failures} health requests failed)")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="wrong passwords per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    parser.add_argument("--before", type=Path, help="hub source to compare with (a tree of main)")
    parser.add_argument("--flood", choices=["one", "many"], help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.flood:
        answered = asyncio.run(
            flood(arguments.base, arguments.rate, arguments.duration, arguments.flood)
        )
        print(json.dumps(answered))
    else:
        asyncio.run(main(arguments))
