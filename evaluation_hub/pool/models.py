"""Tables of the expert pool: the former employers of each expert (with the year they left),
the credit blacklist (信用黑名单), and the names of the bidders of each session's attached
package (written at the attach, read by automatic recusal).

The experts themselves are ``db.models.Expert`` (several domains read them).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evaluation_hub.db.base import Base

__all__ = ["BlacklistEntryRow", "FormerEmployerRow", "SessionBidderRow"]


class FormerEmployerRow(Base):
    """An employer the expert left (原工作单位) and the year they left it."""

    __tablename__ = "expert_former_employers"

    id: Mapped[int] = mapped_column(primary_key=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id"), index=True)
    employer: Mapped[str] = mapped_column(String(200))
    left_year: Mapped[int] = mapped_column(Integer)


class BlacklistEntryRow(Base):
    """One entry of the credit blacklist: an expert named by code, or by name and employer
    when the source has no code; in force until ``until`` (inclusive)."""

    __tablename__ = "credit_blacklist"
    __table_args__ = (UniqueConstraint("entry_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``code:<expert code>`` or ``name:<name>|<normalised employer>``: what an import upserts on
    entry_key: Mapped[str] = mapped_column(String(400))
    expert_code: Mapped[str] = mapped_column(String(32), default="", server_default="")
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    employer: Mapped[str] = mapped_column(String(200), default="", server_default="")
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[date] = mapped_column(Date)
    imported_at: Mapped[datetime]


class SessionBidderRow(Base):
    """A bidder (投标人) of the session's attached package, by its id and name."""

    __tablename__ = "session_bidders"
    __table_args__ = (UniqueConstraint("session_id", "bidder_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    bidder_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
