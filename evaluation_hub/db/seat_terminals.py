"""Tables of seat terminal enrolment (工位终端登记) and of scores submitted from seats.

They sit in ``db`` beside the seat directory because several domains read them: the seat link
(``evaluation_hub.seats``) writes them, the evaluation engine reads the submitted scores and the
seat's approved key (signatures), the archive exports them.

``seat_enrolments`` keeps every enrolment request a terminal made: its Ed25519 key (connection
authentication), its X25519 key (chapter encryption), the short code the venue admin compares
by eye, and the decision. At most one row per seat key is ``approved`` (a partial unique index);
approving a new request revokes the previous approved one, so re-enrolling a replaced terminal
never leaves two valid keys.

``submitted_scores`` is the hub's half of the exactly-once promise for score saves: the UNIQUE
idempotency key makes a replayed submission impossible to count twice, even across hub
processes and restarts, and the stored payload digest tells a faithful replay (answered again
with the same verdict) from a different payload under the same key (refused). Each row holds
the hub's verdict, reached in the transaction that stored it, and the seat key's Ed25519
signature over the save (``scoring.signing.save_document``) with the key that made it, so the
save can be proven to come from that seat. Never delete or rewrite these rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evaluation_hub.db.base import Base
from evaluation_hub.db.models import Seat

__all__ = ["SeatEnrolment", "SubmittedScore"]


class SeatEnrolment(Base):
    """One enrolment request of a seat terminal, and the venue admin's decision on it."""

    __tablename__ = "seat_enrolments"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'revoked')", name="status"),
        # One approved key per seat, enforced by the database rather than by check-then-update.
        Index(
            "uq_seat_enrolments_approved_key",
            "seat_key",
            unique=True,
            sqlite_where=text("status = 'approved'"),
            postgresql_where=text("status = 'approved'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The seat id spoken on the wire: "<venue code>.<seat label>".
    seat_key: Mapped[str] = mapped_column(String(64), index=True)
    seat_id: Mapped[int] = mapped_column(ForeignKey("seats.id"), index=True)
    ed25519_public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    x25519_public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # 25 digits in five groups ("12345 67890 ..."); 8 base32 letters for requests made before.
    enrolment_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    requested_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)

    seat: Mapped[Seat] = relationship()


class SubmittedScore(Base):
    """A score sheet save committed exactly once under its idempotency key."""

    __tablename__ = "submitted_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    seat_key: Mapped[str] = mapped_column(String(64), index=True)
    # The protocol's session id (text on the wire); the session engine maps it to its session.
    session_ref: Mapped[str] = mapped_column(String(64), index=True)
    sheet: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload_digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    #: the verdict, judged in the transaction that stored the row (None: stored before 0009)
    accepted: Mapped[bool | None] = mapped_column(default=None)
    verdict_code: Mapped[str | None] = mapped_column(String(64), default=None)
    verdict_message: Mapped[str | None] = mapped_column(Text, default=None)
    #: hex Ed25519 signature over the save's document, and the seat's key that made it
    seat_signature: Mapped[str | None] = mapped_column(String(128), default=None)
    # hex: 64 digits (Ed25519) or 130 (SM2, national suite)
    seat_public_key: Mapped[str | None] = mapped_column(String(130), default=None)
