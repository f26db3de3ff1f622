"""The evaluation engine against the database: one unit of work per call.

Every write locks the session's package row first (``FOR UPDATE`` on PostgreSQL; SQLite has a
single writer), so seat intake, review rounds and sealing of one session never interleave.
Lifecycle moves go through ``sessions.store.apply_action_in`` in the same unit of work as the
facts that justify them; every change appends an audit event. Refusals are ``ProblemError``
subclasses with Chinese messages. A refused score save is committed (recorded) before the
refusal is raised to the caller.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.audit.store import append_event
from evaluation_hub.bids.package_io import read_package
from evaluation_hub.booking import rules as booking_rules
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import (
    Booking,
    BookingSeat,
    EvaluationSession,
    Expert,
    Seat,
    SessionExpert,
    Venue,
)
from evaluation_hub.db.seat_terminals import SeatEnrolment, SubmittedScore
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from evaluation_hub.evaluation import rules
from evaluation_hub.evaluation.models import (
    AnonymityOverrideRow,
    EvaluationPackageRow,
    ReportSignatureRow,
    ReviewRequestRow,
    ScoreSaveRow,
)
from evaluation_hub.evaluation.packages import PackageChanged, content_digest, load_pinned
from evaluation_hub.evaluation.report import ReportData, ReviewNote, SignatureNote
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.sessions import formation, lifecycle
from evaluation_hub.sessions.states import (
    BEFORE_START,
    DURING_EVALUATION,
    OVERRIDES_ALLOWED,
    REVEALED,
)
from evaluation_hub.sessions.states import SessionState as S
from evaluation_hub.sessions.store import apply_action_in
from scoring.aggregation import Aggregation, aggregate
from scoring.anonymity import Finding, scan_package
from scoring.errors import AggregationError, PackageInvalid, PriceError, SignatureInvalid
from scoring.model import BidPackage
from scoring.price import PriceResult, Ranking, rank, score_prices
from scoring.review import Explanation, ReviewConfig, ReviewFlag, open_flags, review
from scoring.sheets import Reintegrated, ScoreEntry, ScoreSheet, reintegrate
from scoring.shuffle import SEED_BYTES, ShuffleManifest, StaggeredShuffle, commitment, derive
from scoring.shuffle import verify as verify_shuffle
from scoring.signing import canonical, result_document
from scoring.signing import verify as verify_signature

__all__ = [
    "Context",
    "Overview",
    "SaveOutcome",
    "SeatActor",
    "answer_request",
    "attach_package",
    "expert_briefing",
    "expert_view",
    "ingest_seat_saves",
    "overview",
    "record_override",
    "report_data",
    "result_view",
    "reveal",
    "review_round",
    "save_from_host",
    "seal",
    "seat_expert",
    "seated_experts",
    "sign_report",
    "start_evaluation",
    "stored_manifest",
    "stored_shuffle",
]

_LIVE = tuple(booking_rules.LIVE_STATES)


def seed_purpose(session_id: int) -> str:
    return f"evaluation-shuffle-seed:{session_id}"


def stored_manifest(row: EvaluationPackageRow) -> ShuffleManifest:
    """The shuffle manifest as the package row keeps it (and its commitment covers)."""
    m = row.manifest
    return ShuffleManifest(
        m["session_id"], tuple(m["experts"]), tuple(m["chapters"]), tuple(m["bidders"])
    )


def stored_shuffle(row: EvaluationPackageRow, sealer: Sealer) -> StaggeredShuffle:
    """Every expert's view, from the sealed seed: only the hub's sealing key opens it."""
    seed = sealer.open(row.sealed_seed, seed_purpose(row.session_id))
    return derive(seed, stored_manifest(row))


@dataclass(frozen=True)
class SeatActor:
    """An authenticated seat terminal acting for the expert booked at it (seat paths of
    ``answer_request`` and ``sign_report``); it may act only for that expert."""

    seat_key: str

    @property
    def username(self) -> str:
        return f"seat:{self.seat_key}"


async def _require_seated(s: AsyncSession, actor: SeatActor, session_id: int, expert: str) -> None:
    seated = await _seat_expert(s, session_id, actor.seat_key)
    if seated != expert:
        raise Forbidden(
            "not-seated-expert",
            f"工位 {actor.seat_key} 安排的不是专家 {expert}，不能代其答复或签署",
        )


# --- loading -------------------------------------------------------------------------------


@dataclass
class Context:
    """A session with its attached package, committee and (for the hub only) its shuffle."""

    session: EvaluationSession
    host: Venue
    row: EvaluationPackageRow
    package: BidPackage
    manifest: ShuffleManifest
    #: expert code → expert, in committee order
    members: dict[str, Expert]
    _seed: bytes = field(repr=False)
    _shuffle: StaggeredShuffle | None = field(default=None, repr=False)
    #: members who declared recusal (回避); the committed shuffle may still hold their views
    recused: frozenset[str] = frozenset()

    @property
    def scorers(self) -> tuple[str, ...]:
        """The members whose sheets make the result: the committed members not recused. A
        recusal after the start leaves the commitment as it was (it was published before the
        review) and takes the member out of everything counted."""
        return tuple(e for e in self.manifest.expert_ids if e not in self.recused)

    @property
    def shuffle(self) -> StaggeredShuffle:
        if self._shuffle is None:
            self._shuffle = derive(self._seed, self.manifest)
        return self._shuffle

    @property
    def sid(self) -> str:
        return str(self.session.id)


async def _session(s: AsyncSession, session_id: int) -> tuple[EvaluationSession, Venue]:
    session = await s.get(EvaluationSession, session_id)
    if session is None:
        raise NotFound("session-not-found", f"评标会 #{session_id} 不存在")
    host = await s.get(Venue, session.host_venue_id)
    assert host is not None
    return session, host


def _require_host_operator(actor: Principal, session: EvaluationSession, host: Venue) -> None:
    if actor.role == "host_operator" and actor.venue_id == session.host_venue_id:
        return
    raise Forbidden(
        "not-host",
        f"只有主场「{host.name}」的业务人员可以操作评标会 #{session.id} 的评审，当前用户 "
        f"{actor.username} 无此权限",
    )


def _require_visible(actor: Principal, session: EvaluationSession) -> None:
    if not (actor.is_system or actor.venue_id == session.host_venue_id):
        raise Forbidden("session-not-visible", f"评标会 #{session.id} 不由本场地主办，无权查看")


async def _members(s: AsyncSession, session_id: int) -> dict[str, Expert]:
    rows = await s.execute(
        select(Expert)
        .join(SessionExpert, SessionExpert.expert_id == Expert.id)
        .where(SessionExpert.session_id == session_id)
        .order_by(SessionExpert.id)
    )
    return {e.code: e for e in rows.scalars()}


async def _context(s: AsyncSession, session_id: int, sealer: Sealer, *, lock: bool) -> Context:
    session, host = await _session(s, session_id)
    query = select(EvaluationPackageRow).where(EvaluationPackageRow.session_id == session.id)
    if lock:
        query = query.with_for_update()
    row = (await s.execute(query)).scalar_one_or_none()
    if row is None:
        raise Conflict("no-package", f"评标会 #{session.id} 尚未导入标书包")
    try:
        package = await asyncio.to_thread(load_pinned, Path(row.source_path), row.content_digest)
    except PackageChanged:
        raise Conflict(
            "package-changed",
            f"标书包目录 {row.source_path} 的内容与导入时不一致（摘要 {row.content_digest}），"
            "评审已停止；请恢复导入时的文件",
        ) from None
    manifest = stored_manifest(row)
    members = await _members(s, session.id)
    seed = sealer.open(row.sealed_seed, seed_purpose(session.id))
    recused = frozenset(await _codes(s, session.id, ("recused",)))
    return Context(session, host, row, package, manifest, members, seed, recused=recused)


# --- 1. attach ------------------------------------------------------------------------------


def _finding_json(f: Finding) -> dict[str, Any]:
    # The matched text and snippet are left out: they are the bidder's identity.
    return {
        "bidder_id": f.bidder_id,
        "chapter_id": f.chapter_id,
        "kind": f.kind.value,
        "kind_name": f.kind.label,
        "line": f.line,
        "column": f.column,
        "owner_id": f.owner_id,
    }


def _read(directory: Path) -> tuple[BidPackage, str, str]:
    try:
        package = read_package(directory)
    except FileNotFoundError:
        raise InvalidInput("package-not-found", f"标书包目录 {directory} 不存在") from None
    except PackageInvalid as exc:
        raise InvalidInput(
            "package-invalid",
            f"标书包有 {len(exc.problems)} 个问题，请全部改正后重新导入",
            problems=[
                {"file": p.file, "field": p.field, "message": p.message} for p in exc.problems
            ],
        ) from None
    return package, str(directory.resolve()), content_digest(directory)


async def attach_package(
    db: Database,
    actor: Principal,
    session_id: int,
    directory: Path,
    *,
    sealer: Sealer,
    now: datetime,
) -> EvaluationPackageRow:
    """Import and validate the package, scan it, and commit the shuffle seed."""
    package, source, digest = await asyncio.to_thread(_read, directory)
    async with db.write() as s:
        session, host = await _session(s, session_id)
        _require_host_operator(actor, session, host)
        if session.state not in BEFORE_START:
            raise Conflict(
                "package-too-late",
                f"评标会当前状态为「{lifecycle.STATE_NAMES[session.state]}」，"
                "只能在开始评审前导入标书包",
            )
        existing = (
            await s.execute(
                select(EvaluationPackageRow).where(EvaluationPackageRow.session_id == session.id)
            )
        ).scalar_one_or_none()
        if existing is not None:
            raise Conflict("package-attached", f"评标会 #{session.id} 已导入标书包，不能重复导入")
        # A member who already declared recusal is not evaluated: their view is not committed.
        members = await _codes(s, session.id, ("pending", "confirmed"))
        if not members:
            raise Conflict(
                "no-committee", f"评标会 #{session.id} 尚未登记评标委员会专家，不能生成错位评审种子"
            )
        findings = [_finding_json(f) for f in scan_package(package)]
        seed = secrets.token_bytes(SEED_BYTES)
        manifest = ShuffleManifest(
            str(session.id), tuple(members), package.chapter_ids, package.bidder_ids
        )
        row = EvaluationPackageRow(
            session_id=session.id,
            source_path=source,
            content_digest=digest,
            manifest={
                "session_id": manifest.session_id,
                "experts": list(manifest.expert_ids),
                "chapters": list(manifest.chapter_ids),
                "bidders": list(manifest.bidder_ids),
            },
            findings=findings,
            seed_commitment=commitment(seed, manifest),
            sealed_seed=sealer.seal(seed, seed_purpose(session.id)),
            attached_by=actor.username,
            attached_at=now,
        )
        s.add(row)
        await append_event(
            s,
            kind="evaluation.package_attached",
            subject=f"session:{session.id}",
            actor=actor.username,
            payload={
                "content_digest": row.content_digest,
                "seed_commitment": row.seed_commitment,
                "experts": list(manifest.expert_ids),
                "chapters": list(manifest.chapter_ids),
                "bidders": list(manifest.bidder_ids),
                "anonymity_findings": len(findings),
            },
            at=now,
        )
        await s.flush()
        return row


async def _codes(s: AsyncSession, session_id: int, decisions: Sequence[str]) -> list[str]:
    """The codes of the session's members with one of ``decisions``, in the order they joined."""
    rows = await s.execute(
        select(Expert.code)
        .join(SessionExpert, SessionExpert.expert_id == Expert.id)
        .where(SessionExpert.session_id == session_id, SessionExpert.decision.in_(decisions))
        .order_by(SessionExpert.id)
    )
    return list(rows.scalars())


async def recommit_members(
    s: AsyncSession,
    session_id: int,
    members: Sequence[str],
    *,
    sealer: Sealer,
    actor: str,
    why: str,
    now: datetime,
) -> bool:
    """Re-commit the attached package's shuffle to ``members`` (same seed, so the views of the
    experts who stay are unchanged: a view depends only on the seed and that expert's id).

    Called in the caller's unit of work when the committee changes before the review starts:
    a replacement joins after a recusal, or the evaluation starts with the members who
    confirmed. The new commitment replaces the old, both are on the audit chain
    (``evaluation.members_recommitted``), and after the reveal the seed verifies the stored
    one. Returns False when nothing changed (or no package is attached yet)."""
    row = (
        await s.execute(
            select(EvaluationPackageRow)
            .where(EvaluationPackageRow.session_id == session_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or list(row.manifest["experts"]) == list(members):
        return False
    manifest = replace(stored_manifest(row), expert_ids=tuple(members))
    seed = sealer.open(row.sealed_seed, seed_purpose(session_id))
    previous, before = row.seed_commitment, list(row.manifest["experts"])
    row.manifest = {**row.manifest, "experts": list(members)}
    row.seed_commitment = commitment(seed, manifest)
    await s.flush()
    await append_event(
        s,
        kind="evaluation.members_recommitted",
        subject=f"session:{session_id}",
        actor=actor,
        payload={
            "why": why,
            "experts": list(members),
            "left_out": [e for e in before if e not in members],
            "added": [e for e in members if e not in before],
            "seed_commitment": row.seed_commitment,
            "previous_commitment": previous,
        },
        at=now,
    )
    return True


async def start_evaluation(
    db: Database,
    actor: Principal,
    session_id: int,
    *,
    sealer: Sealer,
    reason: str | None,
    now: datetime,
) -> EvaluationSession:
    """Start the review (开始评审) with the members who confirmed their commitment.

    The lifecycle move refuses unless they form a lawful committee; then the attached
    package's shuffle is re-committed to exactly them, so a member still pending (or recused
    since the package was attached) is not part of the evaluation, and a replacement who
    confirmed is. One unit of work: the move and the commitment stand or fall together."""
    async with db.write() as s:
        session = await apply_action_in(
            s, actor, session_id, "start_evaluation", reason=reason, now=now
        )
        # At least five: the move above refuses a committee that is not lawful.
        members = await _codes(s, session_id, ("confirmed",))
        await recommit_members(
            s,
            session_id,
            members,
            sealer=sealer,
            actor=actor.username,
            why="start_evaluation",
            now=now,
        )
        return session


def _blocked(
    row: EvaluationPackageRow, overrides: Sequence[AnonymityOverrideRow]
) -> dict[str, int]:
    released = {(o.bidder_id, o.chapter_id) for o in overrides}
    blocked: dict[str, int] = {}
    for f in row.findings:
        if (f["bidder_id"], f["chapter_id"]) not in released:
            key = f"{f['bidder_id']}/{f['chapter_id']}"
            blocked[key] = blocked.get(key, 0) + 1
    return blocked


async def _overrides(s: AsyncSession, session_id: int) -> list[AnonymityOverrideRow]:
    rows = await s.execute(
        select(AnonymityOverrideRow)
        .where(AnonymityOverrideRow.session_id == session_id)
        .order_by(AnonymityOverrideRow.id)
    )
    return list(rows.scalars())


async def record_override(
    db: Database,
    actor: Principal,
    session_id: int,
    bidder_id: str,
    chapter_id: str,
    reason: str,
    *,
    sealer: Sealer,
    now: datetime,
) -> AnonymityOverrideRow:
    """Release a flagged chapter with a recorded reason (暗标合规检查放行)."""
    async with db.write() as s:
        ctx = await _context(s, session_id, sealer, lock=True)
        _require_host_operator(actor, ctx.session, ctx.host)
        if not reason.strip():
            raise InvalidInput("reason-required", "放行含识别标记的章节必须填写理由")
        if ctx.session.state not in OVERRIDES_ALLOWED:
            raise Conflict("override-too-late", "评标会已封存，不能再放行章节")
        count = sum(
            1
            for f in ctx.row.findings
            if f["bidder_id"] == bidder_id and f["chapter_id"] == chapter_id
        )
        if not count:
            raise Conflict(
                "not-flagged", f"投标人 {bidder_id} 的章节 {chapter_id} 未发现识别标记，无需放行"
            )
        if any(
            o.bidder_id == bidder_id and o.chapter_id == chapter_id
            for o in await _overrides(s, ctx.session.id)
        ):
            raise Conflict(
                "override-exists", f"投标人 {bidder_id} 的章节 {chapter_id} 已记录放行理由"
            )
        row = AnonymityOverrideRow(
            session_id=ctx.session.id,
            bidder_id=bidder_id,
            chapter_id=chapter_id,
            reason=reason.strip(),
            recorded_by=actor.username,
            recorded_at=now,
        )
        s.add(row)
        await append_event(
            s,
            kind="evaluation.anonymity_override",
            subject=f"session:{ctx.session.id}",
            actor=actor.username,
            payload={
                "bidder_id": bidder_id,
                "chapter_id": chapter_id,
                "findings": count,
                "reason": row.reason,
            },
            at=now,
        )
        await s.flush()
        return row


async def expert_view(
    db: Database, actor: Principal, session_id: int, expert: str, *, sealer: Sealer
) -> tuple[Context, list[dict[str, Any]]]:
    """What one expert receives: per chapter, its title and the labels in display order."""
    async with db.read() as s:
        ctx = await _context(s, session_id, sealer, lock=False)
        _require_visible(actor, ctx.session)
        if expert not in ctx.manifest.expert_ids:
            raise NotFound(
                "not-a-member", f"专家 {expert} 不是评标会 #{session_id} 的评标委员会成员"
            )
        blocked = _blocked(ctx.row, await _overrides(s, ctx.session.id))
    if blocked:
        listing = "、".join(f"{k}（{n} 处）" for k, n in sorted(blocked.items()))
        raise Conflict(
            "anonymity-blocked",
            f"尚有 {len(blocked)} 个章节含识别标记且未记录放行理由，不能向专家发放：{listing}",
        )
    view = ctx.shuffle.view(expert)
    return ctx, [
        {
            "chapter_id": c.chapter_id,
            "title": ctx.package.chapter(c.chapter_id).title,
            "labels": list(c.labels),
        }
        for c in view.chapters
    ]


# --- 2. score saves ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveOutcome:
    save_id: int
    accepted: bool
    expert: str | None
    part: str | None
    code: str
    problems: tuple[str, ...]


async def _latest_accepted(s: AsyncSession, session_id: int) -> dict[tuple[str, str], ScoreSaveRow]:
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


async def _judge_and_record(
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
                [f"评标会当前状态为「{lifecycle.STATE_NAMES[ctx.session.state]}」，不接受评分"],
            )
        previous_row = (await _latest_accepted(s, ctx.session.id)).get((expert, parsed.part))
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
            in_review=ctx.session.state == S.DEVIATION_REVIEW,
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


async def _seat_expert(s: AsyncSession, session_id: int, seat_key: str) -> str | None:
    venue_code, dot, label = seat_key.partition(".")
    if not dot:
        return None
    found = await s.execute(
        select(Expert.code)
        .join(BookingSeat, BookingSeat.expert_id == Expert.id)
        .join(Booking, Booking.id == BookingSeat.booking_id)
        .join(Seat, Seat.id == BookingSeat.seat_id)
        .join(Venue, Venue.id == Seat.venue_id)
        .where(
            Booking.session_id == session_id,
            Booking.state.in_(_LIVE),
            BookingSeat.live.is_(True),
            Venue.code == venue_code,
            Seat.label == label,
        )
    )
    code: str | None = found.scalars().first()
    return code


async def _ingest(s: AsyncSession, ctx: Context, now: datetime) -> int:
    """Judge every seat save of this session that has not been judged yet, in arrival order."""
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
        await _judge_and_record(
            s,
            ctx,
            sub.sheet,
            seat_expert=await _seat_expert(s, ctx.session.id, sub.seat_key),
            seat_key=sub.seat_key,
            source="seat",
            submitted_score_id=sub.id,
            recorded_by=f"seat:{sub.seat_key}",
            received_at=sub.received_at,
            now=now,
        )
        count += 1
    return count


async def ingest_seat_saves(db: Database, session_id: int, *, sealer: Sealer, now: datetime) -> int:
    """Judge the seat saves committed in ``submitted_scores`` (the seat intake calls this)."""
    async with db.write() as s:
        ctx = await _context(s, session_id, sealer, lock=True)
        return await _ingest(s, ctx, now)


async def save_from_host(
    db: Database,
    actor: Principal,
    session_id: int,
    raw: object,
    *,
    sealer: Sealer,
    now: datetime,
) -> SaveOutcome:
    """A save entered through the host-facing API; a refusal is recorded, then raised."""
    async with db.write() as s:
        ctx = await _context(s, session_id, sealer, lock=True)
        _require_host_operator(actor, ctx.session, ctx.host)
        await _ingest(s, ctx, now)
        outcome = await _judge_and_record(
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


def _sheets(ctx: Context, latest: dict[tuple[str, str], ScoreSaveRow]) -> list[ScoreSheet]:
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


def _missing(ctx: Context, latest: dict[tuple[str, str], ScoreSaveRow]) -> dict[str, list[str]]:
    missing: dict[str, list[str]] = {}
    for expert in ctx.scorers:
        parts = [p for p in rules.part_ids(ctx.package) if (expert, p) not in latest]
        if parts:
            missing[expert] = parts
    return missing


def _require_complete(ctx: Context, latest: dict[tuple[str, str], ScoreSaveRow], verb: str) -> None:
    missing = _missing(ctx, latest)
    if missing:
        listing = "；".join(f"专家 {e} 缺 {'、'.join(p)}" for e, p in missing.items())
        raise Conflict("scores-incomplete", f"尚有评分未提交，不能{verb}：{listing}")


# --- overview -------------------------------------------------------------------------------


@dataclass
class Overview:
    ctx: Context
    overrides: list[AnonymityOverrideRow]
    blocked: dict[str, int]
    latest: dict[tuple[str, str], ScoreSaveRow]
    refused: list[ScoreSaveRow]
    requests: list[ReviewRequestRow]
    signatures: list[ReportSignatureRow]


async def _requests(s: AsyncSession, session_id: int) -> list[ReviewRequestRow]:
    rows = await s.execute(
        select(ReviewRequestRow)
        .where(ReviewRequestRow.session_id == session_id)
        .order_by(ReviewRequestRow.id)
    )
    return list(rows.scalars())


async def _signatures(s: AsyncSession, session_id: int) -> list[ReportSignatureRow]:
    rows = await s.execute(
        select(ReportSignatureRow)
        .where(ReportSignatureRow.session_id == session_id)
        .order_by(ReportSignatureRow.id)
    )
    return list(rows.scalars())


async def overview(
    db: Database, actor: Principal, session_id: int, *, sealer: Sealer, now: datetime
) -> Overview:
    """Everything about the evaluation that may be shown now; seat saves are judged first."""
    async with db.write() as s:
        session, _ = await _session(s, session_id)
        _require_visible(actor, session)
        ctx = await _context(s, session_id, sealer, lock=True)
        if ctx.session.state in DURING_EVALUATION:
            await _ingest(s, ctx, now)
        overrides = await _overrides(s, session_id)
        refused = await s.execute(
            select(ScoreSaveRow)
            .where(ScoreSaveRow.session_id == session_id, ScoreSaveRow.accepted.is_(False))
            .order_by(ScoreSaveRow.id)
        )
        return Overview(
            ctx,
            overrides,
            _blocked(ctx.row, overrides),
            await _latest_accepted(s, session_id),
            list(refused.scalars()),
            await _requests(s, session_id),
            await _signatures(s, session_id),
        )


# --- 3. deviation review ------------------------------------------------------------------------


def _explanations(requests: Sequence[ReviewRequestRow]) -> list[Explanation]:
    return [
        Explanation(r.flag_key, r.expert_code, r.answer_reason)
        for r in requests
        if r.answer == "keep" and r.answer_reason.strip()
    ]


async def review_round(
    db: Database, actor: Principal, session_id: int, *, sealer: Sealer, now: datetime
) -> list[ReviewRequestRow]:
    """Find the open flags and request a review from the experts they concern.

    From ``evaluating`` this also moves the session to ``deviation_review``; in
    ``deviation_review`` it starts a further round for flags nobody has been asked about yet.
    """
    async with db.write() as s:
        ctx = await _context(s, session_id, sealer, lock=True)
        _require_host_operator(actor, ctx.session, ctx.host)
        if ctx.session.state not in DURING_EVALUATION:
            raise Conflict(
                "not-scoring",
                f"评标会当前状态为「{lifecycle.STATE_NAMES[ctx.session.state]}」，不能发起偏离复核",
            )
        await _ingest(s, ctx, now)
        latest = await _latest_accepted(s, ctx.session.id)
        _require_complete(ctx, latest, "进入偏离复核")
        scores = reintegrate(_sheets(ctx, latest), ctx.shuffle)
        existing = await _requests(s, ctx.session.id)
        flags = open_flags(_flags(ctx, scores), _explanations(existing))
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
            )
            s.add(row)
            created.append(row)
        if ctx.session.state == S.EVALUATING:
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
                "requests": [r.id for r in created],
            },
            at=now,
        )
        return created


def _flags(ctx: Context, scores: Reintegrated) -> list[ReviewFlag]:
    return review(scores, ctx.package, ReviewConfig(share=ctx.package.method.deviation_share))


async def answer_request(
    db: Database,
    actor: Principal | SeatActor,
    session_id: int,
    request_id: int,
    answer: str,
    reason: str,
    *,
    sealer: Sealer,
    now: datetime,
) -> ReviewRequestRow:
    """The expert's answer: keep the score with written reasons, or revise (after re-scoring)."""
    async with db.write() as s:
        ctx = await _context(s, session_id, sealer, lock=True)
        if not isinstance(actor, SeatActor):
            _require_host_operator(actor, ctx.session, ctx.host)
        request = await s.get(ReviewRequestRow, request_id)
        if request is None or request.session_id != ctx.session.id:
            raise NotFound(
                "review-request-not-found", f"评标会 #{session_id} 没有复核请求 #{request_id}"
            )
        if isinstance(actor, SeatActor):
            await _require_seated(s, actor, ctx.session.id, request.expert_code)
        await formation.require_not_recused(s, ctx.session.id, request.expert_code)
        if ctx.session.state != S.DEVIATION_REVIEW:
            raise Conflict(
                "not-in-review",
                f"评标会当前状态为「{lifecycle.STATE_NAMES[ctx.session.state]}」，不能答复复核请求",
            )
        if request.answer is not None:
            raise Conflict("already-answered", f"复核请求 #{request.id} 已答复，不能重复答复")
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
            await _ingest(s, ctx, now)
            latest = (await _latest_accepted(s, ctx.session.id)).get(
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
            },
            at=now,
        )
        await s.flush()
        return request


# --- 4. seal, reveal, result ---------------------------------------------------------------------


async def seal(
    db: Database, actor: Principal, session_id: int, *, sealer: Sealer, now: datetime
) -> EvaluationPackageRow:
    """Close the scoring: every sheet in, no open flag; the counted saves are frozen."""
    async with db.write() as s:
        ctx = await _context(s, session_id, sealer, lock=True)
        _require_host_operator(actor, ctx.session, ctx.host)
        if ctx.session.state == S.DEVIATION_REVIEW:
            await _ingest(s, ctx, now)
        await apply_action_in(s, actor, ctx.session.id, "seal", reason=None, now=now)
        # Recusals during the review may have left too few (or an even number of) members.
        await formation.require_lawful_committee(s, ctx.session.id, verb="封存评审结果")
        latest = await _latest_accepted(s, ctx.session.id)
        _require_complete(ctx, latest, "封存")
        scores = reintegrate(_sheets(ctx, latest), ctx.shuffle)
        requests = await _requests(s, ctx.session.id)
        flags = _flags(ctx, scores)
        still_open = open_flags(flags, _explanations(requests))
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
        return ctx.row


@dataclass
class Computed:
    scores: Reintegrated
    aggregation: Aggregation
    prices: PriceResult
    ranking: Ranking


async def _sealed_scores(s: AsyncSession, ctx: Context) -> Reintegrated:
    ids = ctx.row.sealed_save_ids or []
    rows = await s.execute(select(ScoreSaveRow).where(ScoreSaveRow.id.in_(ids)))
    latest = {(r.expert_code or "", r.part_id or ""): r for r in rows.scalars()}
    return reintegrate(_sheets(ctx, latest), ctx.shuffle)


def _compute(ctx: Context, scores: Reintegrated) -> Computed:
    try:
        agg = aggregate(scores, ctx.package)
        prices = score_prices(ctx.package)
        ranking = rank(ctx.package, agg, prices)
    except (AggregationError, PriceError) as exc:
        raise Conflict("result-failed", f"无法按评标办法计算结果：{exc}") from None
    return Computed(scores, agg, prices, ranking)


async def reveal(
    db: Database, actor: Principal, session_id: int, *, sealer: Sealer, now: datetime
) -> EvaluationPackageRow:
    """Reveal the seed, map labels back to bidders, compute and store the result."""
    async with db.write() as s:
        ctx = await _context(s, session_id, sealer, lock=True)
        _require_host_operator(actor, ctx.session, ctx.host)
        await apply_action_in(s, actor, ctx.session.id, "reveal", reason=None, now=now)
        verify_shuffle(ctx._seed, ctx.manifest, ctx.row.seed_commitment)
        computed = _compute(ctx, await _sealed_scores(s, ctx))
        document = result_document(
            ctx.sid, ctx.package, computed.aggregation, computed.prices, computed.ranking
        )
        result: dict[str, Any] = json.loads(canonical(document))
        ctx.row.revealed_seed = ctx._seed.hex()
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
        return ctx.row


def _require_revealed(session: EvaluationSession, what: str) -> None:
    if session.state not in REVEALED:
        raise Conflict(
            "not-revealed",
            f"评标会当前状态为「{lifecycle.STATE_NAMES[session.state]}」，解密还原之后才能{what}",
        )


async def result_view(
    db: Database, actor: Principal, session_id: int, *, sealer: Sealer
) -> Context:
    async with db.read() as s:
        session, _ = await _session(s, session_id)
        _require_visible(actor, session)
        _require_revealed(session, "查看评标结果")
        return await _context(s, session_id, sealer, lock=False)


# --- 5. signatures and report --------------------------------------------------------------------


async def _enrolled_key(s: AsyncSession, session_id: int, expert_id: int) -> bytes | None:
    """The approved Ed25519 key of the seat the expert is booked at, if the seat is enrolled."""
    found = await s.execute(
        select(SeatEnrolment.ed25519_public_key)
        .join(BookingSeat, BookingSeat.seat_id == SeatEnrolment.seat_id)
        .join(Booking, Booking.id == BookingSeat.booking_id)
        .where(
            Booking.session_id == session_id,
            Booking.state.in_(_LIVE),
            BookingSeat.live.is_(True),
            BookingSeat.expert_id == expert_id,
            SeatEnrolment.status == "approved",
        )
    )
    key: bytes | None = found.scalars().first()
    return key


async def sign_report(
    db: Database,
    actor: Principal | SeatActor,
    session_id: int,
    *,
    expert: str,
    decision: str,
    reason: str,
    public_key: str | None,
    signature: str | None,
    sealer: Sealer,
    now: datetime,
) -> ReportSignatureRow:
    """Record one member's signature (agree / disagree with reasons) or refusal to sign."""
    async with db.write() as s:
        ctx = await _context(s, session_id, sealer, lock=True)
        if isinstance(actor, SeatActor):
            await _require_seated(s, actor, ctx.session.id, expert)
        else:
            _require_host_operator(actor, ctx.session, ctx.host)
        await formation.require_not_recused(s, ctx.session.id, expert)
        if ctx.session.state != S.REVEALED:
            raise Conflict(
                "not-signing",
                f"评标会当前状态为「{lifecycle.STATE_NAMES[ctx.session.state]}」，不能签署评标报告",
            )
        member = ctx.members.get(expert)
        if member is None or expert not in ctx.manifest.expert_ids:
            raise NotFound(
                "not-a-member", f"专家 {expert} 不是评标会 #{session_id} 的评标委员会成员"
            )
        signed = await _signatures(s, ctx.session.id)
        if any(x.expert_code == expert for x in signed):
            raise Conflict("already-signed", f"专家 {expert} 已签署评标报告，不能重复签署")
        assert ctx.row.result is not None
        reason = reason.strip()
        agrees = decision == "agree"
        document = rules.signature_document(ctx.sid, expert, agrees, reason, ctx.row.result)
        if decision == "refuse":
            public_key = signature = None
        else:
            if decision == "disagree" and not reason:
                raise InvalidInput("reason-required", "不同意评标结论的，须书面说明不同意见和理由")
            if not public_key or not signature:
                raise InvalidInput("signature-required", "签署评标报告须附专家的签名和签名公钥")
            try:
                key_bytes = bytes.fromhex(public_key)
                key = Ed25519PublicKey.from_public_bytes(key_bytes)
                sig = bytes.fromhex(signature)
            except ValueError:
                raise InvalidInput(
                    "bad-signature-format", "签名或签名公钥不是有效的十六进制 Ed25519 值"
                ) from None
            enrolled = await _enrolled_key(s, ctx.session.id, member.id)
            if isinstance(actor, SeatActor) and enrolled is None:
                raise Forbidden("key-mismatch", f"专家 {expert} 所在工位没有已批准的终端密钥")
            if enrolled is not None and enrolled != key_bytes:
                raise Forbidden(
                    "key-mismatch", f"签名公钥与专家 {expert} 所在工位登记的终端密钥不一致"
                )
            try:
                verify_signature(key, document, sig)
            except SignatureInvalid:
                raise InvalidInput(
                    "signature-invalid",
                    f"专家 {expert} 的签名与评标结果不符：不是该公钥对本评标结果和所填意见的签名",
                ) from None
        row = ReportSignatureRow(
            session_id=ctx.session.id,
            expert_code=expert,
            decision="refused" if decision == "refuse" else decision,
            counted_as_agreement=agrees or (decision == "refuse" and not reason),
            reason=reason,
            public_key=public_key,
            signature=signature,
            document_digest=rules.document_digest(document),
            recorded_by=actor.username,
            signed_at=now,
        )
        s.add(row)
        await s.flush()
        await append_event(
            s,
            kind="evaluation.report_signature",
            subject=f"session:{ctx.session.id}",
            actor=actor.username,
            payload={
                "expert": expert,
                "decision": row.decision,
                "counted_as_agreement": row.counted_as_agreement,
                "reason": reason,
                "document_digest": row.document_digest,
            },
            at=now,
        )
        if len(signed) + 1 == len(ctx.scorers):
            hub = Principal("hub", "system", ctx.session.host_venue_id)
            await apply_action_in(s, hub, ctx.session.id, "sign_report", reason=None, now=now)
        return row


async def report_data(
    db: Database, actor: Principal, session_id: int, *, sealer: Sealer, now: datetime
) -> ReportData:
    """What the evaluation report shows, after the reveal."""
    async with db.read() as s:
        session, host = await _session(s, session_id)
        _require_visible(actor, session)
        _require_revealed(session, "生成评标报告")
        ctx = await _context(s, session_id, sealer, lock=False)
        computed = _compute(ctx, await _sealed_scores(s, ctx))
        placements = dict(
            (
                await s.execute(
                    select(Expert.code, SessionExpert.placement)
                    .join(SessionExpert, SessionExpert.expert_id == Expert.id)
                    .where(SessionExpert.session_id == session.id)
                )
            )
            .tuples()
            .all()
        )
        requests = await _requests(s, session.id)
        signatures = await _signatures(s, session.id)
        elected = await s.execute(
            select(Expert.code)
            .join(SessionExpert, SessionExpert.expert_id == Expert.id)
            .where(SessionExpert.session_id == session.id, SessionExpert.is_chair.is_(True))
        )
        chair = elected.scalars().first()
    bidder_of = {r.flag_key: r.flag_key.split(":")[3] for r in requests}
    return ReportData(
        session_id=session.id,
        session_state=lifecycle.STATE_NAMES[session.state],
        host_name=host.name,
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
                bidder=bidder_of[r.flag_key],
                reason=r.reason,
                message=r.message,
                spread=r.spread,
                answer=r.answer,
                answer_reason=r.answer_reason,
            )
            for r in requests
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


# --- 6. seat paths ---------------------------------------------------------------------------


def _item_json(item: Any) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "max": rules.decimal_text(item.max_points),
        "step": rules.decimal_text(item.step),
        "top_low": rules.decimal_text(item.top_band.low),
        "bottom_high": rules.decimal_text(item.bottom_band.high),
    }


async def expert_briefing(
    db: Database, session_id: int, expert: str, *, sealer: Sealer
) -> dict[str, Any] | None:
    """What the seat of a checked-in expert needs to score: the state, the number of bidders
    (not their names) and the rubric of every part under the labels of the expert's own view.
    None if no package is attached yet or the expert is not a member."""
    async with db.read() as s:
        try:
            ctx = await _context(s, session_id, sealer, lock=False)
        except Conflict:
            return None
    if expert not in ctx.manifest.expert_ids:
        return None
    parts: list[dict[str, Any]] = []
    for view in ctx.shuffle.view(expert).chapters:
        spec = ctx.package.chapter(view.chapter_id)
        parts.append(
            {
                "part": spec.id,
                "title": spec.title,
                "subjects": list(view.labels),
                "items": [_item_json(i) for i in spec.items],
            }
        )
    if ctx.package.commercial_items:
        parts.append(
            {
                "part": rules.COMMERCIAL_PART,
                "title": "商务部分",
                "subjects": list(ctx.package.bidder_ids),
                "items": [_item_json(i) for i in ctx.package.commercial_items],
            }
        )
    return {
        "state": ctx.session.state,
        "bidder_count": len(ctx.package.bidder_ids),
        "parts": parts,
    }


async def seat_expert(db: Database, session_id: int, seat_key: str) -> str | None:
    """The code of the expert booked at the seat for this session, if any."""
    async with db.read() as s:
        return await _seat_expert(s, session_id, seat_key)


async def seated_experts(db: Database, session_id: int) -> dict[str, str]:
    """expert code → seat key (``<venue code>.<seat label>``) for the session's live bookings."""
    async with db.read() as s:
        rows = await s.execute(
            select(Expert.code, Venue.code, Seat.label)
            .join(BookingSeat, BookingSeat.expert_id == Expert.id)
            .join(Booking, Booking.id == BookingSeat.booking_id)
            .join(Seat, Seat.id == BookingSeat.seat_id)
            .join(Venue, Venue.id == Seat.venue_id)
            .where(
                Booking.session_id == session_id,
                Booking.state.in_(_LIVE),
                BookingSeat.live.is_(True),
            )
        )
        return {expert: f"{venue}.{label}" for expert, venue, label in rows.all()}
