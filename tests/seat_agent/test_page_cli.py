"""``seat-agent run --page-port`` serves the expert's page on 127.0.0.1, also while the hub
cannot be reached (the page says so), and a busy port does not stop the agent."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from seat_agent.keys import init_state_dir
from tests.support.postgres_server import free_port


async def _start(state_dir: Path, port: int, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "seat_agent.cli",
            "run",
            "--state-dir",
            str(state_dir),
            "--page-port",
            str(port),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


async def _stop(proc: asyncio.subprocess.Process) -> int:
    proc.terminate()
    return await asyncio.wait_for(proc.wait(), 30)


async def test_run_serves_the_page_even_without_the_hub(tmp_path: Path) -> None:
    unreachable = free_port()  # nothing listens there
    state = tmp_path / "seat"
    init_state_dir(
        state, seat_id="QJ.QJ-01", hub_url=f"ws://127.0.0.1:{unreachable}/ws/seat", hub_id="h"
    )
    port = free_port()
    proc = await _start(state, port, tmp_path / "agent.log")
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/") as resp:
                        html = await resp.text()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError((tmp_path / "agent.log").read_text())
            assert resp.status == 200 and "专家签到" in html
            async with http.get(f"http://127.0.0.1:{port}/api/state") as resp:
                state_json = await resp.json()
            assert (state_json["seat"], state_json["online"]) == ("QJ.QJ-01", False)
            async with http.post(
                f"http://127.0.0.1:{port}/api/checkin",
                json={"session_id": "1", "expert_code": "E06", "pin": "123456"},
            ) as resp:
                assert resp.status == 422
                assert (await resp.json(content_type=None))["detail"] == (
                    "评标终端尚未连接主场，请稍候再试"
                )
    finally:
        assert await _stop(proc) == 0


async def test_a_busy_page_port_is_logged_and_the_agent_runs_on(tmp_path: Path) -> None:
    state = tmp_path / "seat"
    init_state_dir(
        state, seat_id="QJ.QJ-01", hub_url=f"ws://127.0.0.1:{free_port()}/ws/seat", hub_id="h"
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        log = tmp_path / "agent.log"
        proc = await _start(state, port, log)
        try:
            for _ in range(600):
                if "seat.page_unavailable" in log.read_text():
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(log.read_text())
            assert proc.returncode is None  # still running, still delivering scores
        finally:
            assert await _stop(proc) == 0
