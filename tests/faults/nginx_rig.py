"""Several ``evaluation-hub serve`` processes behind Debian's nginx (round-robin, websockets
passed through), on PostgreSQL and Redis, all on loopback, running the scripted evaluation of
``tests.faults.harness`` with every request and every seat link going through the proxy: the
rig of ``test_three_hubs`` and ``test_wall_reopens``.

The proxy's configuration is the compose stack's (``docker/nginx/nginx.conf``) with the
addresses, files and TLS of this loopback run substituted, so what is tested is what deploys.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from evaluation_hub.audit.keys import load_or_create_private_key
from tests.faults.harness import Evaluation, HubServe, prepared_database
from tests.support.postgres_server import PostgresServer, free_port
from tests.support.redis_server import RedisServer

__all__ = ["HUBS", "NGINX", "PUBLISHER", "NamedHub", "Nginx", "holder", "hubs_behind_nginx"]

ROOT = Path(__file__).resolve().parents[2]
NGINX = Path("/usr/sbin/nginx")
HUBS = 3
#: the expert whose seat also publishes the test pattern (watched from other processes)
PUBLISHER = "E01"


def loopback_conf(root: Path, listen: int, ports: list[int]) -> str:
    """The compose stack's nginx configuration for this run: plain HTTP on ``listen``, the
    hubs on ``ports`` (the stack's hubs beyond their number left out), every file under
    ``root``."""
    text = (ROOT / "docker" / "nginx" / "nginx.conf").read_text()
    text = text.replace("worker_processes auto;", "worker_processes 1;")
    text = text.replace("pid /tmp/nginx.pid;", f"pid {root}/nginx.pid;")
    text = text.replace("error_log /dev/stderr warn;", f"error_log {root}/nginx-error.log warn;")
    text = text.replace("access_log /dev/stdout;", f"access_log {root}/nginx-access.log;")
    text = re.sub(r"/tmp/(\w+_temp)", lambda m: f"{root}/{m.group(1)}", text)
    text = re.sub(
        r"\n *server hub(\d):8440[^\n]*",
        lambda m: "" if int(m.group(1)) > len(ports) else m.group(0),
        text,
    )
    text = re.sub(
        r"server hub(\d):8440", lambda m: f"server 127.0.0.1:{ports[int(m.group(1)) - 1]}", text
    )
    # The redirecting HTTP server goes; the HTTPS one listens in plain HTTP on loopback.
    start = text.index("    server {\n        listen 8080;")
    end = text.index("\n    }\n", start) + len("\n    }\n")
    text = text[:start] + text[end:]
    text = text.replace("listen 8443 ssl;", f"listen 127.0.0.1:{listen};")
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("ssl_"))
    for hub in range(1, HUBS + 1):
        assert f"hub{hub}:" not in text
    return text


@dataclass
class NamedHub(HubServe):
    """One of several hub processes sharing a state directory (and so the hub key)."""

    name: str = "hub"

    def out(self, n: int | None = None) -> Path:
        return self.state / f"{self.name}-{n or self.starts}.out"

    def err(self, n: int | None = None) -> Path:
        return self.state / f"{self.name}-{n or self.starts}.err"

    def last_connected(self, seat_key: str) -> str:
        """When ``seat_key`` last authenticated here (the log line's ISO time; "" if never)."""
        lines = [
            line
            for line in self.logs().splitlines()
            if "seat.connected" in line and seat_key in line
        ]
        return lines[-1].split(" ", 1)[0] if lines else ""

    def connected(self, seat_key: str) -> int:
        """How often ``seat_key`` authenticated to this process (from its log)."""
        return sum(
            1 for line in self.logs().splitlines() if "seat.connected" in line and seat_key in line
        )


class Nginx:
    def __init__(self, root: Path, ports: list[int]) -> None:
        self.root = root
        self.port = free_port()
        self.conf = root / "nginx.conf"
        self.conf.write_text(loopback_conf(root, self.port, ports))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [str(NGINX), "-p", str(self.root), "-c", str(self.conf)]
        checked = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        self.proc = subprocess.Popen([*args, "-g", "daemon off;"], stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.asynccontextmanager
async def hubs_behind_nginx(
    pg_server: PostgresServer,
    redis: RedisServer,
    tmp_path: Path,
    env: dict[str, str],
    count: int = HUBS,
    agents: Iterable[str] | None = None,
    publish: Iterable[str] = (PUBLISHER,),
    talkback: bool = False,
) -> AsyncIterator[tuple[Evaluation, list[NamedHub]]]:
    """``count`` ``evaluation-hub serve`` processes (settings ``env`` added) behind nginx on
    a fresh database of ``pg_server`` and ``redis``; the scripted evaluation prepared through
    the proxy (every seat agent running, or those of the experts in ``agents``; those of
    ``publish``, :data:`PUBLISHER` unless told, publishing the test pattern; with ``talkback``
    every seat agent receiving push-to-talk audio into its ``Seat.talkback_wav``)."""
    url = pg_server.create_database(f"three_{os.getpid()}_{tmp_path.name}"[:60])
    ids = await prepared_database(url)
    hubs = [
        NamedHub(
            url,
            tmp_path,
            redis_url=redis.url,
            name=f"hub{n}",
            env=dict(env),
        )
        for n in range(1, count + 1)
    ]
    nginx = Nginx(tmp_path, [hub.port for hub in hubs])
    # The address every client uses: the proxy (never started as a hub itself).
    front = HubServe(url, tmp_path, port=nginx.port)
    run = Evaluation(front, ids, tmp_path, publish=publish, talkback=talkback)
    try:
        # The hub key they share, made first; then they start side by side.
        load_or_create_private_key(tmp_path / "hub-key.pem")
        await asyncio.gather(*(hub.start() for hub in hubs))
        nginx.start()
        await run.prepare(agents)
        yield run, hubs
    finally:
        await run.close()
        for hub in hubs:
            await hub.kill()
        nginx.stop()


def holder(hubs: list[NamedHub], seat_key: str) -> NamedHub:
    """The process the seat's latest link went to (each process counts its own)."""
    latest = {hub.name: hub.last_connected(seat_key) for hub in hubs}
    return next(hub for hub in hubs if latest[hub.name] == max(latest.values()))
