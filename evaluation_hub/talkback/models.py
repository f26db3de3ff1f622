"""The talk-back table (喊话与通知记录): every text announcement and push-to-talk turn, kept
with its session so the session's archive holds it (``archive.talkback``).

Written only by the talk-back use cases, each row with its audit event in the same unit of
work. ``seat_key`` is the one seat addressed, or None for every seat of the session.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from evaluation_hub.db.base import Base

__all__ = ["TalkbackRow"]


class TalkbackRow(Base):
    """One announcement (``kind`` text) or one push-to-talk turn (``kind`` voice)."""

    __tablename__ = "talkback_messages"
    __table_args__ = (CheckConstraint("kind IN ('text', 'voice')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    #: the seat addressed (``VENUE.LABEL``), or None: every seat of the session
    seat_key: Mapped[str | None] = mapped_column(String(120), default=None)
    sender: Mapped[str] = mapped_column(String(100))
    #: how the sender stood to the session: host_operator, host_supervisor, venue_supervisor
    sender_role: Mapped[str] = mapped_column(String(40))
    text: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime]
    #: a voice turn's end, once it ended (its duration is ``ended_at - sent_at``)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
