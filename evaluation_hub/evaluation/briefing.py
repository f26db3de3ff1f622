"""What a checked-in expert's seat needs to score (专家评审须知): the session's state, how many
bidders there are (not who), and the rubric of each part under the labels of the expert's own
view, as the seat protocol's ``expert_briefing`` message carries it.

The seat's page checks its score form against this rubric (``seat_agent.page.rubric``, with
``scoring.sheets.item_faults``), so an expert is spared a save the hub would refuse.
"""

from __future__ import annotations

from typing import Any

from evaluation_hub.errors import Conflict
from evaluation_hub.evaluation import rules
from evaluation_hub.evaluation.context import SeatActor, load_context, require_seated
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from scoring.model import RubricItem
from seat_protocol.messages import ExpertBriefing

__all__ = ["expert_briefing"]


def _item(item: RubricItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "max": rules.decimal_text(item.max_points),
        "step": rules.decimal_text(item.step),
        "top_low": rules.decimal_text(item.top_band.low),
        "bottom_high": rules.decimal_text(item.bottom_band.high),
    }


async def expert_briefing(
    hub: Services, seat: SeatActor, session_id: int, expert: str
) -> ExpertBriefing | None:
    """The briefing for ``expert``, who sits at ``seat`` (``Forbidden`` otherwise). None while
    no package is attached (or its files changed) or the expert is not a committed member."""
    async with hub.db.read() as s:
        await load_session(s, session_id)
        await require_seated(s, seat, session_id, expert)
        try:
            ctx = await load_context(s, session_id, hub.sealer, lock=False)
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
                "items": [_item(i) for i in spec.items],
            }
        )
    if ctx.package.commercial_items:
        parts.append(
            {
                "part": rules.COMMERCIAL_PART,
                "title": "商务部分",
                "subjects": list(ctx.package.bidder_ids),
                "items": [_item(i) for i in ctx.package.commercial_items],
            }
        )
    return ExpertBriefing(
        session_id=str(session_id),
        expert_code=expert,
        bidder_count=len(ctx.package.bidder_ids),
        state=ctx.session.state,
        rubric={"parts": parts},
    )
