"""Closing the evaluation (封存、解密还原、评标结果): seal the counted saves, reveal the seed
and compute the result, show the result, and gather the evaluation report.

Sealing needs every sheet in and every review flag re-scored or explained; the saves that
count are frozen. The reveal verifies the seed against its commitment, maps the labels back to
bidders, computes the result by the package's evaluation method and stores it with its digest;
once committed, the result goes to the seat of every seated member, for signing. Nothing here
names a bidder before the reveal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.db.models import EvaluationSession, Expert, SessionExpert
from evaluation_hub.errors import Conflict
from evaluation_hub.evaluation import rules
from evaluation_hub.evaluation.context import Context, load_context
from evaluation_hub.evaluation.models import EvaluationPackageRow, ScoreSaveRow
from evaluation_hub.evaluation.overview import Overview, gather_overview
from evaluation_hub.evaluation.report import ProxySaveNote, ReportData, ReviewNote, SignatureNote
from evaluation_hub.evaluation.review import explanations, flags_of, requests_of
from evaluation_hub.evaluation.saves import (
    counted_sheets,
    latest_accepted,
    proxy_saves,
    require_complete,
)
from evaluation_hub.evaluation.signatures import signatures_of
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.services import Services
from evaluation_hub.sessions import formation
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import REVEALED, state_name
from evaluation_hub.sessions.store import apply_action_in
from scoring.aggregation import Aggregation, aggregate
from scoring.errors import AggregationError, PriceError
from scoring.model import BidPackage
from scoring.price import PriceResult, Ranking, rank, score_prices
from scoring.review import open_flags
from scoring.sheets import Reintegrated, reintegrate
from scoring.shuffle import verify as verify_shuffle
from scoring.signing import canonical, result_document
from seat_protocol.messages import ReportForSignature

__all__ = [
    "BidderIdentity",
    "ResultView",
    "gather_report",
    "report_data",
    "report_messages",
    "result_view",
    "reveal",
    "revealed_result",
    "seal",
    "sealed_scores",
]

log = structlog.get_logger(__name__)


async def seal(hub: Services, actor: Principal, session_id: int, *, now: datetime) -> Overview:
    """Close the scoring: every sheet in, no open flag; the counted saves are frozen. Returns
    the overview of the sealed evaluation."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        access.require(actor, access.Action.RUN_EVALUATION, loaded.target)
        ctx = await load_context(s, session_id, hub.sealer, lock=True)
        await apply_action_in(s, actor, ctx.session.id, "seal", reason=None, now=now)
        # Recusals during the review may have left too few (or an even number of) members.
        await formation.require_lawful_committee(
            s, ctx.session.id, hub.regulation.committee, verb="封存评审结果"
        )
        latest = await latest_accepted(s, ctx.session.id)
        require_complete(ctx, latest, "封存")
        scores = reintegrate(counted_sheets(ctx, latest), ctx.shuffle)
        flags = flags_of(hub, ctx, scores)
        still_open = open_flags(flags, explanations(await requests_of(s, ctx.session.id)))
        if still_open:
            raise Conflict(
                "seal-blocked",
                f"尚有 {len(still_open)} 项复核未处理（既未重新评分也未书面说明），不能封存",
                open_flags=[f.message for f in still_open],
            )
        ctx.row.sealed_save_ids = sorted(r.id for r in latest.values())
        ctx.row.sealed_at = now
        await append_event(
            s,
            kind="evaluation.sealed",
            subject=f"session:{ctx.session.id}",
            actor=actor.username,
            payload={
                "saves": ctx.row.sealed_save_ids,
                "flags": len(flags),
                "explained": len(flags) - len(still_open),
            },
            at=now,
        )
        await s.flush()
        return await gather_overview(s, ctx, now=now)


@dataclass(frozen=True)
class _Computed:
    scores: Reintegrated
    aggregation: Aggregation
    prices: PriceResult
    ranking: Ranking


async def sealed_scores(s: AsyncSession, ctx: Context) -> Reintegrated:
    """The scores of the sheets that counted at the seal, re-integrated (labels → bidders)."""
    ids = ctx.row.sealed_save_ids or []
    rows = await s.execute(select(ScoreSaveRow).where(ScoreSaveRow.id.in_(ids)))
    latest = {(r.expert_code or "", r.part_id or ""): r for r in rows.scalars()}
    return reintegrate(counted_sheets(ctx, latest), ctx.shuffle)


def _compute(package: BidPackage, scores: Reintegrated) -> _Computed:
    try:
        agg = aggregate(scores, package)
        prices = score_prices(package)
        ranking = rank(package, agg, prices)
    except (AggregationError, PriceError) as exc:
        raise Conflict("result-failed", f"无法按评标办法计算结果：{exc}") from None
    return _Computed(scores, agg, prices, ranking)


@dataclass(frozen=True)
class BidderIdentity:
    id: str
    name: str
    credit_code: str


@dataclass(frozen=True)
class ResultView:
    """The revealed result (评标结果): the signed result document and everything that lets
    anyone check it (the seed, its commitment, every expert's published view)."""

    session_id: int
    result: Mapping[str, Any]
    result_digest: str
    seed_commitment: str
    revealed_seed: str
    bidders: tuple[BidderIdentity, ...]
    #: every expert's view as ``StaggeredShuffle.published`` gives it
    views: Mapping[str, Any]
    #: how many seats the result was pushed to for signing (the reveal only)
    pushed: int = 0


def _result_view(ctx: Context, pushed: int = 0) -> ResultView:
    return ResultView(
        session_id=ctx.session.id,
        result=ctx.row.result or {},
        result_digest=ctx.row.result_digest or "",
        seed_commitment=ctx.row.seed_commitment,
        revealed_seed=ctx.row.revealed_seed or "",
        bidders=tuple(BidderIdentity(b.id, b.name, b.credit_code) for b in ctx.package.bidders),
        views=ctx.shuffle.published(),
        pushed=pushed,
    )


def report_messages(
    session_id: int, result: Mapping[str, Any], seats: Mapping[str, str]
) -> list[tuple[str, ReportForSignature]]:
    """(seat key, ``report_for_signature``) for each member in ``seats`` (expert code → the
    seat key they sit at): the result each signs."""
    return [
        (
            seat_key,
            ReportForSignature(session_id=str(session_id), expert_code=e, result=dict(result)),
        )
        for e, seat_key in seats.items()
    ]


async def revealed_result(s: AsyncSession, session_id: int) -> dict[str, Any] | None:
    """The session's revealed result document (what members sign), or None before the reveal."""
    result: dict[str, Any] | None = (
        await s.execute(
            select(EvaluationPackageRow.result).where(EvaluationPackageRow.session_id == session_id)
        )
    ).scalar_one_or_none()
    return result


async def _push(hub: Services, messages: Iterable[tuple[str, ReportForSignature]]) -> int:
    sent = 0
    for seat_key, msg in messages:
        try:
            if await hub.seats.send(seat_key, msg):
                sent += 1
        except Exception:
            # Best effort: the seat gets the result to sign when it reconnects.
            log.exception("evaluation.report_push_failed", seat_key=seat_key)
    return sent


async def reveal(hub: Services, actor: Principal, session_id: int, *, now: datetime) -> ResultView:
    """Reveal the seed, map labels back to bidders, compute and store the result; then send
    the result to every seated member's seat for signing."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        access.require(actor, access.Action.RUN_EVALUATION, loaded.target)
        ctx = await load_context(s, session_id, hub.sealer, lock=True)
        await apply_action_in(s, actor, ctx.session.id, "reveal", reason=None, now=now)
        verify_shuffle(ctx.seed, ctx.manifest, ctx.row.seed_commitment)
        computed = _compute(ctx.package, await sealed_scores(s, ctx))
        document = result_document(
            ctx.sid, ctx.package, computed.aggregation, computed.prices, computed.ranking
        )
        result: dict[str, Any] = json.loads(canonical(document))
        ctx.row.revealed_seed = ctx.seed.hex()
        ctx.row.revealed_at = now
        ctx.row.result = result
        ctx.row.result_digest = rules.document_digest(result)
        await append_event(
            s,
            kind="evaluation.revealed",
            subject=f"session:{ctx.session.id}",
            actor=actor.username,
            payload={
                "seed": ctx.row.revealed_seed,
                "seed_commitment": ctx.row.seed_commitment,
                "result_digest": ctx.row.result_digest,
                "candidates": list(computed.ranking.candidates),
            },
            at=now,
        )
        await s.flush()
        seats = {
            x.expert_code: x.seat_key
            for x in await seatings(s, session_id=ctx.session.id, with_expert=True)
            if x.expert_code in ctx.scorers
        }
    # Committed: the members may sign from now on.
    pushed = await _push(hub, report_messages(session_id, result, seats))
    return _result_view(ctx, pushed)


def _require_revealed(session: EvaluationSession, what: str) -> None:
    if session.state not in REVEALED:
        raise Conflict(
            "not-revealed",
            f"评标会当前状态为「{state_name(session.state)}」，解密还原之后才能{what}",
        )


async def result_view(hub: Services, actor: Principal, session_id: int) -> ResultView:
    """The result, for the host site's staff, once revealed."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        _require_revealed(loaded.session, "查看评标结果")
        return _result_view(await load_context(s, session_id, hub.sealer, lock=False))


async def gather_report(
    s: AsyncSession, session_id: int, sealer: Sealer, *, now: datetime
) -> ReportData:
    """What the evaluation report shows, inside the caller's unit of work (the caller checked
    the principal, or is the archive)."""
    session = (await load_session(s, session_id)).session
    _require_revealed(session, "生成评标报告")
    ctx = await load_context(s, session_id, sealer, lock=False)
    computed = _compute(ctx.package, await sealed_scores(s, ctx))
    committee = await s.execute(
        select(Expert.code, SessionExpert.placement, SessionExpert.is_chair)
        .join(SessionExpert, SessionExpert.expert_id == Expert.id)
        .where(SessionExpert.session_id == session.id)
        .order_by(SessionExpert.id)
    )
    placements: dict[str, str] = {}
    chair = None
    for code, placement, is_chair in committee.tuples():
        placements[code] = placement
        if is_chair and chair is None:
            chair = code
    requests = await requests_of(s, session.id)
    signatures = await signatures_of(s, session.id)
    return ReportData(
        session_id=session.id,
        session_state=state_name(session.state),
        host_name=ctx.host.name,
        session_project=f"{session.project_code} {session.project_name}",
        session_section=session.section,
        package=ctx.package,
        committee=[
            (code, e.name, e.employer, placements.get(code, ""))
            for code, e in ctx.members.items()
            if code in ctx.scorers
        ],
        chair=chair,
        content_digest=ctx.row.content_digest,
        seed_commitment=ctx.row.seed_commitment,
        revealed_seed=ctx.row.revealed_seed or "",
        scores=computed.scores,
        aggregation=computed.aggregation,
        prices=computed.prices,
        ranking=computed.ranking,
        result_digest=ctx.row.result_digest or "",
        reviews=[
            ReviewNote(
                round=r.round,
                expert=r.expert_code,
                part=r.part_id,
                subject=r.subject,
                item=r.item_id,
                # the flag key names the bidder: shown only here, after the reveal
                bidder=r.flag_key.split(":")[3],
                reason=r.reason,
                message=r.message,
                spread=r.spread,
                answer=r.answer,
                answer_reason=r.answer_reason,
                answered_by=r.answered_by,
                informational=r.informational,
            )
            for r in requests
        ],
        proxy_saves=[
            ProxySaveNote(p.expert, p.part, p.accepted, p.reason, p.recorded_by, p.received_at)
            for p in await proxy_saves(s, session.id)
        ],
        signatures=[
            SignatureNote(
                expert=x.expert_code,
                decision=x.decision,
                counted_as_agreement=x.counted_as_agreement,
                reason=x.reason,
                public_key=x.public_key,
                signature=x.signature,
                signed_at=x.signed_at,
            )
            for x in signatures
        ],
        generated_at=now,
    )


async def report_data(
    hub: Services, actor: Principal, session_id: int, *, now: datetime
) -> ReportData:
    """What the evaluation report shows, after the reveal."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        return await gather_report(s, session_id, hub.sealer, now=now)
