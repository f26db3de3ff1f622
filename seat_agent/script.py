"""A scripted expert for ``seat-agent run --script FILE``: the integrity commitment, the score
saves and the report signature this seat's expert makes, in order, for tests and the demo.

The script is YAML (or JSON, which YAML reads too)::

    session: "12"                     # the session every save belongs to (a step may override)
    commitment: confirm               # confirm the integrity commitment (承诺) before any step
    sign: agree                       # sign the report once the hub sends it (after the steps)
    review: {keep_reason: "…"}        # answer the deviation review (seat_agent.script_reviews)
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

``sign: agree`` (or ``sign: {decision: disagree, reason: "…"}``; ``{decision: agree, reason:
"…"}`` too) signs the evaluation report after the last step, as the expert does on the page by
clicking 签署: once the hub sends ``report_for_signature`` for ``session`` (after the reveal; a
report that came earlier is kept), the script sends ``report_signature`` made with the seat's
own Ed25519 key over the same document (``seat_agent.page.desk.report_signature``), for the
expert the report names (the one seated here, as for the saves). It is sent again after a
reconnection that may have lost it and after a ``failed`` answer. A repeat is harmless: the hub
records nothing and answers ``already-signed`` (or ``not-signing`` once every member signed and
the session left ``revealed``), and the script counts it as signed; any other refusal stops the
script (``seat.script_stopped``). ``script-progress.json`` records the signature too, so a
restarted agent does not wait for a report again (one killed between the hub's answer and that
record signs again when the hub sends the report again, which the hub answers as a repeat).

``review: {keep_reason: "…"}`` answers every ``review_request`` of the script's sessions as the
expert would (``seat_agent.script_reviews``): a deviation that may be explained is kept with
``keep_reason``; a request that must be re-scored (an objective item the members scored
differently, a wrong total, a score out of range) is answered ``revise`` after saving the part
again, the item set to the value the committee settles on. Without ``review`` the script leaves
review requests to a person.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import structlog
import yaml

from seat_agent.errors import SeatAgentError
from seat_agent.keys import SeatIdentity
from seat_agent.outbox import ScoreDelivery
from seat_agent.page.desk import report_signature
from seat_protocol.events import Connected, Event, MessageReceived
from seat_protocol.messages import (
    AppMessage,
    CommitmentDecision,
    ReportForSignature,
    RequestResult,
)

__all__ = [
    "COMMITMENT_REPEATS",
    "PROGRESS_FILE",
    "SIGNATURE_REPEATS",
    "KeyPlan",
    "ReviewPlan",
    "ScoreScript",
    "ScriptCommitment",
    "ScriptSignature",
    "ScriptStep",
    "SignPlan",
    "load_script",
]

log = structlog.get_logger(__name__)

PROGRESS_FILE = "script-progress.json"
# The hub's refusals of a commitment that only say it came again: the script goes on.
COMMITMENT_REPEATS = frozenset({"already-confirmed", "not-forming"})
# The hub's refusals of a report signature that only say it came again (``not-signing``: the
# report came, so the session was ``revealed``; it leaves that state only once all signed).
SIGNATURE_REPEATS = frozenset({"already-signed", "not-signing"})
# The hub's answer when it could not handle a request for now: send it again later.
_TRANSIENT = "failed"


class KeyPlan:
    """The outbox's key source: a planned key for the next save, else a fresh random one.
    Whoever plans a key holds ``lock`` until its save is in the outbox (the steps and the
    review answers both save)."""

    def __init__(self, fallback: Callable[[], str]) -> None:
        self._fallback = fallback
        self._next: str | None = None
        self.lock = asyncio.Lock()

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


@dataclass(frozen=True)
class ReviewPlan:
    """The script's ``review``: answer review requests; keep an explainable deviation with
    ``keep_reason`` (书面说明), re-score whatever must be re-scored."""

    keep_reason: str


@dataclass(frozen=True)
class SignPlan:
    """The script's ``sign``: the decision on the report of ``session_id`` and its reasons."""

    session_id: str
    decision: str  # agree, disagree
    reason: str = ""


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
    if not set(data) <= {"session", "commitment", "sign", "review", "steps"}:
        raise _bad(path, "顶层只能有 session、commitment、sign、review、steps")
    default_session = data.get("session")
    commitment = data.get("commitment")
    if commitment is not None and commitment != "confirm":
        raise _bad(path, "commitment 只能是 confirm（确认评标纪律承诺）")
    if commitment is not None and not isinstance(default_session, str | int):
        raise _bad(path, "有 commitment 时须指明评标会（session）")
    signing = _sign_plan(path, data.get("sign"), default_session)
    reviewing = _review_plan(path, data.get("review"))
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
    return ScoreScript(
        tuple(steps), digest, confirm_in=confirm_in, signing=signing, reviewing=reviewing
    )


def _review_plan(path: Path, raw: object) -> ReviewPlan | None:
    if raw is None:
        return None
    reason = raw.get("keep_reason") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or set(raw) != {"keep_reason"} or not isinstance(reason, str):
        raise _bad(path, "review 须是只含 keep_reason（保留原评分时的书面理由）的映射")
    if not reason.strip():
        raise _bad(path, "review 的 keep_reason 不能为空：保留原评分须书面说明理由")
    return ReviewPlan(reason.strip())


def _sign_plan(path: Path, raw: object, session: object) -> SignPlan | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"decision": raw}
    if (
        not isinstance(raw, dict)
        or not set(raw) <= {"decision", "reason"}
        or raw.get("decision") not in ("agree", "disagree")
        or not isinstance(raw.get("reason", ""), str)
    ):
        raise _bad(path, "sign 只能是 agree，或含 decision（agree 或 disagree）和 reason 的映射")
    reason = raw.get("reason", "").strip()
    if raw["decision"] == "disagree" and not reason:
        raise _bad(path, "sign 为 disagree 时须书面说明不同意见和理由（reason）")
    if not isinstance(session, str | int):
        raise _bad(path, "有 sign 时须指明评标会（session）")
    return SignPlan(str(session), raw["decision"], reason)


class _ScriptRequests:
    """Requests the script sends over the agent's link, each answered by a ``request_result``
    whose ref starts with ``prefix`` (add ``on_event`` as a handler of the agent before it
    runs). A request is sent once the link is up (never before the first handshake: the
    channel's numbering must be lined up), sent again after a reconnection that may have lost
    it (``lost_incoming``/``peer_lost``) or after a transient failure at the hub."""

    prefix: ClassVar[str]

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
            and event.message.ref.startswith(self.prefix)
        ):
            self._answers[event.message.ref] = event.message
            self._changed.set()

    async def _ask(
        self, ref_id: str, message: Callable[[], AppMessage], what: str
    ) -> RequestResult:
        """Send ``message()`` until the hub answers it (other than ``failed``); the answer's ref
        is ``prefix`` and ``ref_id`` (the session, or the review request)."""
        ref = f"{self.prefix}{ref_id}"
        await self._up.wait()
        while True:
            self._answers.pop(ref, None)
            self._lost = False
            await self._send(message())
            while ref not in self._answers and not self._lost:
                self._changed.clear()
                await self._changed.wait()
            answer = self._answers.pop(ref, None)
            if answer is None:
                log.info(f"seat.script_{what}_resent", ref=ref)
            elif not answer.accepted and answer.code == _TRANSIENT:
                log.warning(f"seat.script_{what}_retry_later", ref=ref)
                await asyncio.sleep(self.retry_s)
            else:
                return answer


class ScriptCommitment(_ScriptRequests):
    """The script's integrity commitment over the agent's link: ``confirm`` sends the
    ``commitment`` message (decision ``confirmed``) and returns the hub's answer."""

    prefix = "commitment:"

    async def confirm(self, session_id: str) -> RequestResult:
        return await self._ask(
            session_id,
            lambda: CommitmentDecision(session_id=session_id, decision="confirmed", reason=""),
            "commitment",
        )


class ScriptSignature(_ScriptRequests):
    """The script's signature of the evaluation report over the agent's link: keeps every
    ``report_for_signature`` the hub sends (by session, the latest), and ``sign`` waits for the
    session's report, sends the ``report_signature`` the expert's page would send (made with
    the seat's own key) and returns the report and the hub's answer."""

    prefix = "signature:"

    def __init__(
        self,
        send: Callable[[AppMessage], Awaitable[object]],
        identity: SeatIdentity,
        *,
        retry_s: float = 1.0,
    ) -> None:
        super().__init__(send, retry_s=retry_s)
        self._identity = identity
        self._reports: dict[str, ReportForSignature] = {}
        self._reported = asyncio.Event()

    async def on_event(self, event: Event) -> None:
        if isinstance(event, MessageReceived) and isinstance(event.message, ReportForSignature):
            self._reports[event.message.session_id] = event.message
            self._reported.set()
        await super().on_event(event)

    async def report(self, session_id: str) -> ReportForSignature:
        """The session's report once the hub sent it."""
        while session_id not in self._reports:
            self._reported.clear()
            await self._reported.wait()
        return self._reports[session_id]

    async def sign(
        self, session_id: str, decision: str, reason: str
    ) -> tuple[ReportForSignature, RequestResult]:
        await self.report(session_id)
        answer = await self._ask(
            session_id,
            lambda: report_signature(self._identity, self._reports[session_id], decision, reason),
            "signature",
        )
        return self._reports[session_id], answer


@dataclass(frozen=True)
class ScoreScript:
    steps: tuple[ScriptStep, ...]
    digest: str
    poll_s: float = 0.1
    #: the session whose integrity commitment the script confirms first (``commitment: confirm``)
    confirm_in: str | None = None
    #: the report signature after the last step (``sign``)
    signing: SignPlan | None = None
    #: how review requests are answered (``review``); None: left to a person
    reviewing: ReviewPlan | None = None

    def key(self, seat_id: str, index: int, kind: str = "seat-script") -> str:
        """The idempotency key of step ``index``'s save (the same in every process); with
        ``kind="seat-script-review"``, of the save answering review request ``index``."""
        text = f"{kind}/v1|{seat_id}|{self.digest}|{index}"
        return "script-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def sheet_for(self, session_id: str, part: str) -> dict[str, Any] | None:
        """The script's last save of ``part`` in ``session_id``, if it makes one."""
        made = [s.sheet for s in self.steps if s.sheet is not None and s.session_id == session_id]
        return next((sheet for sheet in reversed(made) if sheet.get("part") == part), None)

    def _progress(self, progress: Path) -> tuple[bool, int, bool]:
        """(commitment answered, steps done, signature answered) as recorded for this script."""
        try:
            data = json.loads(progress.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False, 0, False
        if not isinstance(data, dict) or data.get("script") != self.digest:
            return False, 0, False
        done = data.get("done")
        return (
            data.get("committed") is True,
            done if isinstance(done, int) else 0,
            data.get("signed") is True,
        )

    def _record(self, progress: Path, committed: bool, done: int, signed: bool = False) -> None:
        tmp = progress.with_suffix(".tmp")
        data = {"script": self.digest, "committed": committed, "done": done, "signed": signed}
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

    async def _sign(self, seat_id: str, plan: SignPlan, link: ScriptSignature) -> None:
        log.info("seat.script_waiting_for_report", seat_key=seat_id, session_id=plan.session_id)
        report, answer = await link.sign(plan.session_id, plan.decision, plan.reason)
        if answer.accepted:
            log.info(
                "seat.script_signed",
                seat_key=seat_id,
                session_id=plan.session_id,
                expert=report.expert_code,
                decision=plan.decision,
            )
        elif answer.code in SIGNATURE_REPEATS:
            log.info(
                "seat.script_signature_repeated",
                seat_key=seat_id,
                session_id=plan.session_id,
                code=answer.code,
                message=answer.message,
            )
        else:
            raise SeatAgentError(
                f"评标会 {plan.session_id} 的评标报告签署未被接受（{answer.code}）：{answer.message}"
            )

    async def play(
        self,
        seat_id: str,
        state_dir: Path,
        delivery: ScoreDelivery,
        keys: KeyPlan,
        commitment: ScriptCommitment | None = None,
        signature: ScriptSignature | None = None,
    ) -> None:
        """Confirm the commitment if the script says so and it is not yet answered, then make
        every save not yet made, in order, then sign the report if the script says so and it
        is not yet answered; return when the last save is in the outbox and the signature
        answered. ``SeatAgentError`` if the hub refuses the commitment (no step is played
        then) or the signature."""
        progress = state_dir / PROGRESS_FILE
        committed, done, signed = self._progress(progress)
        log.info("seat.script_started", seat_key=seat_id, steps=len(self.steps), done=done)
        if self.signing is not None and not signed and signature is None:
            raise SeatAgentError("评分脚本要求签署评标报告，但没有连接主场的链路")
        if self.confirm_in is not None and not committed:
            if commitment is None:
                raise SeatAgentError("评分脚本要求确认评标纪律承诺，但没有连接主场的链路")
            await self._confirm(seat_id, self.confirm_in, commitment)
            committed = True
            self._record(progress, committed, done, signed)
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
                try:
                    async with keys.lock:
                        keys.plan(key)
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
            self._record(progress, committed, index + 1, signed)
        if self.signing is not None and not signed:
            assert signature is not None
            await self._sign(seat_id, self.signing, signature)
            self._record(progress, committed, len(self.steps), True)
        log.info("seat.script_finished", seat_key=seat_id, steps=len(self.steps))
