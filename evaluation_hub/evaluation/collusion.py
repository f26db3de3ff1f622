"""Collusion signals of a session (串通投标提示信号) for the host's console and the supervision
page.

The host site's staff on the console, the host site's supervisors and the system administrator
on the supervision page see every signal. An away supervisor sees what concerns the experts
seated at their venue (``access.scope``): a pair of near-identical sheets in which one of them
is, the other expert left unnamed when seated elsewhere; signals between bidders concern no
venue's experts and stay with the host site.

Between bidders: read from the package row, stored at the attach. Between experts: computed
from the sealed sheets when read, never stored (reading writes nothing); before the seal there
is nothing to compute from. Signals are never findings and block nothing (``evaluation.signals``).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.evaluation.context import load_context, package_row
from evaluation_hub.evaluation.result import sealed_scores
from evaluation_hub.evaluation.signals import CollusionSignals, bidder_view, sheet_view
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.supervision.sites import placements, visible_session

__all__ = [
    "collusion_signals",
    "read_signals",
    "read_supervision_signals",
    "supervision_signals",
]


async def read_signals(
    s: AsyncSession,
    session_id: int,
    sealer: Sealer | None,
    *,
    bidders: bool,
    expert_visible: Callable[[str], bool],
    everything: bool,
) -> CollusionSignals:
    """The session's signals inside the caller's unit of work (the caller checked the
    principal): those between bidders if ``bidders``, and near-identical sheets of which
    ``expert_visible`` accepts at least one expert (when ``sealer`` can open the shuffle's
    seed: an archive written without the hub's key leaves them out)."""
    row = await package_row(s, session_id, lock=False)
    if row is None:
        return CollusionSignals(session_id, None, None, everything)
    view = bidder_view(row.similarity, row.collusion) if bidders else None
    if row.sealed_at is None or sealer is None:
        return CollusionSignals(
            session_id, view, None, everything, sealed=row.sealed_at is not None
        )
    ctx = await load_context(s, session_id, sealer, lock=False)
    sheets = sheet_view(await sealed_scores(s, ctx), ctx.package, expert_visible)
    return CollusionSignals(session_id, view, sheets, everything, sealed=True)


async def collusion_signals(hub: Services, actor: Principal, session_id: int) -> CollusionSignals:
    """Every signal of the session, for the host site's staff (the console)."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        return await read_signals(
            s, session_id, hub.sealer, bidders=True, expert_visible=lambda _: True, everything=True
        )


async def supervision_signals(hub: Services, actor: Principal, session_id: int) -> CollusionSignals:
    """The signals of the session within the caller's supervision scope."""
    async with hub.db.read() as s:
        return await read_supervision_signals(s, actor, session_id, hub.sealer)


async def read_supervision_signals(
    s: AsyncSession, actor: Principal, session_id: int, sealer: Sealer | None
) -> CollusionSignals:
    """:func:`supervision_signals` inside the caller's unit of work (the archive's)."""
    loaded, scope = await visible_session(s, actor, session_id)
    placed = await placements(s, loaded)
    seen = {m.expert.code for m in placed.members if scope.sees(placed.venue_id_of(m))}
    return await read_signals(
        s,
        session_id,
        sealer,
        bidders=scope.everything,
        expert_visible=seen.__contains__,
        everything=scope.everything,
    )
