"""Start a throw-away PostgreSQL server from Debian's package on 127.0.0.1 for the tests.

initdb and postgres refuse to run as root, so when the tests run as root (CI does) the cluster
is owned by, and the server runs as, the ``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

__all__ = ["PostgresServer", "free_port", "postgres_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Where ``free_ports`` looks: below Linux's ephemeral range (32768-60999), from which the kernel
#: hands out every other test's ``free_port()`` and every outgoing connection's local port.
_BLOCKS = range(20000, 32000)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive loopback ports that are all free now (a server that
    derives its neighbours' ports from its own, as the demo's seat pages do). Taken below the
    ephemeral range: a block there is not handed out meanwhile to another test's ``free_port``
    or to an outgoing connection, which made the demo's page ports collide under load."""
    for _ in range(200):
        base = random.randrange(_BLOCKS.start, _BLOCKS.stop - count)
        if all(_bindable(base + n) for n in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports in {_BLOCKS}")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise RuntimeError(
            "PostgreSQL is not installed; run `make system-deps` (Debian: postgresql)"
        )
    return Path(candidates[-1]).parent


def _memory_dir() -> str | None:
    """/dev/shm when there is one: the suite creates and drops thousands of databases of ~500
    files each, and unlinking them on a disk mounted with ``discard`` (as here) costs ~1.6 ms a
    file; the server runs with fsync off anyway. None (the usual temp dir) elsewhere."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@dataclass
class PostgresServer:
    datadir: Path
    port: int
    user: str
    bindir: Path
    run_as: str | None
    #: the server's options and log file, for :meth:`start` after :meth:`stop`
    opts: str = ""
    logfile: Path | None = None

    def _cmd(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{name}"

    def psql(self, sql: str, db: str = "postgres") -> str:
        out = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout

    async def drop_database(self, name: str) -> None:
        """Drop ``name`` (over a connection of its own: no psql process per test)."""
        conn = await asyncpg.connect(host="127.0.0.1", port=self.port, user=self.user)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database, empty or a copy of ``template`` (which nobody may be connected to)."""
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        copy = f' TEMPLATE "{template}"' if template else ""
        self.psql(f'CREATE DATABASE "{name}"{copy}')
        return self.database_url(name)

    def start(self) -> None:
        """Start the server (again, after :meth:`stop`) on the same port and data."""
        assert self.logfile is not None
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                self.opts,
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; ``mode="fast"`` as an operator's restart does (the commits the
        server acknowledged survive: the tests' server runs with synchronous_commit off, which
        an ``immediate`` stop may lose)."""
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                mode,
                "-w",
                "stop",
            ),
            check=False,
            capture_output=True,
        )


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _bindir()
    run_as = None
    if os.geteuid() == 0:
        run_as = "postgres"
        pwd.getpwnam(run_as)  # Debian's package creates it; fail loudly if missing
    root = Path(tempfile.mkdtemp(prefix="evalhub-pg-", dir=_memory_dir()))
    datadir = root / "data"
    sockdir = root / "sock"
    sockdir.mkdir()
    if run_as:
        shutil.chown(root, run_as)
        shutil.chown(sockdir, run_as)
    server = PostgresServer(datadir, free_port(), "postgres", bindir, run_as)
    subprocess.run(
        server._cmd(
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ),
        check=True,
        capture_output=True,
    )
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={sockdir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    server.opts = opts
    server.logfile = root / "postgres.log"
    if run_as:
        shutil.chown(root, run_as)
    server.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.psql("SELECT 1")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
