"""``seat-agent run --page-port`` serves the expert's page on 127.0.0.1, also while the hub
cannot be reached (the page says so), and a busy port does not stop the agent. It prints the
address to open with this start's key in the fragment, and the key nowhere else; a launcher may
hand the key over in the environment instead; a non-loopback address or a weak key stops it
before it starts."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from seat_agent.keys import init_state_dir
from seat_agent.page.guard import PAGE_KEY_ENV, new_page_key
from tests.seat_agent.test_page_flow import key_of, page_headers
from tests.support.postgres_server import free_port

PRINTED = re.compile(r"专家页面（请在本机浏览器中打开，仅本次启动有效）：(http://\S+)")


async def _start(
    state_dir: Path, port: int, log: Path, *extra: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
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
            *extra,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )


def _seat(tmp_path: Path) -> Path:
    state = tmp_path / "seat"
    init_state_dir(
        state, seat_id="QJ.QJ-01", hub_url=f"ws://127.0.0.1:{free_port()}/ws/seat", hub_id="h"
    )
    return state


async def _page_up(http: aiohttp.ClientSession, base: str) -> bool:
    for _ in range(600):
        try:
            async with http.get(f"{base}/") as resp:
                if resp.status == 200:
                    return True
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    return False


async def _stop(proc: asyncio.subprocess.Process) -> int:
    proc.terminate()
    return await asyncio.wait_for(proc.wait(), 30)


async def test_run_serves_the_page_even_without_the_hub(tmp_path: Path) -> None:
    state = _seat(tmp_path)  # nothing listens at the hub's address
    port = free_port()
    log = tmp_path / "agent.log"
    proc = await _start(state, port, log)
    try:
        for _ in range(600):
            printed = PRINTED.search(log.read_text())
            if printed:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(log.read_text())
        url = printed[1]
        assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/#k=[A-Za-z0-9_-]{{43}}", url), url
        key = key_of(url)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            assert await _page_up(http, base), log.read_text()
            async with http.get(f"{base}/") as resp:
                html = await resp.text()
                assert resp.status == 200 and "专家签到" in html
                assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
            async with http.get(f"{base}/api/state") as resp:
                assert resp.status == 401
                assert (await resp.json(content_type=None))["detail"] == (
                    "本页面没有评标终端的访问密钥：请打开评标终端启动时显示的完整地址"
                    f"（http://127.0.0.1:{port}/#k=…）"
                )
            async with http.get(f"{base}/api/state", headers=page_headers(key)) as resp:
                state_json = await resp.json()
            assert (state_json["seat"], state_json["online"]) == ("QJ.QJ-01", False)
            async with http.post(
                f"{base}/api/checkin",
                json={"session_id": "1", "expert_code": "E06", "pin": "123456"},
                headers=page_headers(key),
            ) as resp:
                assert resp.status == 422
                assert (await resp.json(content_type=None))["detail"] == (
                    "评标终端尚未连接主场，请稍候再试"
                )
    finally:
        assert await _stop(proc) == 0
    text = log.read_text()
    # Printed once for the person at the terminal; in no log line.
    assert text.count(key) == 1, text
    assert re.search(rf"seat\.page_serving +url={base}/\n", text), text
    assert "seat.agent_stopped" in text


async def test_a_key_handed_over_by_a_launcher_is_used_and_not_printed(tmp_path: Path) -> None:
    state = _seat(tmp_path)
    port, key = free_port(), new_page_key()
    log = tmp_path / "agent.log"
    proc = await _start(state, port, log, env={PAGE_KEY_ENV: key})
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            assert await _page_up(http, base), log.read_text()
            async with http.get(f"{base}/api/state", headers=page_headers(key)) as resp:
                assert resp.status == 200
            async with http.get(f"{base}/api/state", headers=page_headers(new_page_key())) as resp:
                assert resp.status == 401
    finally:
        assert await _stop(proc) == 0
    text = log.read_text()
    assert key not in text and "专家页面（" not in text, text


async def _refused(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    log = tmp_path / "agent.log"
    proc = await _start(_seat(tmp_path), free_port(), log, *extra, env=env)
    assert await asyncio.wait_for(proc.wait(), 60) == 1
    return log.read_text()


async def test_the_page_is_served_on_loopback_only(tmp_path: Path) -> None:
    text = await _refused(tmp_path, "--page-host", "0.0.0.0")
    assert text == (
        "seat-agent: 专家页面只能在本机回环地址上提供（127.0.0.1 或 ::1），拒绝在「0.0.0.0」上"
        "提供：否则网络中的其他计算机也能访问评审材料\n"
    )


async def test_a_weak_handed_over_key_is_refused(tmp_path: Path) -> None:
    text = await _refused(tmp_path, env={PAGE_KEY_ENV: "short"})
    assert text == (
        "seat-agent: SEAT_AGENT_PAGE_KEY 须为 22–128 个字符的 URL 安全 Base64 随机串"
        "（至少 128 位）\n"
    )


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
