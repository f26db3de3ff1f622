"""``evaluation-hub demo`` as a real process for the demo's end-to-end tests: started in its own
process group (so teardown can kill it and the seat agents it started), its output in a file,
on a free port; with helpers to read what it printed and to sign in at its hub."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from evaluation_hub.demo.data import DEMO_SEATS
from tests.e2e.conftest import api, until
from tests.support.postgres_server import free_ports

__all__ = ["DemoProcess", "Printed", "running_demo"]


@dataclass
class Printed:
    """What the demo printed for the person playing an expert."""

    page: str
    session: str
    pin: str


@dataclass
class DemoProcess:
    proc: asyncio.subprocess.Process
    port: int
    out: Path
    state: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.out.read_text()

    async def printed(self, expert: str) -> Printed:
        """The page address, session and one-time PIN printed for ``expert``."""
        found: list[Printed] = []

        async def shown() -> bool:
            assert self.proc.returncode is None, self.text()
            text = self.text()
            page = re.search(r"打开专家页面：(http://\S+)", text)
            pin = re.search(rf"评标会编号 (\d+)，专家编号 {expert}，签到码 (\d{{6}})", text)
            if page and pin:
                found.append(Printed(page[1], pin[1], pin[2]))
            return bool(found)

        await until(shown, "the demo to print the page, the session and the PIN")
        return found[0]

    async def logged(self, line: str) -> None:
        """Wait until the demo's output holds ``line``."""

        async def seen() -> bool:
            assert self.proc.returncode is None, self.text()
            return line in self.text()

        await until(seen, f"the demo to print {line!r}")

    async def sign_in(self, http: aiohttp.ClientSession, user: str) -> dict[str, str]:
        body = await api(
            http, "POST", f"{self.base}/api/auth/token",
            body={"username": user, "password": "demo-2026"},
        )  # fmt: skip
        return {"Authorization": f"Bearer {body['token']}"}


@contextlib.asynccontextmanager
async def running_demo(tmp_path: Path, *options: str) -> AsyncIterator[DemoProcess]:
    """``evaluation-hub demo --reset OPTIONS`` until the block ends (then SIGKILL, if still
    running, to it and its process group)."""
    port = free_ports(1 + len(DEMO_SEATS))  # the hub's, then each seat page's (``page_ports``)
    out = tmp_path / "demo.out"
    state = tmp_path / "demo"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "EVALHUB_SEALING_KEY_FILE": str(tmp_path / "sealing.key"),
        "EVALHUB_HUB_KEY_FILE": str(tmp_path / "hub-key.pem"),
        # On the wall clock: the evening cut-off must not pause the run (fake-clock tests do).
        "EVALHUB_SESSION_TIMERS": "off",
    }
    with out.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "evaluation_hub.cli", "demo", "--state-dir", str(state),
            "--port", str(port), "--reset", *options,
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        yield DemoProcess(proc, port, out, state)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the seat agents it started, if any are left
