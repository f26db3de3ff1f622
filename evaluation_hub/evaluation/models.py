"""Tables of the hub's evaluation engine: the attached bid package and its shuffle seed,
anonymity overrides, score saves, deviation-review requests and report signatures.

``evaluation_packages`` holds one row per session: where the bid package was read from and the
digest of its files (the package is re-read and re-checked against the digest on every use),
the anonymity and similarity findings of the attach, the shuffle manifest, the seed's commitment (published before the start) and the seed itself
sealed with the hub's sealing key; ``revealed_seed`` is written only when the session is
revealed, together with the result document the committee signs.

``score_saves`` records every save the hub judged, accepted or refused, with the reasons;
the latest accepted save per (expert, part) counts. A save that came from a seat points at its
``submitted_scores`` row (UNIQUE), so a seat save is judged exactly once, in the transaction
that stored it. A save entered at the host (代录) keeps the operator's written reason
(``proxy_reason``). ``review_requests`` keeps informational notices (the expert is told, not
asked) beside the questions, and a request that closed itself when the values came to agree
records them (``settled_values``). ``report_pdfs`` keeps the signed report's PDF exactly as
first rendered (one per session; its SHA-256 is on the audit chain). Never delete or rewrite
these rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from evaluation_hub.db.base import Base

__all__ = [
    "AnonymityOverrideRow",
    "EvaluationPackageRow",
    "ReportPdfRow",
    "ReportSignatureRow",
    "ReviewRequestRow",
    "ScoreSaveRow",
]


class EvaluationPackageRow(Base):
    """The bid package attached to a session, and its staggered-shuffle seed."""

    __tablename__ = "evaluation_packages"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), unique=True)
    source_path: Mapped[str] = mapped_column(Text)
    content_digest: Mapped[str] = mapped_column(String(64))
    #: {"session_id", "experts", "chapters", "bidders"}: what the commitment binds
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: anonymity findings as scanned at attach time (bidder id, chapter, kind, line, column)
    findings: Mapped[list[Any]] = mapped_column(JSON)
    #: similar chapters between bidders found at attach time (a collusion signal, never a
    #: finding): chapter, the two bidder ids, Jaccard, containment, shared passages by place
    #: and length (never their text); None for a package attached before the check ran here
    similarity: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    #: the other collusion signals between bidders found at attach time
    #: (``evaluation.collusion.bidder_signals_json``: cross-chapter pairs, shared unusual
    #: strings, identical price tails; places and sizes only); None for a package attached
    #: before these checks ran here
    collusion: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    seed_commitment: Mapped[str] = mapped_column(String(64))
    sealed_seed: Mapped[str] = mapped_column(Text)
    attached_by: Mapped[str] = mapped_column(String(100))
    attached_at: Mapped[datetime]
    #: the score saves that counted when the session was sealed
    sealed_save_ids: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    sealed_at: Mapped[datetime | None] = mapped_column(default=None)
    revealed_seed: Mapped[str | None] = mapped_column(String(128), default=None)
    revealed_at: Mapped[datetime | None] = mapped_column(default=None)
    #: the result document (scoring.signing.result_document, canonical JSON values)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    result_digest: Mapped[str | None] = mapped_column(String(64), default=None)


class AnonymityOverrideRow(Base):
    """A person's decision to release a flagged chapter anyway, with the reason."""

    __tablename__ = "anonymity_overrides"
    __table_args__ = (UniqueConstraint("session_id", "bidder_id", "chapter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    bidder_id: Mapped[str] = mapped_column(String(64))
    chapter_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime]


class ScoreSaveRow(Base):
    """One score save for one part (a chapter or the commercial part), accepted or refused."""

    __tablename__ = "score_saves"
    __table_args__ = (Index("ix_score_saves_expert_part", "session_id", "expert_code", "part_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    #: None when the save could not be tied to an expert (an unbooked seat, say)
    expert_code: Mapped[str | None] = mapped_column(String(32))
    part_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(10))  # "seat" or "host"
    submitted_score_id: Mapped[int | None] = mapped_column(
        ForeignKey("submitted_scores.id"), unique=True, default=None
    )
    #: [{"subject", "item", "points", "comment", "changed_in_review"}], points as strings
    entries: Mapped[list[Any]] = mapped_column(JSON)
    #: subject → the total the expert wrote, as strings
    declared: Mapped[dict[str, Any]] = mapped_column(JSON)
    accepted: Mapped[bool] = mapped_column(Boolean)
    #: why a save was refused (Chinese, for the expert and the host)
    problems: Mapped[list[Any]] = mapped_column(JSON)
    recorded_by: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime]
    #: a save entered at the host for an expert not checked in at a seat (代录): why
    proxy_reason: Mapped[str | None] = mapped_column(Text, default=None)


class ReviewRequestRow(Base):
    """A deviation-review request (评分复核) to one expert, and the expert's answer."""

    __tablename__ = "review_requests"
    __table_args__ = (UniqueConstraint("session_id", "flag_key", "expert_code", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    #: internal: contains the bidder id, never shown before sealing
    flag_key: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(30))
    expert_code: Mapped[str] = mapped_column(String(32))
    part_id: Mapped[str] = mapped_column(String(64))
    #: the label the expert saw (the bidder id for the commercial part)
    subject: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    #: the anonymised spread: {"yours", "others": [...], "mean"}
    spread: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_at: Mapped[datetime]
    #: keep | revise (the expert's), settled (closed by itself once the values agreed)
    answer: Mapped[str | None] = mapped_column(String(10), default=None)
    answer_reason: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str | None] = mapped_column(String(100), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    #: the expert is told (they hold the value most members gave), not asked: no answer taken
    informational: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: when settled: {"values": {expert: points}} as they agreed
    settled_values: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class ReportSignatureRow(Base):
    """A committee member's signature on the evaluation report, or the recorded refusal."""

    __tablename__ = "report_signatures"
    __table_args__ = (UniqueConstraint("session_id", "expert_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    expert_code: Mapped[str] = mapped_column(String(32))
    #: agree | disagree | refused
    decision: Mapped[str] = mapped_column(String(10))
    #: refusing to sign without written reasons counts as agreement (视为同意)
    counted_as_agreement: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    # hex of the seat key: 64 digits (Ed25519) or 130 (SM2, national suite)
    public_key: Mapped[str | None] = mapped_column(String(130), default=None)
    signature: Mapped[str | None] = mapped_column(String(128), default=None)
    document_digest: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(100))
    signed_at: Mapped[datetime]


class ReportPdfRow(Base):
    """The signed evaluation report as PDF, rendered once and served as stored ever after."""

    __tablename__ = "report_pdfs"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    #: who asked for it first (the rendering is recorded under their name)
    rendered_by: Mapped[str] = mapped_column(String(100))
    rendered_at: Mapped[datetime]
