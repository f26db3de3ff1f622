"""The timers' table: one lease per periodic job (``timers.lease``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from evaluation_hub.db.base import Base

__all__ = ["TimerLeaseRow"]


class TimerLeaseRow(Base):
    """Which hub process runs the periodic job ``name``, until when unless it renews."""

    __tablename__ = "timer_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: the holding process's random id (``timers.runner.Timers.holder``)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
