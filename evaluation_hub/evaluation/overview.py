"""The evaluation at a glance (评审概况): the package, the seed commitment, the anonymity
check, each scorer's progress, refused saves, saves entered at the host (代录), review
requests and signatures.

What may be shown now and no more: before the reveal the seed stays hidden, and nothing names
a bidder beyond its id (the anonymity findings keep the bidder id and place, never the matched
text). Reading writes nothing: every save was judged when it was stored, so the progress shown
is the hub's latest word as it stands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.evaluation import rules
from evaluation_hub.evaluation.context import Context, load_context
from evaluation_hub.evaluation.models import (
    AnonymityOverrideRow,
    EvaluationPackageRow,
    ScoreSaveRow,
)
from evaluation_hub.evaluation.review import ReviewRequest, requests_of, review_request
from evaluation_hub.evaluation.saves import ProxySave, latest_accepted, proxy_saves
from evaluation_hub.evaluation.signatures import Signature, signature_of, signatures_of
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import REVEALED

__all__ = [
    "AnonymityFinding",
    "ChapterTitle",
    "ExpertProgress",
    "Override",
    "Overview",
    "PackageSummary",
    "ProxySave",
    "RefusedSave",
    "blocked_chapters",
    "gather_overview",
    "overrides_of",
    "overview",
]


@dataclass(frozen=True)
class ChapterTitle:
    id: str
    title: str


@dataclass(frozen=True)
class PackageSummary:
    content_digest: str
    attached_by: str
    attached_at: datetime
    project_code: str
    section_code: str
    method: str
    bidders: tuple[str, ...]
    chapters: tuple[ChapterTitle, ...]
    parts: tuple[str, ...]
    #: the scorers: committed members not recused
    experts: tuple[str, ...]
    #: committed at the start but recused since: their views stay verifiable, nothing of
    #: theirs counts
    recused: tuple[str, ...]


@dataclass(frozen=True)
class AnonymityFinding:
    """An identifying mark the scan found (暗标合规检查): where, never the matched text."""

    bidder_id: str
    chapter_id: str
    kind: str
    kind_name: str
    line: int
    column: int
    owner_id: str | None


@dataclass(frozen=True)
class Override:
    bidder_id: str
    chapter_id: str
    reason: str
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class ExpertProgress:
    expert: str
    scored_parts: tuple[str, ...]
    parts_total: int

    @property
    def complete(self) -> bool:
        return len(self.scored_parts) == self.parts_total


@dataclass(frozen=True)
class RefusedSave:
    id: int
    expert: str | None
    part: str | None
    source: str
    code: str
    problems: tuple[str, ...]
    received_at: datetime


@dataclass(frozen=True)
class Overview:
    session_id: int
    state: str
    package: PackageSummary
    seed_commitment: str
    #: only once the session is revealed
    revealed_seed: str | None
    findings: tuple[AnonymityFinding, ...]
    overrides: tuple[Override, ...]
    #: "<bidder>/<chapter>" → identifying marks not released by an override
    blocked: Mapping[str, int]
    experts: tuple[ExpertProgress, ...]
    refused: tuple[RefusedSave, ...]
    requests: tuple[ReviewRequest, ...]
    signatures: tuple[Signature, ...]
    #: every save entered at the host for an expert (代录), with its written reason
    proxy_saves: tuple[ProxySave, ...] = ()


def blocked_chapters(
    row: EvaluationPackageRow, overrides: Sequence[AnonymityOverrideRow]
) -> dict[str, int]:
    """The flagged chapters no override released yet, with their number of marks."""
    released = {(o.bidder_id, o.chapter_id) for o in overrides}
    blocked: dict[str, int] = {}
    for f in row.findings:
        if (f["bidder_id"], f["chapter_id"]) not in released:
            key = f"{f['bidder_id']}/{f['chapter_id']}"
            blocked[key] = blocked.get(key, 0) + 1
    return blocked


async def overrides_of(s: AsyncSession, session_id: int) -> list[AnonymityOverrideRow]:
    rows = await s.execute(
        select(AnonymityOverrideRow)
        .where(AnonymityOverrideRow.session_id == session_id)
        .order_by(AnonymityOverrideRow.id)
    )
    return list(rows.scalars())


def _finding(f: Mapping[str, Any]) -> AnonymityFinding:
    return AnonymityFinding(
        bidder_id=f["bidder_id"],
        chapter_id=f["chapter_id"],
        kind=f["kind"],
        kind_name=f["kind_name"],
        line=f["line"],
        column=f["column"],
        owner_id=f["owner_id"],
    )


async def gather_overview(s: AsyncSession, ctx: Context, *, now: datetime) -> Overview:
    """The overview inside the caller's unit of work; reads only."""
    session_id = ctx.session.id
    overrides = await overrides_of(s, session_id)
    refused = await s.execute(
        select(ScoreSaveRow)
        .where(ScoreSaveRow.session_id == session_id, ScoreSaveRow.accepted.is_(False))
        .order_by(ScoreSaveRow.id)
    )
    latest = await latest_accepted(s, session_id)
    pkg, row = ctx.package, ctx.row
    parts = rules.part_ids(pkg)
    return Overview(
        session_id=session_id,
        state=ctx.session.state,
        package=PackageSummary(
            content_digest=row.content_digest,
            attached_by=row.attached_by,
            attached_at=row.attached_at,
            project_code=pkg.project.code,
            section_code=pkg.section.code,
            method=pkg.method.name,
            bidders=ctx.manifest.bidder_ids,
            chapters=tuple(ChapterTitle(c.id, c.title) for c in pkg.chapters),
            parts=parts,
            experts=ctx.scorers,
            recused=tuple(e for e in ctx.manifest.expert_ids if e in ctx.recused),
        ),
        seed_commitment=row.seed_commitment,
        revealed_seed=row.revealed_seed if ctx.session.state in REVEALED else None,
        findings=tuple(_finding(f) for f in row.findings),
        overrides=tuple(
            Override(o.bidder_id, o.chapter_id, o.reason, o.recorded_by, o.recorded_at)
            for o in overrides
        ),
        blocked=blocked_chapters(row, overrides),
        experts=tuple(
            ExpertProgress(e, tuple(p for p in parts if (e, p) in latest), len(parts))
            for e in ctx.scorers
        ),
        refused=tuple(
            RefusedSave(
                id=r.id,
                expert=r.expert_code,
                part=r.part_id,
                source=r.source,
                code=r.problems[0] if r.problems else "",
                problems=tuple(r.problems[1:]),
                received_at=r.received_at,
            )
            for r in refused.scalars()
        ),
        requests=tuple(review_request(r) for r in await requests_of(s, session_id)),
        signatures=tuple(signature_of(x) for x in await signatures_of(s, session_id)),
        proxy_saves=tuple(await proxy_saves(s, session_id)),
    )


async def overview(hub: Services, actor: Principal, session_id: int, *, now: datetime) -> Overview:
    """Everything about the evaluation that may be shown now. A read: it writes nothing."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        ctx = await load_context(s, session_id, hub.sealer, lock=False)
        return await gather_overview(s, ctx, now=now)
