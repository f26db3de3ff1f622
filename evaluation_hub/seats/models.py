"""Tables of chapter delivery to seats (章节送达记录).

``chapter_deliveries`` holds one row per seat and release (发放批次): the host's release numbers
its acts 1, 2, … per session, and each seated expert's seat gets a row saying what was prepared
for it (the manifest's SHA-256 as ``seat_protocol.messages.ChapterStatus.digest_of`` computes
it, and the number of chapters) or why nothing was (``skipped``), then when the hub handed the
manifest to the seat's channel (``sent_at``), when every chunk of it had gone to the seat
(``received_at``) and when the seat reported that it decrypted and checked (every chunk's tag) every chapter
(``verified_at``) or which chapters it could not open (``failed``). The times only ever go from
empty to set; rows are never deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evaluation_hub.db.base import Base

__all__ = ["ChapterDeliveryRow"]


class ChapterDeliveryRow(Base):
    """One seat's part of one chapter release, and how far its delivery got."""

    __tablename__ = "chapter_deliveries"
    __table_args__ = (UniqueConstraint("session_id", "release", "seat_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    #: the release act of the session this row belongs to: 1, 2, …
    release: Mapped[int] = mapped_column(Integer)
    seat_key: Mapped[str] = mapped_column(String(64))
    expert_code: Mapped[str] = mapped_column(String(32))
    #: None when the seat was skipped
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    #: the manifest itself (``seats.chapter_handover``): any hub process hands it to the seat
    #: and re-derives its chunks; None when skipped (and for releases before it was kept)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    chapters: Mapped[int] = mapped_column(Integer, default=0)
    #: why nothing could be prepared for the seat (Chinese, shown to the host)
    skipped: Mapped[str | None] = mapped_column(Text, default=None)
    released_by: Mapped[str] = mapped_column(String(100))
    released_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime | None] = mapped_column(default=None)
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    #: the labels the seat could not open, as it reported them
    failed: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
