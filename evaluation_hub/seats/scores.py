"""Score intake (评分接收): the hub's durable half of the seat protocol's exactly-once promise,
and the verdict the seat hears.

:func:`commit_score` checks the seat key's signature over the save, then stores the save under
its UNIQUE idempotency key and judges it in the same unit of work
(``evaluation.saves.save_from_seat``); it returns the verdict, which the seat websocket sends
as ``score_ack`` only after this returned. A replay of a stored key (same payload, same seat)
gets the stored verdict again and writes nothing; a different payload under a used key is
refused. The UNIQUE key, not a check before the insert, decides a race between hub processes.

A save without the seat's signature, or with one the seat's approved enrolment key did not make
over this save, is refused and stores nothing: it cannot be proven to come from that seat.
Never deletes or rewrites a submitted score.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evaluation_hub.db.seat_terminals import SeatEnrolment, SubmittedScore
from evaluation_hub.evaluation import saves
from evaluation_hub.services import Services
from scoring.errors import SignatureInvalid
from scoring.signing import save_document, verify
from seat_protocol.suites import suite_of_public_bytes

__all__ = ["CONFLICT_MESSAGE", "CommitOutcome", "ScoreCommit", "commit_score"]

#: committed: stored and judged now; replayed: stored before, answered with its verdict;
#: refused: not stored (no valid seat signature, or the key holds another payload)
CommitOutcome = Literal["committed", "replayed", "refused"]

CONFLICT_MESSAGE = (
    "该评分提交的幂等键已用于内容不同的另一次提交，本次提交未被接受，请联系现场工作人员"
)
_UNSIGNED = "评分未附本工位终端的签名，未被接受；请升级评标终端软件后重新提交"
_BAD_SIGNATURE = "评分的签名不是本工位登记的终端密钥对该评分的签名，未被接受，请联系现场工作人员"
_NO_KEY = "本工位没有已批准的终端密钥，评分未被接受，请联系场地管理员"


# What ``score_ack`` carries at most (``seat_protocol.messages``).
_MAX_CODE, _MAX_MESSAGE = 64, 500


@dataclass(frozen=True)
class ScoreCommit:
    """The intake's answer: what happened, and the verdict the seat is sent (the code and
    message cut to what ``score_ack`` carries)."""

    outcome: CommitOutcome
    accepted: bool
    code: str
    message: str

    def __post_init__(self) -> None:
        if len(self.code) > _MAX_CODE:
            object.__setattr__(self, "code", self.code[:_MAX_CODE])
        if len(self.message) > _MAX_MESSAGE:
            object.__setattr__(self, "message", self.message[: _MAX_MESSAGE - 1] + "…")


def _refused(code: str, message: str) -> ScoreCommit:
    return ScoreCommit("refused", False, code, message)


async def _approved_key(hub: Services, seat_key: str) -> bytes | None:
    async with hub.db.read() as s:
        found = await s.execute(
            select(SeatEnrolment.ed25519_public_key).where(
                SeatEnrolment.seat_key == seat_key, SeatEnrolment.status == "approved"
            )
        )
        key: bytes | None = found.scalars().first()
    return key


async def _stored(hub: Services, idempotency_key: str) -> SubmittedScore | None:
    async with hub.db.read() as s:
        row: SubmittedScore | None = (
            await s.execute(
                select(SubmittedScore).where(SubmittedScore.idempotency_key == idempotency_key)
            )
        ).scalar_one_or_none()
    return row


def _answer(stored: SubmittedScore, seat_key: str, digest: str) -> ScoreCommit:
    if stored.payload_digest != digest or stored.seat_key != seat_key:
        return _refused("idempotency-conflict", CONFLICT_MESSAGE)
    if stored.accepted is None:
        # Stored by a hub before verdicts were kept with the save (migration 0009): that hub
        # acknowledged it as delivered, and says so again.
        return ScoreCommit("replayed", True, "accepted", saves.ACCEPTED_MESSAGE)
    return ScoreCommit(
        "replayed",
        stored.accepted,
        stored.verdict_code or ("accepted" if stored.accepted else "refused"),
        stored.verdict_message or "",
    )


async def commit_score(
    hub: Services,
    *,
    seat_key: str,
    idempotency_key: str,
    session_ref: str,
    sheet: dict[str, Any],
    digest: str,
    signature: str,
    now: datetime,
) -> ScoreCommit:
    """Store and judge a seat's save once, or answer a replay with the stored verdict."""
    stored = await _stored(hub, idempotency_key)
    if stored is not None:
        return _answer(stored, seat_key, digest)
    key = await _approved_key(hub, seat_key)
    if key is None:
        return _refused("seat-not-enrolled", _NO_KEY)
    if not signature:
        return _refused("signature-missing", _UNSIGNED)
    try:
        verify(
            suite_of_public_bytes(key).load_public(key),
            save_document(session_ref, idempotency_key, sheet),
            bytes.fromhex(signature),
        )
    except (SignatureInvalid, ValueError):
        return _refused("signature-invalid", _BAD_SIGNATURE)
    try:
        judged = await saves.save_from_seat(
            hub,
            seat_key=seat_key,
            idempotency_key=idempotency_key,
            session_ref=session_ref,
            sheet=sheet,
            digest=digest,
            signature=signature,
            public_key=key.hex(),
            now=now,
        )
    except IntegrityError:
        # Insert first and look second: another hub process stored this key meanwhile.
        stored = await _stored(hub, idempotency_key)
        if stored is None:
            raise
        return _answer(stored, seat_key, digest)
    return ScoreCommit("committed", judged.accepted, judged.code, judged.message)
