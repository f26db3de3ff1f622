"""Start a throw-away ``redis-server`` (Debian's package) on 127.0.0.1 for the tests.

No persistence (``save ""``, no AOF), a private temp dir, a free port; :meth:`RedisServer.restart`
stops and starts it on the same port so tests can check that clients survive a restart.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.processes import stop_process

__all__ = ["REDIS_SERVER", "RedisServer", "free_port", "redis_server"]

REDIS_SERVER = Path("/usr/bin/redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process; ``url`` stays valid across :meth:`restart`."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        if not REDIS_SERVER.exists():
            raise RuntimeError(
                f"{REDIS_SERVER} is missing; run `make system-deps` (Debian: redis-server)"
            )
        self.directory = directory
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log = directory / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 10.0) -> None:
        if self.running:
            return
        args = [
            str(REDIS_SERVER),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(self._log),
        ]  # fmt: skip
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while not _ping(self.port):
            if self._process.poll() is not None:
                log = self._log.read_text(errors="replace") if self._log.exists() else ""
                raise RuntimeError(f"redis-server exited on start-up:\n{log[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING within {timeout_s} s")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_process(process)

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A started server in a temp dir, stopped and removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="evalhub-redis-"))
    server = RedisServer(directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
