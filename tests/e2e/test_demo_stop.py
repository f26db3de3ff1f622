"""Ctrl-C ends the demo cleanly: SIGINT to the ``evaluation-hub demo`` process (the seats'
scripts saving, the driver at work) and it exits 0 with no traceback anywhere in its output,
says so, has told every seat agent to stop (each logs ``seat.agent_stopped``, keeps its outbox
and leaves no process behind), and has closed its database (SQLite folds the write-ahead log
back into the file and removes it when the last connection closes)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from evaluation_hub.demo import DEMO_SEATS
from tests.e2e.conftest import until
from tests.e2e.demo_process import running_demo


async def test_ctrl_c_stops_the_demo_its_seats_and_its_database_cleanly(tmp_path: Path) -> None:
    async with running_demo(tmp_path, "--script") as demo:
        await demo.logged("] demo.evaluation_started")
        seats = demo.state / "seats"

        async def saving() -> bool:
            return any(
                "seat.script_saved" in (seats / f"{seat_id}.log").read_text()
                for seat_id in DEMO_SEATS
            )

        await until(saving, "a seat's script to save")  # scores in flight, the driver polling
        demo.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends (here to the demo alone)
        assert await asyncio.wait_for(demo.proc.wait(), 120) == 0
        with pytest.raises(ProcessLookupError):
            os.killpg(demo.proc.pid, 0)  # nothing left of the demo's process group

    text = demo.text()
    assert "Traceback" not in text, text
    assert "[演示] 工位终端已停止；尚未送达的评分保存在各工位的评分暂存中" in text
    assert text.rstrip().endswith("[演示] 演示已停止，数据库已关闭")
    for seat_id in DEMO_SEATS:
        log = (seats / f"{seat_id}.log").read_text()
        assert "seat.agent_stopped" in log, log
        assert "Traceback" not in log, log
        assert (seats / seat_id / "outbox.db").exists()
    assert (demo.state / "hub.db").exists()
    assert not (demo.state / "hub.db-wal").exists()
