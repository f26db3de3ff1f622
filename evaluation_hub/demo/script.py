"""The scripted host (``--script``): the driver that runs the staged evaluation beside the hub
until the report is signed, whatever the person playing an expert (or the host) does.

It looks at the session every ``poll_s`` and does what the situation calls for:

* **the host** (unless the person plays it, ``--play host``): starts the evaluation once no
  member is pending, releases the chapters to the seats, runs a deviation review round once
  every sheet is in and again once every request of the round is answered (a revision may
  raise new flags), seals when a round finds nothing left to ask, and reveals;
* **the go-ahead**: once the evaluation started, ``STARTED_FILE`` is created for the seats'
  scripts.

Every member sits at a seat terminal, the host experts (E01, E02) at the host's own seats: the
scripted experts act from their seats (``seat_agent.script``: saves, review answers —
``seat_agent.script_reviews.decide`` keeps an explainable deviation with ``SCRIPT_KEEP_REASON``
and re-scores an objective item to the value the committee settles on — and the signature), the
person from the page. The driver never acts for an expert: the hub takes an expert's saves,
answers and signature only from the seat where the expert checked in. It never loops silently: it prints one ``[演示]`` line whenever what it waits for
changes (never the same line twice in a row), and logs each step (``demo.evaluation_started``,
``demo.review``, ``demo.sealed``, ``demo.revealed``, ``demo.report_signed``). A step the hub
refuses is logged once (``demo.step_refused``) and said once, and tried again as the
situation changes; nothing stops the driver but the signed report or the hub shutting down.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import structlog

from evaluation_hub.demo.stage import Stage
from evaluation_hub.errors import ProblemError
from evaluation_hub.evaluation.overview import Overview, overview
from evaluation_hub.evaluation.package import start_evaluation
from evaluation_hub.evaluation.result import reveal, seal
from evaluation_hub.evaluation.review import ReviewRequest
from evaluation_hub.evaluation.review import review_round as run_review_round
from evaluation_hub.seats.chapter_chunks import ChapterChunks
from evaluation_hub.seats.chapters import release_chapters
from evaluation_hub.services import Services
from evaluation_hub.sessions.committee_view import committee_view
from evaluation_hub.sessions.states import BEFORE_START, SessionState, state_name
from evaluation_hub.sessions.store import lifecycle_view

__all__ = ["Driver", "Narrator", "say"]

log = structlog.get_logger(__name__)

T = TypeVar("T")


def say(text: str) -> None:
    """A progress line for the person watching (or playing) the demo."""
    print(f"  [演示] {text}", flush=True)


class Narrator:
    """Says a line only when it differs from the last one said."""

    def __init__(self, out: Callable[[str], None] = say) -> None:
        self._out = out
        self._last: str | None = None

    def __call__(self, text: str) -> None:
        if text != self._last:
            self._last = text
            self._out(text)


@dataclasses.dataclass
class Driver:
    hub: Services
    stage: Stage
    clock: Callable[[], datetime]
    #: the person runs the host (``--play host``): the driver does nothing the host does
    plays_host: bool = False
    #: the hub's chapter store, to release the chapters as the host (None: not released)
    chunks: ChapterChunks | None = None
    poll_s: float = 0.5
    tell: Narrator = dataclasses.field(default_factory=Narrator)
    _started: bool = False
    _released: bool = False
    _rounds: int = 0
    _announced: set[int] = dataclasses.field(default_factory=set)
    _prompted: bool = False
    _refusal: tuple[str, str, str] | None = None

    async def run(self) -> None:
        """Drive the session until its report is signed."""
        # The seats, the person's page and the hub's own handlers change the session in other
        # tasks and processes, with no event to wait on here: look again every poll_s.
        while not await self.step():  # noqa: ASYNC110
            await asyncio.sleep(self.poll_s)

    async def step(self) -> bool:
        """One look at the session and what it calls for; True once the report is signed."""
        stage = self.stage
        now = self.clock()
        state = (await lifecycle_view(self.hub, stage.host, stage.session_id, now=now)).state
        if state in BEFORE_START:
            await self._before_start()
        elif state == SessionState.EVALUATING:
            await self._go_ahead()
            await self._scoring(await self._overview())
        elif state == SessionState.DEVIATION_REVIEW:
            await self._reviewing(await self._overview())
        elif state == SessionState.SEALED:
            await self._reveal()
        elif state == SessionState.REVEALED:
            await self._signing(await self._overview())
        elif state in (SessionState.REPORT_SIGNED, SessionState.ARCHIVED):
            log.info("demo.report_signed", session_id=stage.session_id)
            self.tell("评标报告已由全体委员签署（report_signed），演示结束；按 Ctrl+C 退出")
            return True
        else:
            self.tell(f"评标会当前状态为「{state_name(state)}」，等待主场处理")
        return False

    # --- the host (not with --play host) ---------------------------------------------------

    async def _act(self, step: str, work: Awaitable[T]) -> T | None:
        """A step of the host's or the host experts'; a refusal is logged and said once."""
        try:
            done = await work
        except ProblemError as exc:
            refusal = (step, exc.code, exc.detail)
            if refusal != self._refusal:
                self._refusal = refusal
                log.warning(
                    "demo.step_refused",
                    session_id=self.stage.session_id,
                    step=step,
                    code=exc.code,
                    detail=exc.detail,
                )
            self.tell(f"主场未能{step}：{exc.detail}")
            return None
        self._refusal = None
        return done

    async def _before_start(self) -> None:
        stage = self.stage
        view = await committee_view(self.hub, stage.host, stage.session_id, now=self.clock())
        pending = [m.code for m in view.members if m.decision == "pending"]
        if stage.played in pending:
            self.tell(f"等待 {stage.played} 在专家页面签到并确认评标纪律承诺")
        elif pending:
            self.tell(f"等待确认评标纪律承诺：{'、'.join(pending)}")
        elif self.plays_host:
            self.tell(
                f"全体委员已确认评标纪律承诺：请在主场页面开始评标会 #{stage.session_id} 的评审"
            )
        else:
            started = await self._act(
                "开始评审",
                start_evaluation(
                    self.hub, stage.host, stage.session_id, reason=None, now=self.clock()
                ),
            )
            if started is not None:
                log.info("demo.evaluation_started", session_id=stage.session_id)
                self.tell("全体委员已确认承诺，评标开始")

    async def _overview(self) -> Overview:
        return await overview(self.hub, self.stage.host, self.stage.session_id, now=self.clock())

    async def _scoring(self, seen: Overview) -> None:
        stage = self.stage
        if not self.plays_host and not self._released and self.chunks is not None:
            release = release_chapters(
                self.hub, stage.host, stage.session_id, chunks=self.chunks, now=self.clock()
            )
            if await self._act("发放章节", release) is not None:
                self._released = True
                log.info("demo.chapters_released", session_id=stage.session_id)
        missing = [e.expert for e in seen.experts if not e.complete]
        if missing:
            self.tell(f"等待提交评分表：{'、'.join(missing)}")
        elif self.plays_host:
            self.tell("全部评分表已收齐：请在主场评标控制台发起偏离复核")
        else:
            log.info("demo.all_scored", session_id=stage.session_id, experts=len(seen.experts))
            await self._review_round()

    async def _review_round(self) -> None:
        """A round of the review; with nothing left to ask, seal and reveal."""
        stage = self.stage
        now = self.clock()
        held = await self._act(
            "发起偏离复核", run_review_round(self.hub, stage.host, stage.session_id, now=now)
        )
        if held is None:
            return
        self._rounds += 1
        created = held.requests
        log.info(
            "demo.review", session_id=stage.session_id, round=held.round, requests=len(created)
        )
        if created:
            log.warning(
                "demo.review_flagged",
                session_id=stage.session_id,
                requests=[f"{r.expert_code}: {r.message}" for r in created],
                detail="the demo waits until every review request is answered",
            )
            self.tell(f"第 {held.round} 轮偏离复核：{len(created)} 项复核请求")
            for request in created:
                self._announce(request)
            return
        self.tell("偏离复核完成，封存评审结果")
        if await self._act("封存", seal(self.hub, stage.host, stage.session_id, now=self.clock())):
            log.info("demo.sealed", session_id=stage.session_id)
            await self._reveal()

    async def _reveal(self) -> None:
        if self.plays_host:
            self.tell("评审结果已封存：请在主场评标控制台解密并公布结果")
            return
        stage = self.stage
        revealed = await self._act(
            "公布结果", reveal(self.hub, stage.host, stage.session_id, now=self.clock())
        )
        if revealed is None:
            return
        ranking = [(r["bidder"], r["composite"]) for r in revealed.result.get("ranking", [])]
        log.info("demo.revealed", session_id=stage.session_id, ranking=ranking)
        self.tell("评标结果已公布：" + "，".join(f"{b} {c}" for b, c in ranking))
        self._prompt_signature()

    def _prompt_signature(self) -> None:
        """Once, as the result reaches the seats: the played expert signs on the page."""
        if self.stage.played and not self._prompted:
            self._prompted = True
            say(f"{self.stage.played}：请在专家页面签署评标报告")

    async def _reviewing(self, seen: Overview) -> None:
        for request in [r for r in seen.requests if r.answer is None]:
            self._announce(request)
        left: dict[str, int] = {}
        for r in seen.requests:
            if r.answer is None:
                left[r.expert_code] = left.get(r.expert_code, 0) + 1
        if left:
            waiting = "、".join(f"{e}（{n} 项）" for e, n in sorted(left.items()))
            self.tell(f"等待答复复核请求：{waiting}")
        elif self.plays_host:
            self.tell(
                "复核请求已全部答复：请在主场评标控制台再次发起偏离复核；没有新的偏离即可封存"
            )
        else:
            await self._review_round()

    def _announce(self, request: ReviewRequest) -> None:
        """Once per request: the played expert answers it on the page."""
        if request.expert_code == self.stage.played and request.id not in self._announced:
            self._announced.add(request.id)
            say(f"{request.expert_code}：请在专家页面答复复核请求 #{request.id}：{request.message}")

    # --- the seats' go-ahead --------------------------------------------------------------

    async def _go_ahead(self) -> None:
        """Once the evaluation started: the seats' scripts may save."""
        if self._started:
            return
        self._started = True
        stage = self.stage
        await asyncio.to_thread(stage.started.write_text, "started", encoding="utf-8")
        log.info("demo.seats_go_ahead", session_id=stage.session_id)
        if stage.played:
            say(f"{stage.played}：请在专家页面阅读章节，并为每个部分评分、提交")

    async def _signing(self, seen: Overview) -> None:
        signed = {s.expert for s in seen.signatures}
        if self.stage.played not in signed:
            self._prompt_signature()
        waiting = [e for e in seen.package.experts if e not in signed]
        if waiting:
            self.tell(f"等待签署评标报告：{'、'.join(waiting)}")
