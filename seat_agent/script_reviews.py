"""A scripted expert's answers to the deviation review (``review`` in a ``seat-agent run
--script`` file): what an expert at the seat would do with each ``review_request``.

* A deviation that may be explained (``explainable``: 评分畸高畸低) is kept with the script's
  written reason (``keep``, ``keep_reason``), as experts do when their score stands.
* A request that must be re-scored is answered ``revise`` after the part is saved again:

  - an item named by the request (an objective item the members scored differently, or a score
    out of range) is set to the value the committee settles on (:func:`settled_value`: the one
    most members gave, the request's spread being every member's score of it). An expert who
    already holds that value saves the part unchanged: the hub takes a new save of the part
    after the request as the re-scoring it asked for, and the values then agree;
  - a request about the part as a whole (a total written wrongly) saves it again without the
    written totals, so the hub adds the items up itself.

The new save goes through the agent's ``ScoreDelivery`` (outbox first) under a key derived
from the seat, the script and the request (``ScoreScript.key(…, kind="seat-script-review")``),
so a process killed after the save and started again saves nothing twice; the answer
(``review_answer``) is sent after the save on the same link, where the hub judges it after the
save's commit, and sent again after a reconnection that may have lost it or a transient
failure. An answer the hub refuses is logged (``seat.script_review_refused``, with the hub's
reason) and left to a person; ``already-answered`` (the hub closed the request itself, say once
the values agree) is logged as a repeat. ``script-reviews.json`` in the state directory records
the requests answered and the parts as last saved, so a restarted agent neither answers twice
nor forgets an earlier correction when it corrects another item of the same part.

Tolerant of what the hub may add: a notice's further fields are not read, and a request the
hub sends again is answered once.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import structlog

from seat_agent.outbox import ScoreDelivery
from seat_agent.script import KeyPlan, ReviewPlan, ScoreScript, _ScriptRequests
from seat_protocol.events import Event, MessageReceived
from seat_protocol.messages import AppMessage, RequestResult, ReviewAnswer, ReviewRequestNotice

__all__ = [
    "REVIEWS_FILE",
    "ReviewDecision",
    "ScriptReviews",
    "decide",
    "play_reviews",
    "settled_value",
]

log = structlog.get_logger(__name__)

REVIEWS_FILE = "script-reviews.json"
# The hub's refusals that say the request needs nothing more from this seat.
_SETTLED = frozenset({"already-answered"})
# What an entry re-scored in the review says beside its reason (the rubric asks for a comment on
# every score changed in the review).
_CORRECTED = "复核更正：按评标委员会核对一致的分值"


@dataclass(frozen=True)
class ReviewDecision:
    """How the scripted expert answers one request: ``keep`` or ``revise`` with ``reason``;
    ``sheet`` is the part to save again first (``revise`` only)."""

    answer: str
    reason: str
    sheet: dict[str, Any] | None = None


def _number(text: object) -> Decimal | None:
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def settled_value(spread: Mapping[str, Any]) -> str | None:
    """The value the committee settles on for an item: the one most members gave, counting the
    expert's own (``yours``) and the others' (``others``); of values given equally often, the
    lowest, so every scripted member settles on the same one. As written in the spread; None if
    the spread holds no number."""
    given: list[tuple[Decimal, str]] = []
    for raw in [spread.get("yours"), *(spread.get("others") or ())]:
        value = _number(raw)
        if value is not None:
            given.append((value, str(raw)))
    if not given:
        return None
    counts = Counter(value for value, _ in given)
    top = max(counts.values())
    value = min(v for v, n in counts.items() if n == top)
    return next(text for v, text in given if v == value)


def decide(
    notice: ReviewRequestNotice, sheet: Mapping[str, Any], plan: ReviewPlan
) -> ReviewDecision:
    """The answer to ``notice`` for an expert whose last save of the part is ``sheet``."""
    if notice.explainable:
        return ReviewDecision("keep", plan.keep_reason)
    revised = copy.deepcopy(dict(sheet))
    if notice.item is None:
        revised.pop("declared_totals", None)
        return ReviewDecision(
            "revise", "已核对各项得分，合计由系统计算，重新提交本部分评分", revised
        )
    value = settled_value(notice.spread)
    own = None
    for entry in revised.get("entries", ()):
        if entry.get("subject") == notice.subject and entry.get("item") == notice.item:
            own = entry.get("points")
            if value is not None and _number(own) != _number(value):
                entry["points"] = value
                entry["comment"] = f"{entry.get('comment', '')}；{_CORRECTED} {value}".lstrip("；")
    if own is None:
        reason = "已核对，重新提交本部分评分"
    elif value is None or _number(own) == _number(value):
        reason = f"已核对，{notice.item} 的评分 {own} 与评标委员会一致，重新提交本部分评分"
    else:
        reason = f"已核对，{notice.item} 由 {own} 更正为评标委员会一致的 {value}，重新提交"
    return ReviewDecision("revise", reason, revised)


class ScriptReviews(_ScriptRequests):
    """The review over the agent's link: keeps each ``review_request`` the hub sends (once per
    request), and ``answer`` sends the ``review_answer`` and returns the hub's answer."""

    prefix = "review:"

    def __init__(
        self, send: Callable[[AppMessage], Awaitable[object]], *, retry_s: float = 1.0
    ) -> None:
        super().__init__(send, retry_s=retry_s)
        self._notices: asyncio.Queue[ReviewRequestNotice] = asyncio.Queue()
        self._heard: set[int] = set()

    async def on_event(self, event: Event) -> None:
        message = event.message if isinstance(event, MessageReceived) else None
        if isinstance(message, ReviewRequestNotice) and message.request_id not in self._heard:
            self._heard.add(message.request_id)
            self._notices.put_nowait(message)
        await super().on_event(event)

    async def next_request(self) -> ReviewRequestNotice:
        return await self._notices.get()

    async def answer(self, notice: ReviewRequestNotice, answer: str, reason: str) -> RequestResult:
        return await self._ask(
            str(notice.request_id),
            lambda: ReviewAnswer(
                session_id=notice.session_id,
                request_id=notice.request_id,
                answer=answer,
                reason=reason,
            ),
            "review",
        )


@dataclass
class _Record:
    """``script-reviews.json``: the requests answered and the parts as last saved."""

    path: Path
    script: str
    answered: set[int] = field(default_factory=set)
    #: "<session>|<part>" → the part as last saved in the review
    sheets: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, script: str) -> _Record:
        record = cls(path, script)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return record
        if isinstance(data, dict) and data.get("script") == script:
            record.answered = {n for n in data.get("answered", ()) if isinstance(n, int)}
            sheets = data.get("sheets")
            record.sheets = dict(sheets) if isinstance(sheets, dict) else {}
        return record

    def save(self) -> None:
        data = {"script": self.script, "answered": sorted(self.answered), "sheets": self.sheets}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
        tmp.replace(self.path)


async def play_reviews(
    script: ScoreScript,
    seat_id: str,
    state_dir: Path,
    delivery: ScoreDelivery,
    keys: KeyPlan,
    reviews: ScriptReviews,
) -> None:
    """Answer every review request of the script's sessions as it comes, until cancelled."""
    plan = script.reviewing
    if plan is None:
        return
    record = _Record.load(state_dir / REVIEWS_FILE, script.digest)
    while True:
        notice = await reviews.next_request()
        if notice.request_id in record.answered:
            continue
        slot = f"{notice.session_id}|{notice.part}"
        sheet = record.sheets.get(slot) or script.sheet_for(notice.session_id, notice.part)
        if sheet is None:
            log.warning(
                "seat.script_review_not_mine",
                seat_key=seat_id,
                request=notice.request_id,
                part=notice.part,
                detail="the script saves no such part: left to a person",
            )
            continue
        decision = decide(notice, sheet, plan)
        if decision.sheet is not None:
            key = script.key(seat_id, notice.request_id, kind="seat-script-review")
            try:
                async with keys.lock:
                    keys.plan(key)
                    await delivery.submit(notice.session_id, decision.sheet)
            except sqlite3.IntegrityError:
                # Saved by an earlier process that died before answering.
                log.info("seat.script_save_already_pending", idempotency_key=key)
            record.sheets[slot] = decision.sheet
            record.save()
        result = await reviews.answer(notice, decision.answer, decision.reason)
        fields = {"seat_key": seat_id, "request": notice.request_id, "answer": decision.answer}
        if result.accepted:
            log.info("seat.script_review_answered", **fields, reason=notice.reason)
        elif result.code in _SETTLED:
            log.info("seat.script_review_repeated", **fields, code=result.code)
        else:
            log.warning(
                "seat.script_review_refused", **fields, code=result.code, message=result.message
            )
        record.answered.add(notice.request_id)
        record.save()
