"""A scripted expert for ``seat-agent run --script FILE``: the score saves this seat's expert
makes, in order, for tests and the demo.

The script is YAML (or JSON, which YAML reads too)::

    session: "12"                     # the session every save belongs to (a step may override)
    steps:
      - sheet: {part: ch1, entries: [{subject: AB, item: "1.1", points: "8", comment: …}, …]}
      - pause: 0.5                    # seconds before the next step
        sheet: {part: ch2, entries: […]}
      - wait_for: go-ch3              # wait until this file exists (relative to the script)
      - sheet: {part: commercial, entries: […]}

Each save goes through the agent's ``ScoreDelivery`` (outbox first, then the link). Its
idempotency key is derived from the seat, the script's content and the step's index, so a
process killed at any moment and started again with the same script cannot count a save twice:
a step found still waiting in the outbox is skipped, and one the hub already committed is
acknowledged again as a replay. ``script-progress.json`` in the state directory records how
many steps are done so a restart does not repeat the pauses.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
import yaml

from seat_agent.errors import SeatAgentError
from seat_agent.outbox import ScoreDelivery

__all__ = ["PROGRESS_FILE", "KeyPlan", "ScoreScript", "ScriptStep", "load_script"]

log = structlog.get_logger(__name__)

PROGRESS_FILE = "script-progress.json"


class KeyPlan:
    """The outbox's key source: a planned key for the next save, else a fresh random one."""

    def __init__(self, fallback: Callable[[], str]) -> None:
        self._fallback = fallback
        self._next: str | None = None

    def plan(self, key: str) -> None:
        self._next = key

    def __call__(self) -> str:
        key, self._next = self._next, None
        return key if key is not None else self._fallback()


@dataclass(frozen=True)
class ScriptStep:
    session_id: str
    sheet: dict[str, Any] | None  # None: only a pause or a wait
    pause: float = 0.0
    wait_for: Path | None = None


def _bad(path: Path, what: str) -> SeatAgentError:
    return SeatAgentError(f"评分脚本 {path} 无效：{what}")


def load_script(path: Path) -> ScoreScript:
    """Read and check a script file; ``SeatAgentError`` (in Chinese) says what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeatAgentError(f"无法读取评分脚本 {path}：{exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _bad(path, f"不是有效的 YAML/JSON（{exc}）") from exc
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise _bad(path, "须是含 steps 列表的映射")
    default_session = data.get("session")
    steps: list[ScriptStep] = []
    for n, raw in enumerate(data["steps"], start=1):
        if not isinstance(raw, dict) or not set(raw) <= {"session", "sheet", "pause", "wait_for"}:
            raise _bad(path, f"第 {n} 步须是只含 session、sheet、pause、wait_for 的映射")
        session = raw.get("session", default_session)
        sheet = raw.get("sheet")
        pause = raw.get("pause", 0)
        wait_for = raw.get("wait_for")
        if sheet is not None and not isinstance(sheet, dict):
            raise _bad(path, f"第 {n} 步的 sheet 须是映射")
        if sheet is not None and not isinstance(session, str | int):
            raise _bad(path, f"第 {n} 步未指明评标会（session）")
        if isinstance(pause, bool) or not isinstance(pause, int | float) or pause < 0:
            raise _bad(path, f"第 {n} 步的 pause 须是不小于 0 的秒数")
        if wait_for is not None and not isinstance(wait_for, str):
            raise _bad(path, f"第 {n} 步的 wait_for 须是文件路径")
        steps.append(
            ScriptStep(
                session_id=str(session),
                sheet=sheet,
                pause=float(pause),
                wait_for=None if wait_for is None else path.parent / wait_for,
            )
        )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return ScoreScript(tuple(steps), digest)


@dataclass(frozen=True)
class ScoreScript:
    steps: tuple[ScriptStep, ...]
    digest: str
    poll_s: float = 0.1

    def key(self, seat_id: str, index: int) -> str:
        """The idempotency key of step ``index``'s save (the same in every process)."""
        text = f"seat-script/v1|{seat_id}|{self.digest}|{index}"
        return "script-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def _done(self, progress: Path) -> int:
        try:
            data = json.loads(progress.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0
        if not isinstance(data, dict) or data.get("script") != self.digest:
            return 0
        done = data.get("done")
        return done if isinstance(done, int) else 0

    async def play(
        self, seat_id: str, state_dir: Path, delivery: ScoreDelivery, keys: KeyPlan
    ) -> None:
        """Make every save not yet made, in order; return when the last one is in the outbox."""
        progress = state_dir / PROGRESS_FILE
        done = self._done(progress)
        log.info("seat.script_started", seat_key=seat_id, steps=len(self.steps), done=done)
        for index in range(done, len(self.steps)):
            step = self.steps[index]
            if step.pause:
                await asyncio.sleep(step.pause)
            if step.wait_for is not None:
                log.info("seat.script_waiting", seat_key=seat_id, file=str(step.wait_for))
                # A file another process creates: there is no event to wait on, so poll.
                while not step.wait_for.exists():  # noqa: ASYNC110
                    await asyncio.sleep(self.poll_s)
            if step.sheet is not None:
                key = self.key(seat_id, index)
                keys.plan(key)
                try:
                    await delivery.submit(step.session_id, step.sheet)
                except sqlite3.IntegrityError:
                    # Saved by an earlier process that died before recording its progress.
                    log.info("seat.script_save_already_pending", idempotency_key=key)
                else:
                    log.info(
                        "seat.script_saved",
                        seat_key=seat_id,
                        step=index + 1,
                        part=step.sheet.get("part"),
                        idempotency_key=key,
                    )
            tmp = progress.with_suffix(".tmp")
            tmp.write_text(json.dumps({"script": self.digest, "done": index + 1}), "utf-8")
            tmp.replace(progress)
        log.info("seat.script_finished", seat_key=seat_id, steps=len(self.steps))
