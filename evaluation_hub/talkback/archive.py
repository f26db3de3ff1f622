"""The talk-back section of a bundle (a plug-in of ``archive.sections``, found by name so the
archive package never imports this one): ``talkback/announcements.json``, every text announcement
and push-to-talk turn sent to the session's seats (who, when, to whom, the text or the turn's
duration), as stored by ``evaluation_hub.talkback``; their audit events are in the session's
audit slice (subject ``session:<id>``)."""

from __future__ import annotations

from sqlalchemy import select

from evaluation_hub.archive.sections import ArchiveContext, BundleFile, json_file
from evaluation_hub.talkback.models import TalkbackRow

__all__ = ["TALKBACK", "archive_section"]

TALKBACK = "talkback/announcements.json"


async def archive_section(ctx: ArchiveContext) -> list[BundleFile]:
    async with ctx.db.read() as s:
        rows = (
            (
                await s.execute(
                    select(TalkbackRow)
                    .where(TalkbackRow.session_id == ctx.session_id)
                    .order_by(TalkbackRow.id)
                )
            )
            .scalars()
            .all()
        )
    return [
        json_file(
            TALKBACK,
            [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "to": r.seat_key or "all",
                    "sender": r.sender,
                    "sender_role": r.sender_role,
                    "text": r.text,
                    "sent_at": r.sent_at.isoformat(),
                    "ended_at": None if r.ended_at is None else r.ended_at.isoformat(),
                    "duration_s": None if r.duration_s is None else str(r.duration_s),
                }
                for r in rows
            ],
        )
    ]
