"""Loading an evaluation for a use case (评审上下文): the session, its attached bid package,
the committee and the shuffle only the hub can open; and who a seat terminal may act for.

Every use case of this package that works on an attached package loads a ``Context`` here,
inside its own unit of work, after it checked the principal. ``lock=True`` takes the package
row's lock, so seat intake, review rounds and sealing of one session never interleave; a write
takes the session's row lock first (``sessions.lookup.load_session``), so the order is always
session, then package.

The package files are read again on every load and refused when they no longer hash to the
digest recorded at the attach (``evaluation.packages``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.booking.seatings import seatings
from evaluation_hub.db.models import EvaluationSession, Expert, SessionExpert, Venue
from evaluation_hub.errors import Conflict, Forbidden
from evaluation_hub.evaluation.models import EvaluationPackageRow
from evaluation_hub.evaluation.packages import PackageChanged, load_pinned
from evaluation_hub.sealing import Sealer
from evaluation_hub.sessions.lookup import load_session
from scoring.model import BidPackage
from scoring.shuffle import ShuffleManifest, StaggeredShuffle, derive

__all__ = [
    "Context",
    "SeatActor",
    "expert_at_seat",
    "load_context",
    "member_codes",
    "package_row",
    "require_seated",
    "seed_purpose",
    "stored_manifest",
    "stored_shuffle",
]


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
    """An authenticated seat terminal acting for the expert seated there (the seat paths of
    ``answer_request``, ``sign_report`` and ``expert_briefing``); it may act only for that
    expert."""

    seat_key: str

    @property
    def username(self) -> str:
        return f"seat:{self.seat_key}"


async def expert_at_seat(s: AsyncSession, session_id: int, seat_key: str) -> str | None:
    """The code of the expert seated at ``seat_key`` for the session now, if any."""
    found = await seatings(s, session_id=session_id, seat_key=seat_key, with_expert=True)
    return found[0].expert_code if found else None


async def require_seated(s: AsyncSession, actor: SeatActor, session_id: int, expert: str) -> None:
    """``Forbidden`` unless the seat seats ``expert`` for the session."""
    if await expert_at_seat(s, session_id, actor.seat_key) != expert:
        raise Forbidden(
            "not-seated-expert",
            f"工位 {actor.seat_key} 安排的不是专家 {expert}，不能代其答复或签署",
        )


@dataclass
class Context:
    """A session with its attached package, committee and (for the hub only) its shuffle."""

    session: EvaluationSession
    row: EvaluationPackageRow
    package: BidPackage
    manifest: ShuffleManifest
    #: expert code → expert, in committee order
    members: dict[str, Expert]
    seed: bytes = field(repr=False)
    _shuffle: StaggeredShuffle | None = field(default=None, repr=False)
    #: members who declared recusal (回避); the committed shuffle may still hold their views
    recused: frozenset[str] = frozenset()

    @property
    def host(self) -> Venue:
        return self.session.host_venue

    @property
    def scorers(self) -> tuple[str, ...]:
        """The members whose sheets make the result: the committed members not recused. A
        recusal after the start leaves the commitment as it was (it was published before the
        review) and takes the member out of everything counted."""
        return tuple(e for e in self.manifest.expert_ids if e not in self.recused)

    @property
    def shuffle(self) -> StaggeredShuffle:
        if self._shuffle is None:
            self._shuffle = derive(self.seed, self.manifest)
        return self._shuffle

    @property
    def sid(self) -> str:
        return str(self.session.id)


async def member_codes(s: AsyncSession, session_id: int, decisions: Sequence[str]) -> list[str]:
    """The codes of the session's members with one of ``decisions``, in the order they joined."""
    rows = await s.execute(
        select(Expert.code)
        .join(SessionExpert, SessionExpert.expert_id == Expert.id)
        .where(SessionExpert.session_id == session_id, SessionExpert.decision.in_(decisions))
        .order_by(SessionExpert.id)
    )
    return list(rows.scalars())


async def _members(s: AsyncSession, session_id: int) -> dict[str, Expert]:
    rows = await s.execute(
        select(Expert)
        .join(SessionExpert, SessionExpert.expert_id == Expert.id)
        .where(SessionExpert.session_id == session_id)
        .order_by(SessionExpert.id)
    )
    return {e.code: e for e in rows.scalars()}


async def package_row(
    s: AsyncSession, session_id: int, *, lock: bool
) -> EvaluationPackageRow | None:
    """The session's attached package row, if one is attached."""
    query = select(EvaluationPackageRow).where(EvaluationPackageRow.session_id == session_id)
    if lock:
        query = query.with_for_update()
    row: EvaluationPackageRow | None = (await s.execute(query)).scalar_one_or_none()
    return row


async def load_context(s: AsyncSession, session_id: int, sealer: Sealer, *, lock: bool) -> Context:
    """The session's evaluation: ``Conflict`` when no package is attached or its files changed
    since the attach. The caller has checked the principal already."""
    session = (await load_session(s, session_id)).session
    row = await package_row(s, session.id, lock=lock)
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
    recused = frozenset(await member_codes(s, session.id, ("recused",)))
    return Context(session, row, package, manifest, members, seed, recused=recused)
