"""The deviation review (偏离复核): review rounds, the experts' answers, and the notice each
request is to its expert's seat.

A round finds the open flags (``scoring.review``, with the package's deviation share or the
configured one, on part totals or per item as configured) and asks the experts they concern;
for an objective item it asks those who differ from the value most members gave and tells the
others (informational notices). Once the round is committed, each new request is pushed to the
seat of its expert (``hub.seats``). The push is best effort: a seat that is not connected finds
its open requests when it reconnects (``review_notice`` builds the same notice for the seat's
catch-up). Requests about an objective item close themselves once the values agree
(``evaluation.convergence``, on the save that makes them agree).

An answer comes from the seat of the expert asked. Nobody answers for an expert checked in at a
seat; for an expert who is not (no terminal at the host), the host operator may record the
expert's answer as a fallback (代录), which the record shows as entered by the operator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from evaluation_hub.evaluation import rules
from evaluation_hub.evaluation.context import Context, SeatActor, load_context, require_seated
from evaluation_hub.evaluation.convergence import SETTLED
from evaluation_hub.evaluation.models import ReviewRequestRow
from evaluation_hub.evaluation.saves import (
    checked_in_seat,
    counted_sheets,
    latest_accepted,
    require_complete,
)
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import formation
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import DURING_EVALUATION, SessionState, state_name
from evaluation_hub.sessions.store import apply_action_in
from scoring.review import Explanation, ReviewFlag, open_flags, review
from scoring.sheets import Reintegrated, reintegrate
from seat_protocol.messages import ReviewRequestNotice

__all__ = [
    "ReviewRequest",
    "ReviewRound",
    "answer_request",
    "explanations",
    "flags_of",
    "requests_of",
    "review_notice",
    "review_request",
    "review_round",
]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReviewRequest:
    """One review request (复核请求) as staff and the expert see it: labels, never bidders."""

    id: int
    session_id: int
    round: int
    expert_code: str
    part_id: str
    subject: str
    item_id: str | None
    reason: str
    message: str
    spread: Mapping[str, Any]
    requested_at: datetime
    #: keep | revise | settled (closed by itself once the values agreed) | None (open)
    answer: str | None
    answer_reason: str
    answered_at: datetime | None
    #: the expert is told, not asked (no answer is taken)
    informational: bool = False
    #: who recorded the answer: the expert's seat, the host operator (代录), or the hub
    answered_by: str | None = None
    #: the values the members agreed on, when it settled
    settled_values: Mapping[str, str] | None = None


def review_request(row: ReviewRequestRow) -> ReviewRequest:
    return ReviewRequest(
        id=row.id,
        session_id=row.session_id,
        round=row.round,
        expert_code=row.expert_code,
        part_id=row.part_id,
        subject=row.subject,
        item_id=row.item_id,
        reason=row.reason,
        message=row.message,
        spread=dict(row.spread),
        requested_at=row.requested_at,
        answer=row.answer,
        answer_reason=row.answer_reason,
        answered_at=row.answered_at,
        informational=row.informational,
        answered_by=row.answered_by,
        settled_values=dict(row.settled_values["values"]) if row.settled_values else None,
    )


@dataclass(frozen=True)
class ReviewRound:
    session_id: int
    round: int
    open_flags: int
    #: the requests this round made, in order
    requests: tuple[ReviewRequest, ...]
    #: how many of them were pushed to a seat of this hub process
    pushed: int


def review_notice(row: ReviewRequestRow | ReviewRequest) -> ReviewRequestNotice:
    """The ``review_request`` message telling the expert's seat about one request."""
    return ReviewRequestNotice(
        session_id=str(row.session_id),
        request_id=row.id,
        round=row.round,
        part=row.part_id,
        subject=row.subject,
        item=row.item_id,
        reason=row.reason,
        message=row.message,
        spread=dict(row.spread),
        explainable=row.reason in rules.EXPLAINABLE and not row.informational,
        informational=row.informational,
    )


async def requests_of(s: AsyncSession, session_id: int) -> list[ReviewRequestRow]:
    rows = await s.execute(
        select(ReviewRequestRow)
        .where(ReviewRequestRow.session_id == session_id)
        .order_by(ReviewRequestRow.id)
    )
    return list(rows.scalars())


def explanations(requests: Sequence[ReviewRequestRow]) -> list[Explanation]:
    """The written explanations (书面说明) recorded so far: kept scores with a reason."""
    return [
        Explanation(r.flag_key, r.expert_code, r.answer_reason)
        for r in requests
        if r.answer == "keep" and r.answer_reason.strip()
    ]


def flags_of(hub: Services, ctx: Context, scores: Reintegrated) -> list[ReviewFlag]:
    """Every flag the scores raise, by the package's deviation share or the configured one,
    on what the configuration compares (part totals by default, or every item)."""
    rules_ = hub.regulation.review
    config = rules.review_config(ctx.package, rules_.deviation_share, rules_.deviation_basis)
    return review(scores, ctx.package, config)


async def review_round(
    hub: Services, actor: Principal, session_id: int, *, now: datetime
) -> ReviewRound:
    """Find the open flags, request a review from the experts they concern and push each new
    request to its expert's seat.

    From ``evaluating`` this also moves the session to ``deviation_review``; in
    ``deviation_review`` it starts a further round for flags nobody has been asked about yet.
    """
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        access.require(actor, access.Action.RUN_EVALUATION, loaded.target)
        ctx = await load_context(s, session_id, hub.sealer, lock=True)
        if ctx.session.state not in DURING_EVALUATION:
            raise Conflict(
                "not-scoring",
                f"评标会当前状态为「{state_name(ctx.session.state)}」，不能发起偏离复核",
            )
        latest = await latest_accepted(s, ctx.session.id)
        require_complete(ctx, latest, "进入偏离复核")
        scores = reintegrate(counted_sheets(ctx, latest), ctx.shuffle)
        existing = await requests_of(s, ctx.session.id)
        flags = open_flags(flags_of(hub, ctx, scores), explanations(existing))
        pending = {(r.flag_key, r.expert_code) for r in existing if r.answer is None}
        round_no = max((r.round for r in existing), default=0) + 1
        created = []
        for spec in rules.request_specs(flags, scores, ctx.package):
            if (spec.flag_key, spec.expert) in pending:
                continue
            row = ReviewRequestRow(
                session_id=ctx.session.id,
                round=round_no,
                flag_key=spec.flag_key,
                reason=spec.reason,
                expert_code=spec.expert,
                part_id=spec.part,
                subject=spec.subject,
                item_id=spec.item,
                message=spec.message,
                spread=spec.spread,
                requested_at=now,
                informational=spec.informational,
            )
            s.add(row)
            created.append(row)
        if ctx.session.state == SessionState.EVALUATING:
            await apply_action_in(
                s, actor, ctx.session.id, "begin_deviation_review", reason=None, now=now
            )
        await s.flush()
        await append_event(
            s,
            kind="evaluation.review_round",
            subject=f"session:{ctx.session.id}",
            actor=actor.username,
            payload={
                "round": round_no,
                "open_flags": len(flags),
                "requests": [r.id for r in created if not r.informational],
                "notices": [r.id for r in created if r.informational],
            },
            at=now,
        )
        requests = tuple(review_request(r) for r in created)
        seats = {
            x.expert_code: x.seat_key
            for x in await seatings(s, session_id=ctx.session.id, with_expert=True)
        }
    # Committed: only now may a seat hear of (and answer) the requests.
    pushed = 0
    for request in requests:
        seat_key = seats.get(request.expert_code)
        if seat_key is not None and await _push(hub, seat_key, request):
            pushed += 1
    return ReviewRound(session_id, round_no, len(flags), requests, pushed)


async def _push(hub: Services, seat_key: str, request: ReviewRequest) -> bool:
    try:
        return await hub.seats.send(seat_key, review_notice(request))
    except Exception:
        # Best effort: the seat finds the request when it reconnects; the round stands.
        log.exception("evaluation.review_push_failed", seat_key=seat_key, request=request.id)
        return False


async def answer_request(
    hub: Services,
    actor: Principal | SeatActor,
    session_id: int,
    request_id: int,
    answer: str,
    reason: str,
    *,
    now: datetime,
) -> ReviewRequest:
    """The expert's answer: keep the score with written reasons, or revise (after re-scoring).
    Sent by the seat of the expert asked; recorded at the host by its operator only for an
    expert not checked in at a seat (代录)."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        if not isinstance(actor, SeatActor):
            access.require(actor, access.Action.RUN_EVALUATION, loaded.target)
        request = await s.get(ReviewRequestRow, request_id)
        if request is None or request.session_id != session_id:
            raise NotFound(
                "review-request-not-found", f"评标会 #{session_id} 没有复核请求 #{request_id}"
            )
        if isinstance(actor, SeatActor):
            await require_seated(s, actor, session_id, request.expert_code)
        else:
            seat = await checked_in_seat(s, session_id, request.expert_code)
            if seat is not None:
                raise Forbidden(
                    "expert-at-seat",
                    f"专家 {request.expert_code} 已在工位 {seat} 签到，复核答复须由该工位提交，"
                    "主场不能代为答复",
                )
        ctx = await load_context(s, session_id, hub.sealer, lock=True)
        await formation.require_not_recused(s, ctx.session.id, request.expert_code)
        if ctx.session.state != SessionState.DEVIATION_REVIEW:
            raise Conflict(
                "not-in-review",
                f"评标会当前状态为「{state_name(ctx.session.state)}」，不能答复复核请求",
            )
        if request.answer == SETTLED:
            raise Conflict(
                "settled",
                f"复核请求 #{request.id} 已因各专家评分一致而自动关闭，无需答复",
            )
        if request.answer is not None:
            raise Conflict("already-answered", f"复核请求 #{request.id} 已答复，不能重复答复")
        if request.informational:
            raise Conflict(
                "informational",
                f"复核通知 #{request.id} 仅供知悉，无需答复；其他专家核对后将自动关闭",
            )
        reason = reason.strip()
        if answer == "keep":
            if request.reason not in rules.EXPLAINABLE:
                raise Conflict(
                    "must-rescore",
                    f"复核请求 #{request.id} 属于计分错误、超出分值范围或客观评分项不一致，"
                    "不能以书面说明保留原评分，须重新评分",
                )
            if not reason:
                raise InvalidInput("reason-required", "保留原评分须书面说明理由")
        else:
            latest = (await latest_accepted(s, ctx.session.id)).get(
                (request.expert_code, request.part_id)
            )
            if latest is None or latest.received_at < request.requested_at:
                raise Conflict(
                    "not-rescored",
                    f"专家 {request.expert_code} 尚未重新提交 {request.part_id} 的评分，"
                    "请先重新评分再答复",
                )
        request.answer = answer
        request.answer_reason = reason
        request.answered_by = actor.username
        request.answered_at = now
        await append_event(
            s,
            kind="evaluation.review_answered",
            subject=f"session:{ctx.session.id}",
            actor=actor.username,
            payload={
                "request_id": request.id,
                "expert": request.expert_code,
                "answer": answer,
                "reason": reason,
                "proxy": not isinstance(actor, SeatActor),
            },
            at=now,
        )
        await s.flush()
        return review_request(request)
