"""A scripted expert for ``seat-agent run --script FILE``: the integrity commitment and the score
saves this seat's expert makes, in order, for tests and the demo.

The script is YAML (or JSON, which YAML reads too)::

    session: "12"                     # the session every save belongs to (a step may override)
    commitment: confirm               # confirm the integrity commitment (承诺) before any step
    steps:
      - wait_for: started             # wait until this file exists (relative to the script)
      - sheet: {part: ch1, entries: [{subject: AB, item: "1.1", points: "8", comment: …}, …]}
      - pause: 0.5                    # seconds before the next step
        sheet: {part: ch2, entries: […]}
      - sheet: {part: commercial, entries: […]}

``commitment: confirm`` is what the expert does at check-in before scoring (the hub starts the
evaluation only once the confirmed members form a lawful committee): as soon as the link is up
the script sends the seat's ``commitment`` message (decision ``confirmed``) for ``session`` and
plays no step before the hub's ``request_result``. The message is sent again after a
reconnection that may have lost it and after a transient failure at the hub (``failed``). A
repeat is harmless: the hub records nothing and answers ``already-confirmed`` (or
``not-forming`` once the evaluation has started), and the script goes on; any other refusal
stops it before its first step (logged as ``seat.script_stopped``). Saves are refused until the
evaluation has started, so a script usually first waits (``wait_for``) for a file that whoever
starts the evaluation creates.

Each save goes through the agent's ``ScoreDelivery`` (outbox first, then the link). Its
idempotency key is derived from the seat, the script's content and the step's index, so a
process killed at any moment and started again with the same script cannot count a save twice:
a step found still waiting in the outbox is skipped, and one the hub already committed is
acknowledged again as a replay. ``script-progress.json`` in the state directory records whether
the commitment was answered and how many steps are done, so a restart neither confirms again
nor repeats the pauses (a process killed between the hub's answer and that record confirms
again, which the hub answers as a repeat).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
import yaml

from seat_agent.errors import SeatAgentError
from seat_agent.outbox import ScoreDelivery
from seat_protocol.events import Connected, Event, MessageReceived
from seat_protocol.messages import AppMessage, CommitmentDecision, RequestResult

__all__ = [
    "COMMITMENT_REPEATS",
    "PROGRESS_FILE",
    "KeyPlan",
    "ScoreScript",
    "ScriptCommitment",
    "ScriptStep",
    "load_script",
]

log = structlog.get_logger(__name__)

PROGRESS_FILE = "script-progress.json"
# The hub's refusals of a commitment that only say it came again: the script goes on.
COMMITMENT_REPEATS = frozenset({"already-confirmed", "not-forming"})
# The hub's answer when it could not handle a request for now: send it again later.
_TRANSIENT = "failed"


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
    if not set(data) <= {"session", "commitment", "steps"}:
        raise _bad(path, "顶层只能有 session、commitment、steps")
    default_session = data.get("session")
    commitment = data.get("commitment")
    if commitment is not None and commitment != "confirm":
        raise _bad(path, "commitment 只能是 confirm（确认评标纪律承诺）")
    if commitment is not None and not isinstance(default_session, str | int):
        raise _bad(path, "有 commitment 时须指明评标会（session）")
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
    confirm_in = None if commitment is None else str(default_session)
    return ScoreScript(tuple(steps), digest, confirm_in=confirm_in)


class ScriptCommitment:
    """The script's integrity commitment over the agent's link (add ``on_event`` as a handler
    of the agent before it runs). ``confirm`` sends the ``commitment`` message once the link
    is up (never before the first handshake: the channel's numbering must be lined up), sends
    it again after a reconnection that may have lost it (``lost_incoming``/``peer_lost``) or
    after a transient failure at the hub, and returns the hub's answer."""

    def __init__(
        self, send: Callable[[AppMessage], Awaitable[object]], *, retry_s: float = 1.0
    ) -> None:
        self._send = send
        self.retry_s = retry_s
        self._up = asyncio.Event()
        self._changed = asyncio.Event()
        self._answers: dict[str, RequestResult] = {}
        self._lost = False

    async def on_event(self, event: Event) -> None:
        if isinstance(event, Connected):
            self._up.set()
            if event.lost_incoming or event.peer_lost:
                self._lost = True
            self._changed.set()
        elif (
            isinstance(event, MessageReceived)
            and isinstance(event.message, RequestResult)
            and event.message.ref.startswith("commitment:")
        ):
            self._answers[event.message.ref] = event.message
            self._changed.set()

    async def confirm(self, session_id: str) -> RequestResult:
        ref = f"commitment:{session_id}"
        await self._up.wait()
        while True:
            self._answers.pop(ref, None)
            self._lost = False
            await self._send(
                CommitmentDecision(session_id=session_id, decision="confirmed", reason="")
            )
            while ref not in self._answers and not self._lost:
                self._changed.clear()
                await self._changed.wait()
            answer = self._answers.pop(ref, None)
            if answer is None:
                log.info("seat.script_commitment_resent", session_id=session_id)
            elif not answer.accepted and answer.code == _TRANSIENT:
                log.warning("seat.script_commitment_retry_later", session_id=session_id)
                await asyncio.sleep(self.retry_s)
            else:
                return answer


@dataclass(frozen=True)
class ScoreScript:
    steps: tuple[ScriptStep, ...]
    digest: str
    poll_s: float = 0.1
    #: the session whose integrity commitment the script confirms first (``commitment: confirm``)
    confirm_in: str | None = None

    def key(self, seat_id: str, index: int) -> str:
        """The idempotency key of step ``index``'s save (the same in every process)."""
        text = f"seat-script/v1|{seat_id}|{self.digest}|{index}"
        return "script-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def _progress(self, progress: Path) -> tuple[bool, int]:
        """(commitment answered, steps done) as recorded for this script."""
        try:
            data = json.loads(progress.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False, 0
        if not isinstance(data, dict) or data.get("script") != self.digest:
            return False, 0
        done = data.get("done")
        return data.get("committed") is True, done if isinstance(done, int) else 0

    def _record(self, progress: Path, committed: bool, done: int) -> None:
        tmp = progress.with_suffix(".tmp")
        data = {"script": self.digest, "committed": committed, "done": done}
        tmp.write_text(json.dumps(data), "utf-8")
        tmp.replace(progress)

    async def _confirm(self, seat_id: str, session_id: str, link: ScriptCommitment) -> None:
        answer = await link.confirm(session_id)
        if answer.accepted:
            log.info("seat.script_committed", seat_key=seat_id, session_id=session_id)
        elif answer.code in COMMITMENT_REPEATS:
            log.info(
                "seat.script_commitment_repeated",
                seat_key=seat_id,
                session_id=session_id,
                code=answer.code,
                message=answer.message,
            )
        else:
            raise SeatAgentError(
                f"评标会 {session_id} 的评标纪律承诺未被接受（{answer.code}）：{answer.message}"
            )

    async def play(
        self,
        seat_id: str,
        state_dir: Path,
        delivery: ScoreDelivery,
        keys: KeyPlan,
        commitment: ScriptCommitment | None = None,
    ) -> None:
        """Confirm the commitment if the script says so and it is not yet answered, then make
        every save not yet made, in order; return when the last one is in the outbox.
        ``SeatAgentError`` if the hub refuses the commitment (no step is played then)."""
        progress = state_dir / PROGRESS_FILE
        committed, done = self._progress(progress)
        log.info("seat.script_started", seat_key=seat_id, steps=len(self.steps), done=done)
        if self.confirm_in is not None and not committed:
            if commitment is None:
                raise SeatAgentError("评分脚本要求确认评标纪律承诺，但没有连接主场的链路")
            await self._confirm(seat_id, self.confirm_in, commitment)
            committed = True
            self._record(progress, committed, done)
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
            self._record(progress, committed, index + 1)
        log.info("seat.script_finished", seat_key=seat_id, steps=len(self.steps))
