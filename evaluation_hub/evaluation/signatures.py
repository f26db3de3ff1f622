"""Signing the evaluation report (评标报告签署): each member agrees, or disagrees with written
reasons, after the reveal; a refusal to sign with written reasons is recorded.

A signature is the member's Ed25519 (SM2 in the national suite) signature over ``scoring.signing.signature_document`` (the
result, the decision and the reasons), sent by the seat terminal the member sits at and made
with that seat's approved key: the hub refuses any other key, a seat acting for an expert
checked in elsewhere, and every signature entered at the host (nobody signs for an expert).
The host may record a member's refusal to sign, with the member's written reasons, only for a
member not checked in at a seat; a refusal without reasons is refused (it would count as
agreement). The last member's signature moves the session to ``report_signed`` in the same
unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.seat_terminals import SeatEnrolment
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from evaluation_hub.evaluation import rules
from evaluation_hub.evaluation.context import SeatActor, load_context, require_seated
from evaluation_hub.evaluation.models import ReportSignatureRow
from evaluation_hub.evaluation.saves import checked_in_seat
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import formation
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import SessionState, state_name
from evaluation_hub.sessions.store import apply_action_in
from scoring.errors import SignatureInvalid
from scoring.signing import signature_document
from scoring.signing import verify as verify_signature
from seat_protocol.suites import suite_of_public_bytes

__all__ = ["Signature", "sign_report", "signature_of", "signatures_of"]


@dataclass(frozen=True)
class Signature:
    """One member's recorded signature (or refusal to sign)."""

    expert: str
    #: agree | disagree | refused
    decision: str
    counted_as_agreement: bool
    reason: str
    public_key: str | None
    signature: str | None
    document_digest: str
    signed_at: datetime


def signature_of(row: ReportSignatureRow) -> Signature:
    return Signature(
        expert=row.expert_code,
        decision=row.decision,
        counted_as_agreement=row.counted_as_agreement,
        reason=row.reason,
        public_key=row.public_key,
        signature=row.signature,
        document_digest=row.document_digest,
        signed_at=row.signed_at,
    )


async def signatures_of(s: AsyncSession, session_id: int) -> list[ReportSignatureRow]:
    rows = await s.execute(
        select(ReportSignatureRow)
        .where(ReportSignatureRow.session_id == session_id)
        .order_by(ReportSignatureRow.id)
    )
    return list(rows.scalars())


async def _seat_key_of(s: AsyncSession, seat_key: str) -> bytes | None:
    """The approved Ed25519 key of the seat terminal ``seat_key``, if it is enrolled."""
    found = await s.execute(
        select(SeatEnrolment.ed25519_public_key).where(
            SeatEnrolment.seat_key == seat_key, SeatEnrolment.status == "approved"
        )
    )
    key: bytes | None = found.scalars().first()
    return key


async def sign_report(
    hub: Services,
    actor: Principal | SeatActor,
    session_id: int,
    *,
    expert: str,
    decision: str,
    reason: str,
    public_key: str | None,
    signature: str | None,
    now: datetime,
) -> Signature:
    """Record one member's signature (agree / disagree with reasons), sent from the seat the
    member sits at; or, at the host, a member's refusal to sign with written reasons."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        reason = reason.strip()
        checked_in = None
        if isinstance(actor, SeatActor):
            await require_seated(s, actor, session_id, expert)
            checked_in = await checked_in_seat(s, session_id, expert)
            if checked_in not in (None, actor.seat_key):
                raise Forbidden(
                    "not-checked-in-seat",
                    f"专家 {expert} 已在工位 {checked_in} 签到，签署须由该工位提交",
                )
        else:
            access.require(actor, access.Action.RUN_EVALUATION, loaded.target)
            # A recused member is out of everything: that is the reason to give, first.
            await formation.require_not_recused(s, session_id, expert)
            if decision != "refuse":
                raise Forbidden(
                    "sign-at-seat",
                    "评标报告须由专家本人在其签到的工位终端签署（以该工位的终端密钥签名），"
                    "主场不能代为签署",
                )
            checked_in = await checked_in_seat(s, session_id, expert)
            if checked_in is not None:
                raise Forbidden(
                    "expert-at-seat",
                    f"专家 {expert} 已在工位 {checked_in} 签到，签署或拒签须由该工位提交，"
                    "主场不能代为记录",
                )
            if not reason:
                raise InvalidInput(
                    "reason-required",
                    "记录专家拒绝签字须附其书面说明的不同意见和理由；"
                    "未说明理由的拒签视为同意，不能由主场代为记录",
                )
        ctx = await load_context(s, session_id, hub.sealer, lock=True)
        await formation.require_not_recused(s, ctx.session.id, expert)
        if ctx.session.state != SessionState.REVEALED:
            raise Conflict(
                "not-signing",
                f"评标会当前状态为「{state_name(ctx.session.state)}」，不能签署评标报告",
            )
        member = ctx.members.get(expert)
        if member is None or expert not in ctx.manifest.expert_ids:
            raise NotFound(
                "not-a-member", f"专家 {expert} 不是评标会 #{session_id} 的评标委员会成员"
            )
        signed = await signatures_of(s, ctx.session.id)
        if any(x.expert_code == expert for x in signed):
            raise Conflict("already-signed", f"专家 {expert} 已签署评标报告，不能重复签署")
        assert ctx.row.result is not None
        agrees = decision == "agree"
        document = signature_document(ctx.sid, expert, agrees, reason, ctx.row.result)
        if decision == "refuse":
            public_key = signature = None
        else:
            if decision == "disagree" and not reason:
                raise InvalidInput("reason-required", "不同意评标结论的，须书面说明不同意见和理由")
            if not public_key or not signature:
                raise InvalidInput("signature-required", "签署评标报告须附专家的签名和签名公钥")
            try:
                key_bytes = bytes.fromhex(public_key)
                # The enrolled key's suite: Ed25519 (32 bytes) or SM2 (65, national suite).
                key = suite_of_public_bytes(key_bytes).load_public(key_bytes)
                sig = bytes.fromhex(signature)
            except ValueError:
                raise InvalidInput(
                    "bad-signature-format", "签名或签名公钥不是有效的十六进制 Ed25519 值"
                ) from None
            # Only a seat reaches here (the host signs for nobody): the key must be the one
            # this seat is enrolled with, the seat where the expert sits (or checked in).
            assert isinstance(actor, SeatActor)
            enrolled = await _seat_key_of(s, actor.seat_key)
            if enrolled is None:
                raise Forbidden("key-mismatch", f"专家 {expert} 所在工位没有已批准的终端密钥")
            if enrolled != key_bytes:
                raise Forbidden(
                    "key-mismatch", f"签名公钥与专家 {expert} 所在工位登记的终端密钥不一致"
                )
            try:
                verify_signature(key, document, sig)
            except SignatureInvalid:
                raise InvalidInput(
                    "signature-invalid",
                    f"专家 {expert} 的签名与评标结果不符：不是该公钥对本评标结果和所填意见的签名",
                ) from None
        row = ReportSignatureRow(
            session_id=ctx.session.id,
            expert_code=expert,
            decision="refused" if decision == "refuse" else decision,
            # A refusal always carries written reasons now (see above): never agreement.
            counted_as_agreement=agrees,
            reason=reason,
            public_key=public_key,
            signature=signature,
            document_digest=rules.document_digest(document),
            recorded_by=actor.username,
            signed_at=now,
        )
        s.add(row)
        await s.flush()
        await append_event(
            s,
            kind="evaluation.report_signature",
            subject=f"session:{ctx.session.id}",
            actor=actor.username,
            payload={
                "expert": expert,
                "decision": row.decision,
                "counted_as_agreement": row.counted_as_agreement,
                "reason": reason,
                "document_digest": row.document_digest,
            },
            at=now,
        )
        if len(signed) + 1 == len(ctx.scorers):
            system = Principal("hub", "system", ctx.session.host_venue_id)
            await apply_action_in(s, system, ctx.session.id, "sign_report", reason=None, now=now)
        return signature_of(row)
