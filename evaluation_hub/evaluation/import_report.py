"""The import report of a session's bid package (导入报告), as the host's console shows it:
what was imported, from where, the parts the experts score, what the anonymity scan and the
similarity check found at the attach (``evaluation.package``).

Bidders appear by id only; a similarity signal names two bidder ids, the chapter and how alike
they are, never the shared text, and is shown as a signal for people (标书雷同提示), never as a
finding of collusion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evaluation_hub import access
from evaluation_hub.evaluation import rules
from evaluation_hub.evaluation.context import load_context
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from scoring.model import COMMERCIAL_PART

__all__ = ["PackageReport", "PartName", "SimilaritySignal", "package_report"]


@dataclass(frozen=True)
class PartName:
    """A part an expert scores (a technical chapter or the commercial part) and its name."""

    id: str
    name: str
    items: int


@dataclass(frozen=True)
class SimilaritySignal:
    """Two bidders' alike chapters (标书雷同提示): a signal for people, never a finding."""

    chapter_id: str
    bidder_a: str
    bidder_b: str
    jaccard: float
    containment: float
    #: shared passages found, and the longest, in normalised characters
    passages: int
    longest: int


@dataclass(frozen=True)
class PackageReport:
    """The import report of the attached package (导入报告): what was imported, from where,
    what the checks found. Bidders appear by id only (their names wait for the reveal)."""

    session_id: int
    source_path: str
    content_digest: str
    attached_by: str
    attached_at: datetime
    seed_commitment: str
    project_code: str
    project_name: str
    section_code: str
    section_name: str
    method: str
    bidders: tuple[str, ...]
    parts: tuple[PartName, ...]
    anonymity_findings: int
    flagged_chapters: tuple[str, ...]
    #: None: the package was attached before the similarity check ran at the attach
    similarity: tuple[SimilaritySignal, ...] | None


def _signal(raw: dict[str, Any]) -> SimilaritySignal:
    passages = raw["passages"]
    return SimilaritySignal(
        chapter_id=raw["chapter_id"],
        bidder_a=raw["bidder_a"],
        bidder_b=raw["bidder_b"],
        jaccard=float(raw["jaccard"]),
        containment=float(raw["containment"]),
        passages=len(passages),
        longest=max((int(p["length"]) for p in passages), default=0),
    )


async def package_report(hub: Services, actor: Principal, session_id: int) -> PackageReport:
    """The import report of the session's package, for whoever may see the session."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        ctx = await load_context(s, session_id, hub.sealer, lock=False)
    pkg, row = ctx.package, ctx.row
    parts = [PartName(c.id, rules.part_name(pkg, c.id), len(c.items)) for c in pkg.chapters]
    parts.append(
        PartName(COMMERCIAL_PART, rules.part_name(pkg, COMMERCIAL_PART), len(pkg.commercial_items))
    )
    return PackageReport(
        session_id=ctx.session.id,
        source_path=row.source_path,
        content_digest=row.content_digest,
        attached_by=row.attached_by,
        attached_at=row.attached_at,
        seed_commitment=row.seed_commitment,
        project_code=pkg.project.code,
        project_name=pkg.project.name,
        section_code=pkg.section.code,
        section_name=pkg.section.name,
        method=pkg.method.name,
        bidders=ctx.manifest.bidder_ids,
        parts=tuple(parts),
        anonymity_findings=len(row.findings),
        flagged_chapters=tuple(
            sorted({f"{f['bidder_id']}/{f['chapter_id']}" for f in row.findings})
        ),
        similarity=(None if row.similarity is None else tuple(_signal(x) for x in row.similarity)),
    )
