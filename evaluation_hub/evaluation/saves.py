"""Score saves (评分保存): judging each save an expert sends, recording it, and the sheets that
count.

A save comes from a seat (``save_from_seat``, called by the seat link's intake
``seats.scores.commit_score``) or is entered at the host (``save_from_host``, 代录). Each is
judged whole by the pure rules (``evaluation.rules``) in the unit of work that stores it, and
recorded with every reason, accepted or refused, with its audit event; a refused save never
counts, the latest accepted save per (expert, part) does. A seat save's verdict is written on
its ``submitted_scores`` row too, so the seat hears it (``score_ack``) and any replay of the same
key gets the same answer. Reading the evaluation never judges anything: nothing is left to.

Nobody acts for an expert checked in at a seat: the host may enter a save only for an expert
who is not, and only with a written reason (stored, audited, shown on the report as 代录). A
host refusal of the rules is committed before it is raised; a refusal of who may act is not.

An accepted save during the deviation review may make the members agree on an objective item:
the requests about it close themselves in the same unit of work (``evaluation.convergence``)
and the experts' seats are told after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.db.seat_terminals import SubmittedScore
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from evaluation_hub.evaluation import rules
from evaluation_hub.evaluation.context import Context, expert_at_seat, load_context
from evaluation_hub.evaluation.convergence import Settled, settle_agreed, settled_notice
from evaluation_hub.evaluation.models import ScoreSaveRow
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import formation
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import DURING_EVALUATION, SessionState, state_name
from scoring.sheets import ScoreEntry, ScoreSheet, reintegrate

__all__ = [
    "ACCEPTED_MESSAGE",
    "ProxySave",
    "SaveOutcome",
    "SeatSave",
    "checked_in_seat",
    "counted_sheets",
    "judge_and_record",
    "latest_accepted",
    "proxy_saves",
    "require_complete",
    "save_from_host",
    "save_from_seat",
    "verdict_message",
]

log = structlog.get_logger(__name__)

#: what the seat hears when its save counts
ACCEPTED_MESSAGE = "评分已保存，主场校验通过"
_MAX_MESSAGE = 500


@dataclass(frozen=True)
class SaveOutcome:
    save_id: int
    accepted: bool
    expert: str | None
    part: str | None
    code: str
    problems: tuple[str, ...]
    #: entered at the host for an expert not checked in at a seat (代录): the written reason
    proxy_reason: str | None = None


@dataclass(frozen=True)
class SeatSave:
    """The verdict on one seat save, as stored on its ``submitted_scores`` row."""

    submitted_id: int
    accepted: bool
    code: str
    message: str


@dataclass(frozen=True)
class ProxySave:
    """A save entered at the host for an expert (代录), for the board and the report."""

    save_id: int
    expert: str | None
    part: str | None
    accepted: bool
    reason: str
    recorded_by: str
    received_at: datetime


def verdict_message(outcome: SaveOutcome) -> str:
    """What the expert reads about the verdict on their save (Chinese, at most 500 chars)."""
    if outcome.accepted:
        return ACCEPTED_MESSAGE
    text = "评分表未被接受（已记录，不计入）：" + "；".join(outcome.problems)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


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
    proxy_reason: str | None = None,
    evidence: Mapping[str, str] | None = None,
) -> SaveOutcome:
    """Judge one save against the session as it stands and record it, accepted or refused.
    ``evidence`` (a seat save's idempotency key, payload digest, the seat key's signature and
    public key) goes into the audit event, so the chain vouches for the stored signature."""
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
        proxy_reason=proxy_reason,
    )
    s.add(row)
    await s.flush()
    payload: dict[str, Any] = {
        "save_id": row.id,
        "expert": expert or "",
        "part": part or "",
        "source": source,
        "code": code,
        "problems": len(problems),
    }
    if proxy_reason is not None:
        payload["proxy_reason"] = proxy_reason
    payload.update(evidence or {})
    await append_event(
        s,
        kind="evaluation.score_saved" if accepted else "evaluation.score_refused",
        subject=f"session:{ctx.session.id}",
        actor=recorded_by,
        payload=payload,
        at=now,
    )
    return SaveOutcome(row.id, accepted, expert, part, code, tuple(problems), proxy_reason)


async def _converge(
    s: AsyncSession, ctx: Context, outcome: SaveOutcome, now: datetime
) -> list[Settled]:
    """After an accepted save in the review: close the objective requests that now agree."""
    if not outcome.accepted or ctx.session.state != SessionState.DEVIATION_REVIEW:
        return []
    latest = await latest_accepted(s, ctx.session.id)
    if missing_parts(ctx, latest):
        return []
    scores = reintegrate(counted_sheets(ctx, latest), ctx.shuffle)
    return await settle_agreed(s, ctx, scores, now=now)


async def _tell_settled(hub: Services, settled: Sequence[Settled]) -> None:
    """Tell each expert's seat that their request closed itself (best effort: a seat that is
    not connected no longer finds the request among the open ones when it reconnects)."""
    if not settled:
        return
    async with hub.db.read() as s:
        seats = {
            x.expert_code: str(x.seat_key)
            for x in await seatings(s, session_id=settled[0].session_id, with_expert=True)
        }
    for x in settled:
        seat_key = seats.get(x.expert)
        if seat_key is None:
            continue
        try:
            await hub.seats.send(seat_key, settled_notice(x))
        except Exception:
            log.exception("evaluation.settled_push_failed", seat_key=seat_key, request=x.request_id)


def _session_number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 12 else None


async def save_from_seat(
    hub: Services,
    *,
    seat_key: str,
    idempotency_key: str,
    session_ref: str,
    sheet: dict[str, Any],
    digest: str,
    signature: str,
    public_key: str,
    now: datetime,
) -> SeatSave:
    """Store a seat's (signature-checked) save under its idempotency key and judge it in the
    same unit of work; the verdict is written on the stored row. A save for no session, or
    for one without a usable package, is stored with a refusal. Raises ``IntegrityError``
    when the key is already stored (the caller answers from the stored row)."""
    evidence = {
        "idempotency_key": idempotency_key,
        "payload_digest": digest,
        "seat_signature": signature,
        "seat_public_key": public_key,
    }
    settled: list[Settled] = []
    async with hub.db.write() as s:
        ctx: Context | None = None
        refusal: tuple[str, str] | None = None
        # The audit subject: the session when there is one, so the archive's slice holds it.
        subject = f"seat:{seat_key}"
        number = _session_number(session_ref)
        if number is None:
            refusal = ("unknown-session", f"评标会编号「{session_ref}」无效，评分未被接受")
        else:
            try:
                # Session, then package: the lock order of every evaluation write.
                await load_session(s, number, lock=True)
                subject = f"session:{number}"
                ctx = await load_context(s, number, hub.sealer, lock=True)
            except (NotFound, Conflict) as exc:
                detail = f"评分未被接受：{exc.detail}"
                refusal = (exc.code, detail if len(detail) <= _MAX_MESSAGE else detail[:499] + "…")
        row = SubmittedScore(
            idempotency_key=idempotency_key,
            seat_key=seat_key,
            session_ref=session_ref,
            sheet=sheet,
            payload_digest=digest,
            received_at=now,
            seat_signature=signature,
            seat_public_key=public_key,
        )
        s.add(row)
        await s.flush()  # the UNIQUE key decides a race between hub processes here
        if ctx is not None:
            outcome = await judge_and_record(
                s,
                ctx,
                sheet,
                seat_expert=await expert_at_seat(s, ctx.session.id, seat_key),
                seat_key=seat_key,
                source="seat",
                submitted_score_id=row.id,
                recorded_by=f"seat:{seat_key}",
                received_at=now,
                now=now,
                evidence=evidence,
            )
            accepted, code, message = outcome.accepted, outcome.code, verdict_message(outcome)
            settled = await _converge(s, ctx, outcome, now)
        else:
            assert refusal is not None
            accepted, (code, message) = False, refusal
            await append_event(
                s,
                kind="seat.score_refused",
                subject=subject,
                actor=f"seat:{seat_key}",
                payload={"session_ref": session_ref, "code": code, **evidence},
                at=now,
            )
        row.accepted, row.verdict_code, row.verdict_message = accepted, code, message
        result = SeatSave(row.id, accepted, code, message)
    await _tell_settled(hub, settled)
    return result


async def checked_in_seat(s: AsyncSession, session_id: int, expert: str) -> str | None:
    """The seat where ``expert`` is checked in for the session, if any."""
    found = await seatings(s, session_id=session_id, expert_code=expert, checked_in=True)
    return str(found[0].seat_key) if found else None


async def save_from_host(
    hub: Services,
    actor: Principal,
    session_id: int,
    raw: object,
    *,
    reason: str,
    now: datetime,
) -> SaveOutcome:
    """A save entered at the host for an expert (代录): only for an expert not checked in at a
    seat, and only with a written reason. A refusal of the rules is recorded, then raised."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        access.require(actor, access.Action.RUN_EVALUATION, loaded.target)
        reason = reason.strip()
        if not reason:
            raise InvalidInput(
                "proxy-reason-required",
                "主场代录评分须书面说明代录理由（如专家所在工位终端故障）",
            )
        named = raw.get("expert") if isinstance(raw, Mapping) else None
        if isinstance(named, str) and named.strip():
            seat = await checked_in_seat(s, session_id, named.strip())
            if seat is not None:
                raise Forbidden(
                    "expert-at-seat",
                    f"专家 {named.strip()} 已在工位 {seat} 签到，评分须由该工位提交，主场不能代录",
                )
        ctx = await load_context(s, session_id, hub.sealer, lock=True)
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
            proxy_reason=reason,
        )
        settled = await _converge(s, ctx, outcome, now)
    await _tell_settled(hub, settled)
    if not outcome.accepted:
        raise InvalidInput(
            outcome.code,
            f"评分表未被接受（已记录，不计入）：{outcome.problems[0]}"
            + (f" 等 {len(outcome.problems)} 个问题" if len(outcome.problems) > 1 else ""),
            problems=list(outcome.problems),
            save_id=outcome.save_id,
        )
    return outcome


async def proxy_saves(s: AsyncSession, session_id: int) -> list[ProxySave]:
    """Every save entered at the host (代录), in order, accepted or refused."""
    rows = await s.execute(
        select(ScoreSaveRow)
        .where(ScoreSaveRow.session_id == session_id, ScoreSaveRow.source == "host")
        .order_by(ScoreSaveRow.id)
    )
    return [
        ProxySave(
            save_id=r.id,
            expert=r.expert_code,
            part=r.part_id,
            accepted=r.accepted,
            reason=r.proxy_reason or "",
            recorded_by=r.recorded_by,
            received_at=r.received_at,
        )
        for r in rows.scalars()
    ]


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
