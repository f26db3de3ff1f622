"""The bid package of a session (标书包): attaching it with the shuffle's committed seed,
releasing flagged chapters with a reason, each expert's view, and the commitment following the
committee until the review starts.

Attaching validates the package (``scoring.package``), scans the blind chapters for identifying
marks (``scoring.anonymity``), compares every pair of bidders' chapters (``scoring.similarity``)
and commits a fresh seed to the session's experts, chapters and bidders (``scoring.shuffle``):
the commitment is published on the audit chain, the seed stays sealed under the hub's key until
the reveal. A chapter with a mark is not released to experts until the host records why it may
be (暗标合规检查放行). Similar chapters (the same chapter id or two different ones), unusual
strings two bidders share and identical price tails are stored as signals for people
(串通投标提示信号, ``evaluation.signals``), by place and size, never with the shared text (which
may name a bidder) and never as a finding: they block nothing. The check is cheap enough to run at every attach (``bench/scoring.py``: 1.3 s
for 30 bidders × 20 chapters × 20 KB, in a worker thread outside any transaction).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.bids.package_io import read_package
from evaluation_hub.db.models import EvaluationSession
from evaluation_hub.errors import Conflict, InvalidInput, NotFound
from evaluation_hub.evaluation.context import (
    Context,
    load_context,
    member_codes,
    package_row,
    seed_purpose,
    stored_manifest,
)
from evaluation_hub.evaluation.models import AnonymityOverrideRow, EvaluationPackageRow
from evaluation_hub.evaluation.overview import (
    Overview,
    blocked_chapters,
    gather_overview,
    overrides_of,
)
from evaluation_hub.evaluation.packages import content_digest
from evaluation_hub.evaluation.signals import bidder_signals_json, similarity_json
from evaluation_hub.localtime import day_of
from evaluation_hub.pool.conflicts import record_bidders
from evaluation_hub.pool.recusal import BidderName
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.services import Services
from evaluation_hub.sessions.committee import member_titles
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.members import member_rows
from evaluation_hub.sessions.states import BEFORE_START, OVERRIDES_ALLOWED, state_name
from evaluation_hub.sessions.store import apply_action_in
from scoring.anonymity import Finding, scan_package
from scoring.collusion import bidder_signals
from scoring.errors import PackageInvalid
from scoring.model import BidPackage
from scoring.shuffle import SEED_BYTES, ShuffleManifest, commitment

__all__ = [
    "ExpertChapters",
    "Started",
    "ViewChapter",
    "attach_package",
    "expert_view",
    "recommit_members",
    "record_override",
    "released_context",
    "require_attachable",
    "start_evaluation",
]


def _finding_json(f: Finding) -> dict[str, Any]:
    # The matched text, what it folds to and the snippet are left out: they are the bidder's
    # identity. Position and length are in the chapter file as submitted.
    return {
        "bidder_id": f.bidder_id,
        "chapter_id": f.chapter_id,
        "kind": f.kind.value,
        "kind_name": f.kind.label,
        "line": f.line,
        "column": f.column,
        "owner_id": f.owner_id,
        "length": f.length,
        # found only after folding (spacing, tags, full-width, traditional characters)
        "evasion": f.matched_as is not None,
        # a deliberate mark (formatting, symbols, repeated strings) rather than identifying text
        "mark": f.kind.is_mark,
    }


@dataclass(frozen=True)
class _Checked:
    package: BidPackage
    source: str
    digest: str
    findings: list[dict[str, Any]]
    similarity: list[dict[str, Any]]
    collusion: dict[str, Any]


def _read_and_check(directory: Path) -> _Checked:
    """Read, validate, scan and compare the package: in a worker thread, outside any
    transaction (folding every chapter for the scan takes about 5 s for 30 bidders × 20
    chapters of 20 KB, the similarity checks and the other collusion signals a few seconds:
    ``bench/scoring.py``)."""
    package, source, digest = _read(directory)
    signals = bidder_signals(package.texts, package.prices)
    return _Checked(
        package,
        source,
        digest,
        [_finding_json(f) for f in scan_package(package)],
        [similarity_json(p) for p in signals.same_chapter],
        bidder_signals_json(signals),
    )


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


async def require_attachable(s: AsyncSession, session: EvaluationSession) -> None:
    """Refuse a package for a session that started or already has one (the caller authorised)."""
    if session.state not in BEFORE_START:
        raise Conflict(
            "package-too-late",
            f"评标会当前状态为「{state_name(session.state)}」，只能在开始评审前导入标书包",
        )
    if await package_row(s, session.id, lock=False) is not None:
        raise Conflict("package-attached", f"评标会 #{session.id} 已导入标书包，不能重复导入")


async def attach_package(
    hub: Services,
    actor: Principal,
    session_id: int,
    directory: Path,
    *,
    now: datetime,
    upload: dict[str, Any] | None = None,
) -> Overview:
    """Import and validate the package, scan it, compare its bidders' chapters, and commit the
    shuffle seed; returns the overview of the evaluation it starts."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.RUN_EVALUATION, loaded.target)
    # The directory is read only for the host's operator (and before any state is told), and
    # outside the transaction: the checks take a while on a large package.
    checked = await asyncio.to_thread(_read_and_check, directory)
    package = checked.package
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        access.require(actor, access.Action.RUN_EVALUATION, loaded.target)
        session = loaded.session
        await require_attachable(s, session)
        # A member who already declared recusal is not evaluated: their view is not committed.
        members = await member_codes(s, session.id, ("pending", "confirmed"))
        if not members:
            raise Conflict(
                "no-committee", f"评标会 #{session.id} 尚未登记评标委员会专家，不能生成错位评审种子"
            )
        findings = checked.findings
        seed = secrets.token_bytes(SEED_BYTES)
        manifest = ShuffleManifest(
            str(session.id), tuple(members), package.chapter_ids, package.bidder_ids
        )
        row = EvaluationPackageRow(
            session_id=session.id,
            source_path=checked.source,
            content_digest=checked.digest,
            manifest={
                "session_id": manifest.session_id,
                "experts": list(manifest.expert_ids),
                "chapters": list(manifest.chapter_ids),
                "bidders": list(manifest.bidder_ids),
            },
            findings=findings,
            similarity=checked.similarity,
            collusion=checked.collusion,
            seed_commitment=commitment(seed, manifest),
            sealed_seed=hub.sealer.seal(seed, seed_purpose(session.id)),
            attached_by=actor.username,
            attached_at=now,
        )
        s.add(row)
        # Automatic recusal (智能回避): the bidders are kept, and members already registered
        # who must be replaced are listed on the chain and the committee panel.
        await record_bidders(
            s,
            session.id,
            [BidderName(b.id, b.name) for b in package.bidders],
            await member_rows(s, session.id),
            titles=member_titles(session.procurement_type),
            years=hub.regulation.former_employer_years,
            actor=actor.username,
            now=now,
            today=day_of(now),
        )
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
                "similar_pairs": len(checked.similarity),
                "cross_chapter_pairs": len(checked.collusion["cross_chapter"]),
                "shared_strings": len(checked.collusion["shared_strings"]),
                "price_tails": len(checked.collusion["price_tails"]),
                # An uploaded package: the file as received (name, size, SHA-256).
                **({"upload": upload} if upload is not None else {}),
            },
            at=now,
        )
        await s.flush()
        ctx = await load_context(s, session_id, hub.sealer, lock=True)
        return await gather_overview(s, ctx, now=now)


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
    row = await package_row(s, session_id, lock=True)
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


@dataclass(frozen=True)
class Started:
    """The review started (开始评审) with these members; ``recommitted``: the shuffle's
    commitment changed to exactly them."""

    session_id: int
    state: str
    members: tuple[str, ...]
    recommitted: bool


async def start_evaluation(
    hub: Services, actor: Principal, session_id: int, *, reason: str | None, now: datetime
) -> Started:
    """Start the review (开始评审) with the members who confirmed their commitment, in a unit
    of work of its own (``start_evaluation_in``)."""
    async with hub.db.write() as s:
        return await start_evaluation_in(s, hub, actor, session_id, reason=reason, now=now)


async def start_evaluation_in(
    s: AsyncSession,
    hub: Services,
    actor: Principal,
    session_id: int,
    *,
    reason: str | None,
    now: datetime,
) -> Started:
    """Start the review (开始评审) inside the caller's unit of work.

    The lifecycle move refuses unless the actor may start it and the members form a lawful
    committee; then the attached package's shuffle is re-committed to exactly them, so a
    member still pending (or recused since the package was attached) is not part of the
    evaluation, and a replacement who confirmed is. The move and the commitment stand or fall
    together, and with whatever else the caller reads in the same unit (the page's view of the
    session: a second transaction for it could fail after the start had committed, and the
    host, told to retry, would be refused)."""
    # The lifecycle's own rule says who may start (and words the refusal).
    session = await apply_action_in(
        s,
        actor,
        session_id,
        "start_evaluation",
        reason=reason,
        now=now,
        committee_rules=hub.regulation.committee,
        regulation=hub.regulation,
    )
    # At least the lawful minimum: the move above refuses a committee that is not lawful.
    members = await member_codes(s, session_id, ("confirmed",))
    recommitted = await recommit_members(
        s,
        session_id,
        members,
        sealer=hub.sealer,
        actor=actor.username,
        why="start_evaluation",
        now=now,
    )
    return Started(session.id, session.state, tuple(members), recommitted)


async def record_override(
    hub: Services,
    actor: Principal,
    session_id: int,
    bidder_id: str,
    chapter_id: str,
    reason: str,
    *,
    now: datetime,
) -> Overview:
    """Release a flagged chapter with a recorded reason (暗标合规检查放行); returns the
    overview with the chapter released."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        access.require(actor, access.Action.RUN_EVALUATION, loaded.target)
        ctx = await load_context(s, session_id, hub.sealer, lock=True)
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
            for o in await overrides_of(s, ctx.session.id)
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
        return await gather_overview(s, ctx, now=now)


@dataclass(frozen=True)
class ViewChapter:
    chapter_id: str
    title: str
    #: the labels in the order this expert sees the bidders' chapters
    labels: tuple[str, ...]


@dataclass(frozen=True)
class ExpertChapters:
    """What one expert receives (专家评审视图): per chapter its title and labels in display
    order, and the commercial part's subjects (bidder ids; commercial bids are not blind)."""

    session_id: int
    expert: str
    seed_commitment: str
    chapters: tuple[ViewChapter, ...]
    commercial_subjects: tuple[str, ...]


async def released_context(
    s: AsyncSession, session_id: int, expert: str, *, sealer: Sealer
) -> Context:
    """Inside the caller's unit of work (which checked the principal): the evaluation, provided
    ``expert`` is a member and no chapter with identifying marks waits for a recorded reason,
    so the expert's chapters may be released. ``NotFound`` / ``Conflict`` otherwise."""
    ctx = await load_context(s, session_id, sealer, lock=False)
    if expert not in ctx.manifest.expert_ids:
        raise NotFound("not-a-member", f"专家 {expert} 不是评标会 #{session_id} 的评标委员会成员")
    blocked = blocked_chapters(ctx.row, await overrides_of(s, ctx.session.id))
    if blocked:
        listing = "、".join(f"{k}（{n} 处）" for k, n in sorted(blocked.items()))
        raise Conflict(
            "anonymity-blocked",
            f"尚有 {len(blocked)} 个章节含识别标记且未记录放行理由，不能向专家发放：{listing}",
        )
    return ctx


async def expert_view(
    hub: Services, actor: Principal, session_id: int, expert: str
) -> ExpertChapters:
    """What one expert receives: per chapter, its title and the labels in display order."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        ctx = await released_context(s, session_id, expert, sealer=hub.sealer)
    view = ctx.shuffle.view(expert)
    return ExpertChapters(
        session_id=ctx.session.id,
        expert=expert,
        seed_commitment=ctx.row.seed_commitment,
        chapters=tuple(
            ViewChapter(c.chapter_id, ctx.package.chapter(c.chapter_id).title, tuple(c.labels))
            for c in view.chapters
        ),
        commercial_subjects=ctx.manifest.bidder_ids,
    )
