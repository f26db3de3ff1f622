"""Tables of the audit chain: ``audit_events`` and ``audit_checkpoints``, and
``audit_deferred``, the events committed while another writer held the chain.

Chain rows are only ever inserted (by ``store.py``); nothing in the hub updates or deletes them.
An ``audit_deferred`` row is deleted in the transaction that chains it (``store.chain_deferred``). The
constraints make a forked chain impossible rather than merely unlikely: ``seq`` is the primary
key and each ``prev_hash`` may be used by one event only, so two writers that read the same head
cannot both insert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from evaluation_hub.db.base import Base

__all__ = ["AuditCheckpointRow", "AuditDeferredRow", "AuditEventRow", "AuditSettingRow"]


class AuditEventRow(Base):
    """One stored audit event (see ``chain.AuditEvent``)."""

    __tablename__ = "audit_events"
    __table_args__ = (CheckConstraint("seq >= 1", name="seq_positive"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditDeferredRow(Base):
    """An event committed with its change while another writer held the chain, not chained
    yet (``store``: *Deferred*); ``id`` orders them as they were written."""

    __tablename__ = "audit_deferred"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditCheckpointRow(Base):
    """One signed checkpoint (see ``checkpoint.Checkpoint``); at most one per event."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("audit_events.seq"), primary_key=True, autoincrement=False
    )
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


class AuditSettingRow(Base):
    """A fact about the chain itself, fixed once written: ``suite`` names the cryptographic
    suite its hashes and checkpoint signatures use (absent: ``default``, the chains written
    before suites could be chosen)."""

    __tablename__ = "audit_settings"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
