"""A review that converges (复核收敛): requests about an objective item close themselves once
the members' values agree.

An objective item (客观评分项) must be scored alike by every member; when they differ, the
review round asks the experts who differ from the value most members gave and tells the others
(an informational notice, ``ReviewRequestRow.informational``). Whenever an accepted save during
the deviation review makes the members' values for such an item agree, every open request and
notice about it is closed in the same unit of work: answered ``settled`` by the hub, with the
values recorded on the request, and one audit event. The seats of the experts concerned are then
told (``settled_notices``, sent after the commit).

Runs inside the caller's unit of work (``evaluation.saves``), which holds the session and
package locks and passes the re-integrated scores of the counted saves. No bidder is named in
what it records or sends: the flag key that names it stays internal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.audit.store import append_event
from evaluation_hub.evaluation.context import Context
from evaluation_hub.evaluation.models import ReviewRequestRow
from evaluation_hub.evaluation.rules import decimal_text
from evaluation_hub.sessions.states import SessionState
from scoring.review import FlagReason
from scoring.sheets import Reintegrated
from seat_protocol.messages import RequestResult

__all__ = ["SETTLED", "Settled", "settle_agreed", "settled_notice"]

#: the answer the hub records on a request that closed itself
SETTLED = "settled"
_HUB = "hub"


@dataclass(frozen=True)
class Settled:
    """A request (or notice) that closed itself, for its expert's seat."""

    request_id: int
    session_id: int
    expert: str
    part: str
    item: str | None
    value: str


def _flag_parts(flag_key: str) -> tuple[str, str, str | None]:
    """(part, bidder, item) of a flag key (``reason:expert:part:bidder:item``)."""
    _, _, part, bidder, item = flag_key.split(":", 4)
    return part, bidder, None if item == "*" else item


async def settle_agreed(
    s: AsyncSession, ctx: Context, scores: Reintegrated, *, now: datetime
) -> list[Settled]:
    """Close every open request about an objective item whose values now agree among the
    scorers; return them (the caller tells their seats after the commit)."""
    if ctx.session.state != SessionState.DEVIATION_REVIEW:
        return []
    rows = await s.execute(
        select(ReviewRequestRow)
        .where(
            ReviewRequestRow.session_id == ctx.session.id,
            ReviewRequestRow.reason == FlagReason.OBJECTIVE.value,
            ReviewRequestRow.answer.is_(None),
        )
        .order_by(ReviewRequestRow.id)
    )
    by_flag: dict[str, list[ReviewRequestRow]] = {}
    for row in rows.scalars():
        by_flag.setdefault(row.flag_key, []).append(row)
    settled: list[Settled] = []
    for flag_key, requests in by_flag.items():
        part, bidder, item = _flag_parts(flag_key)
        if item is None:
            continue
        values = {e: scores.score(e, part, bidder, item) for e in ctx.scorers}
        if len(set(values.values())) != 1:
            continue
        shown = {e: decimal_text(v) for e, v in values.items()}
        agreed = next(iter(shown.values()))
        for r in requests:
            r.answer = SETTLED
            r.answer_reason = f"各专家评分已一致（{agreed}），复核自动关闭"
            r.answered_by = _HUB
            r.answered_at = now
            r.settled_values = {"values": shown}
            settled.append(Settled(r.id, r.session_id, r.expert_code, part, item, agreed))
        await append_event(
            s,
            kind="evaluation.review_settled",
            subject=f"session:{ctx.session.id}",
            actor=_HUB,
            payload={
                "requests": [r.id for r in requests],
                "part": part,
                "item": item,
                "values": shown,
            },
            at=now,
        )
    return settled


def settled_notice(x: Settled) -> RequestResult:
    """What the expert's seat hears when their request (or notice) closed itself."""
    return RequestResult(
        ref=f"review:{x.request_id}",
        accepted=True,
        code=SETTLED,
        message=(
            f"各专家对客观评分项 {x.part} {x.item} 的评分已一致（{x.value}），"
            "该复核已自动关闭，无需答复"
        ),
    )
