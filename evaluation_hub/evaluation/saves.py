"""Score saves (评分保存): judging each save an expert sends, recording it, and the sheets that
count.

A save comes from a seat (committed by the seat websocket in ``submitted_scores``, judged here
in arrival order by ``ingest``) or is entered at the host (``save_from_host``). Each is judged
whole by the pure rules (``evaluation.rules``) and recorded with every reason, accepted or
refused, with its audit event; a refused save never counts, the latest accepted save per
(expert, part) does. A refusal entered at the host is committed before it is raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.seat_terminals import SubmittedScore
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput
from evaluation_hub.evaluation import rules
from evaluation_hub.evaluation.context import Context, expert_at_seat, load_context
from evaluation_hub.evaluation.models import ScoreSaveRow
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import formation
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import DURING_EVALUATION, SessionState, state_name
from scoring.sheets import ScoreEntry, ScoreSheet

__all__ = [
    "SaveOutcome",
    "counted_sheets",
    "ingest",
    "ingest_seat_saves",
    "judge_and_record",
    "latest_accepted",
    "require_complete",
    "save_from_host",
]


@dataclass(frozen=True)
class SaveOutcome:
    save_id: int
    accepted: bool
    expert: str | None
    part: str | None
    code: str
    problems: tuple[str, ...]


async def latest_accepted(s: AsyncSession, session_id: int) -> dict[tuple[str, str], ScoreSaveRow]:
    """The save that counts now per (expert, part): the latest accepted one."""
    rows = await s.execute(
        select(ScoreSaveRow)
        .where(ScoreSaveRow.session_id == session_id, ScoreSaveRow.accepted.is_(True))
        .order_by(ScoreSaveRow.id)
    )
    latest: dict[tuple[str, str], ScoreSaveRow] = {}
    for r in rows.scalars():
        assert r.expert_code is not None and r.part_id is not None
        latest[r.expert_code, r.part_id] = r
    return latest


async def judge_and_record(
    s: AsyncSession,
    ctx: Context,
    raw: object,
    *,
    seat_expert: str | None,
    seat_key: str | None,
    source: str,
    submitted_score_id: int | None,
    recorded_by: str,
    received_at: datetime,
    now: datetime,
) -> SaveOutcome:
    """Judge one save against the session as it stands and record it, accepted or refused."""
    expert: str | None = seat_expert
    part: str | None = None
    entries: tuple[Any, ...] = ()
    declared: dict[str, str] = {}
    try:
        parsed = rules.parse_save(raw)
        part = parsed.part
        if seat_key is not None and seat_expert is None:
            raise rules.SaveRefused(
                "seat-not-seated", [f"工位 {seat_key} 未安排评标会 #{ctx.session.id} 的专家"]
            )
        if seat_expert is not None and parsed.expert not in (None, seat_expert):
            raise rules.SaveRefused(
                "expert-mismatch",
                [
                    f"评分表署名专家 {parsed.expert} 与工位 {seat_key} 安排的专家 {seat_expert} 不一致"
                ],
            )
        expert = seat_expert or parsed.expert
        if expert is None:
            raise rules.SaveRefused("expert-missing", ["评分表未写明评分专家（字段 expert）"])
        # Recusal first: a recused member is left out of the evaluation's members as well, and
        # the recusal is the reason to give.
        try:
            await formation.require_not_recused(s, ctx.session.id, expert)
        except Forbidden as exc:
            raise rules.SaveRefused(exc.code, [exc.detail]) from exc
        if expert not in ctx.manifest.expert_ids:
            raise rules.SaveRefused(
                "not-a-member",
                [f"专家 {expert} 不是评标会 #{ctx.session.id} 的评标委员会成员，评分不予计入"],
            )
        if ctx.session.state not in DURING_EVALUATION:
            raise rules.SaveRefused(
                "not-scoring",
                [f"评标会当前状态为「{state_name(ctx.session.state)}」，不接受评分"],
            )
        previous_row = (await latest_accepted(s, ctx.session.id)).get((expert, parsed.part))
        previous = (
            {
                (e["subject"], e["item"]): rules.parse_decimal_text(e["points"])
                for e in previous_row.entries
            }
            if previous_row is not None
            else None
        )
        entries = rules.judge_save(
            parsed,
            expert=expert,
            session_id=ctx.sid,
            package=ctx.package,
            view=ctx.shuffle.view(expert),
            previous=previous,
            in_review=ctx.session.state == SessionState.DEVIATION_REVIEW,
        )
        declared = {k: rules.decimal_text(v) for k, v in parsed.declared.items()}
        accepted, code, problems = True, "accepted", tuple[str, ...]()
    except rules.SaveRefused as exc:
        accepted, code, problems = False, exc.code, exc.problems
    row = ScoreSaveRow(
        session_id=ctx.session.id,
        expert_code=expert,
        part_id=part,
        source=source,
        submitted_score_id=submitted_score_id,
        entries=rules.entries_to_json(entries) if accepted else [],
        declared=declared if accepted else {},
        accepted=accepted,
        problems=[code, *problems] if not accepted else [],
        recorded_by=recorded_by,
        received_at=received_at,
    )
    s.add(row)
    await s.flush()
    await append_event(
        s,
        kind="evaluation.score_saved" if accepted else "evaluation.score_refused",
        subject=f"session:{ctx.session.id}",
        actor=recorded_by,
        payload={
            "save_id": row.id,
            "expert": expert or "",
            "part": part or "",
            "source": source,
            "code": code,
            "problems": len(problems),
        },
        at=now,
    )
    return SaveOutcome(row.id, accepted, expert, part, code, tuple(problems))


async def ingest(s: AsyncSession, ctx: Context, now: datetime) -> int:
    """Judge every seat save of this session that has not been judged yet, in arrival order
    (inside the caller's unit of work, which holds the package lock)."""
    judged = select(ScoreSaveRow.submitted_score_id).where(
        ScoreSaveRow.submitted_score_id.is_not(None)
    )
    pending = await s.execute(
        select(SubmittedScore)
        .where(SubmittedScore.session_ref == ctx.sid, SubmittedScore.id.not_in(judged))
        .order_by(SubmittedScore.id)
    )
    count = 0
    for sub in list(pending.scalars()):
        await judge_and_record(
            s,
            ctx,
            sub.sheet,
            seat_expert=await expert_at_seat(s, ctx.session.id, sub.seat_key),
            seat_key=sub.seat_key,
            source="seat",
            submitted_score_id=sub.id,
            recorded_by=f"seat:{sub.seat_key}",
            received_at=sub.received_at,
            now=now,
        )
        count += 1
    return count


async def ingest_seat_saves(hub: Services, session_id: int, *, now: datetime) -> int:
    """Judge the seat saves committed in ``submitted_scores`` (the hub's own work: no
    principal acts); returns how many were judged."""
    async with hub.db.write() as s:
        await load_session(s, session_id, lock=True)
        ctx = await load_context(s, session_id, hub.sealer, lock=True)
        return await ingest(s, ctx, now)


async def save_from_host(
    hub: Services, actor: Principal, session_id: int, raw: object, *, now: datetime
) -> SaveOutcome:
    """A save entered through the host-facing API; a refusal is recorded, then raised."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        access.require(actor, access.Action.RUN_EVALUATION, loaded.target)
        ctx = await load_context(s, session_id, hub.sealer, lock=True)
        await ingest(s, ctx, now)
        outcome = await judge_and_record(
            s,
            ctx,
            raw,
            seat_expert=None,
            seat_key=None,
            source="host",
            submitted_score_id=None,
            recorded_by=actor.username,
            received_at=now,
            now=now,
        )
    if not outcome.accepted:
        raise InvalidInput(
            outcome.code,
            f"评分表未被接受（已记录，不计入）：{outcome.problems[0]}"
            + (f" 等 {len(outcome.problems)} 个问题" if len(outcome.problems) > 1 else ""),
            problems=list(outcome.problems),
            save_id=outcome.save_id,
        )
    return outcome


def counted_sheets(ctx: Context, latest: dict[tuple[str, str], ScoreSaveRow]) -> list[ScoreSheet]:
    """Each scorer's sheet from the saves that count (every part must be in)."""
    sheets = []
    for expert in ctx.scorers:
        entries: list[ScoreEntry] = []
        declared: dict[tuple[str, str], Decimal] = {}
        for part in rules.part_ids(ctx.package):
            row = latest[expert, part]
            entries.extend(rules.entries_from_json(part, row.entries))
            declared.update(
                {(part, sub): rules.parse_decimal_text(t) for sub, t in row.declared.items()}
            )
        sheets.append(ScoreSheet(ctx.sid, expert, tuple(entries), declared))
    return sheets


def missing_parts(
    ctx: Context, latest: dict[tuple[str, str], ScoreSaveRow]
) -> dict[str, list[str]]:
    """Per scorer, the parts with no accepted save yet."""
    missing: dict[str, list[str]] = {}
    for expert in ctx.scorers:
        parts = [p for p in rules.part_ids(ctx.package) if (expert, p) not in latest]
        if parts:
            missing[expert] = parts
    return missing


def require_complete(ctx: Context, latest: dict[tuple[str, str], ScoreSaveRow], verb: str) -> None:
    missing = missing_parts(ctx, latest)
    if missing:
        listing = "；".join(f"专家 {e} 缺 {'、'.join(p)}" for e, p in missing.items())
        raise Conflict("scores-incomplete", f"尚有评分未提交，不能{verb}：{listing}")
