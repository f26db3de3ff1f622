"""The expert's desk at the seat: what the page shows and what it asks the agent to do.

``ExpertDesk`` is fed every link event (``on_event``; ``SeatAgent.add_handler``) and keeps
the expert's state: the check-in (``checkin_result``), the briefing (``expert_briefing``:
bidder count and rubric), the integrity commitment made on this page, every score save with
its state (已保存 / 待发送 / 已送达 once the hub accepted it / 未被接受 with the hub's reason,
from the hub's verdict in ``score_ack`` and the outbox's record of it), the deviation review
requests (``review_request``; informational notices too) and their answers, the result to
sign (``report_for_signature``), and the committee (``seat_agent.page.committee``: presence at
check-in, the chair election and the expert's ballot, ``vote``). A refused save is never shown
as delivered: the form keeps its values so the expert corrects them and saves again (a new
save, a new key).
Requests go to the hub over the seat link; score saves go through the outbox
(``ScoreDelivery.submit``), never straight to the link. The report signature is made here
with the seat's Ed25519 key over the same document the hub verifies
(``scoring.signing.signature_document``).

Kept in memory; a restarted agent learns its state again from the hub (the expert checks in
again) while unsent saves stay in the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scoring.signing import sign, signature_document
from seat_agent.errors import SeatAgentError
from seat_agent.keys import SeatIdentity
from seat_agent.outbox import SUPERSEDED, ScoreDelivery, Verdict
from seat_agent.page.committee import SeatCommittee
from seat_agent.page.rubric import check_part
from seat_protocol.events import (
    Connected,
    Disconnected,
    Event,
    MessageReceived,
    ScoreCommitted,
    ScoreRefused,
)
from seat_protocol.messages import (
    AppMessage,
    CheckinRequest,
    CheckinResult,
    CommitmentDecision,
    ErrorNotice,
    ExpertBriefing,
    ReportForSignature,
    ReportSignature,
    RequestResult,
    ReviewAnswer,
    ReviewRequestNotice,
    SessionStateNotice,
)
from seat_protocol.session_states import SessionState

__all__ = ["DeskRefused", "ExpertDesk", "report_signature", "signature_document"]

Send = Callable[[AppMessage], Awaitable[object]]


class DeskRefused(SeatAgentError):
    """A request the page made that cannot be done now; ``problems`` per form field."""

    def __init__(self, code: str, message: str, problems: Mapping[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = dict(problems or {})


def report_signature(
    identity: SeatIdentity, report: ReportForSignature, decision: str, reason: str
) -> ReportSignature:
    """The ``report_signature`` message for ``report``: the seat's Ed25519 signature over
    ``signature_document`` (agree, or disagree with ``reason``), with the seat's public key.
    What the page sends when the expert clicks 签署, and what a scripted expert sends
    (``seat_agent.script``)."""
    document = signature_document(
        report.session_id, report.expert_code, decision == "agree", reason, report.result
    )
    return ReportSignature(
        session_id=report.session_id,
        decision=decision,
        reason=reason,
        public_key=identity.ed25519_public.hex(),
        signature=sign(identity.ed25519, document).hex(),
    )


@dataclass
class _Save:
    key: str
    part: str
    values: dict[str, dict[str, str]]
    sheet: dict[str, Any]
    delivered: bool = False
    #: the hub's reason, once it refused the save
    refused: str | None = None
    #: the hub could not judge it for now (its reason); the agent sends it again
    retrying: str | None = None


@dataclass
class _Review:
    notice: ReviewRequestNotice
    answer: str | None = None
    reason: str = ""
    status: str = "open"  # open, sent, answered, refused, settled
    message: str = ""


@dataclass
class _Checkin:
    status: str = "none"  # none, sent, accepted, refused
    message: str = ""
    attempts_left: int | None = None
    session_id: str | None = None
    expert: str | None = None


@dataclass
class ExpertDesk:
    """The expert's state at this seat and the actions of the page."""

    identity: SeatIdentity
    delivery: ScoreDelivery
    send: Send
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)
    online: bool = False
    aligned: bool = False  # connected at least once: requests may be numbered on the link
    checkin: _Checkin = field(default_factory=_Checkin)
    briefing: ExpertBriefing | None = None
    state: str | None = None
    commitment: str | None = None  # confirmed, recused
    commitment_result: str = ""  # the hub's answer once recorded
    # The hub's refusal of the last commitment or recusal: the expert decides again.
    commitment_refused: str = ""
    saves: list[_Save] = field(default_factory=list)
    reviews: dict[int, _Review] = field(default_factory=dict)
    report: ReportForSignature | None = None
    signature: dict[str, Any] | None = None
    notices: list[str] = field(default_factory=list)
    committee: SeatCommittee = field(default_factory=SeatCommittee)
    _listeners: list[Callable[[], None]] = field(default_factory=list)

    def add_listener(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback()

    # --- link events ----------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        if isinstance(event, Connected):
            self.online = self.aligned = True
        elif isinstance(event, Disconnected):
            self.online = False
        elif isinstance(event, ScoreCommitted):
            for save in self.saves:
                if save.key == event.idempotency_key:
                    save.delivered, save.retrying = True, None
        elif isinstance(event, ScoreRefused):
            for save in self.saves:
                if save.key == event.idempotency_key:
                    save.refused, save.retrying = event.message, None
        elif isinstance(event, MessageReceived):
            self._message(event.message)
        else:
            return
        self._changed()

    def _message(self, msg: object) -> None:
        if self.committee.on_message(msg):
            return
        if isinstance(msg, CheckinResult):
            accepted = msg.accepted
            self.checkin = _Checkin(
                status="accepted" if accepted else "refused",
                message=msg.message,
                attempts_left=msg.attempts_left,
                session_id=msg.session_id if accepted else self.checkin.session_id,
                expert=self.checkin.expert,
            )
        elif isinstance(msg, ExpertBriefing):
            if self.briefing is None or self.briefing.session_id != msg.session_id:
                self.commitment, self.commitment_result = None, ""
            self.briefing = msg
            self.state = msg.state
        elif isinstance(msg, SessionStateNotice):
            if self.briefing is not None and msg.session_id == self.briefing.session_id:
                self.state = msg.state
        elif isinstance(msg, ReviewRequestNotice):
            self.reviews.setdefault(msg.request_id, _Review(msg))
            self.state = SessionState.DEVIATION_REVIEW
        elif isinstance(msg, ReportForSignature):
            self.report = msg
            self.state = "revealed"
        elif isinstance(msg, RequestResult):
            kind, _, ref = msg.ref.partition(":")
            if kind == "review" and ref.isdigit() and int(ref) in self.reviews:
                review = self.reviews[int(ref)]
                if msg.code == "settled":
                    review.status = "settled"
                else:
                    review.status = "answered" if msg.accepted else "refused"
                review.message = msg.message
            elif kind == "commitment":
                if msg.accepted:
                    self.commitment_result = msg.message
                else:  # not recorded: nothing was decided, the buttons come back
                    self.commitment, self.commitment_result = None, ""
                    self.commitment_refused = msg.message
            elif kind == "signature" and self.signature is not None:
                self.signature["status"] = "signed" if msg.accepted else "refused"
                self.signature["message"] = msg.message
        elif isinstance(msg, ErrorNotice):
            for save in self.saves:
                if save.key == msg.ref:
                    if msg.code == "commit-failed":
                        save.retrying = msg.message  # no verdict: the agent sends it again
                    else:
                        save.refused = msg.message  # a version-1 hub's refusal

    # --- actions of the page --------------------------------------------------------------

    def _require_link(self) -> None:
        if not self.aligned:
            raise DeskRefused("offline", "评标终端尚未连接主场，请稍候再试")

    async def check_in(self, session_id: str, expert_code: str, pin: str) -> None:
        session_id, expert_code, pin = session_id.strip(), expert_code.strip(), pin.strip()
        problems = {}
        if not session_id.isdigit():
            problems["session_id"] = "请填写评标会编号（数字）"
        if not expert_code:
            problems["expert_code"] = "请填写专家编号"
        if not pin:
            problems["pin"] = "请填写签到码"
        if problems:
            raise DeskRefused("checkin-incomplete", "签到信息不完整", problems)
        self._require_link()
        if self.checkin.status == "accepted":
            raise DeskRefused("already-checked-in", f"专家 {self.checkin.expert} 已在本工位签到")
        self.checkin = _Checkin(status="sent", session_id=session_id, expert=expert_code)
        await self.send(CheckinRequest(session_id=session_id, expert_code=expert_code, pin=pin))
        self._changed()

    async def commit(self, decision: str, reason: str = "") -> None:
        """The integrity commitment (or recusal) after reading the bidder count; recorded at
        the hub. Scoring opens once it is confirmed; a recusal is final at this seat."""
        if self.briefing is None:
            raise DeskRefused("not-checked-in", "请先签到")
        if decision not in ("confirmed", "recused"):
            raise DeskRefused("bad-decision", "请选择承诺或申请回避")
        if self.commitment is not None:
            raise DeskRefused("already-decided", "已作出承诺或回避申请，不能更改")
        if decision == "recused" and not reason.strip():
            # The hub's rule too (a recusal states its cause); said here without a round trip.
            raise DeskRefused(
                "reason-required", "申请回避须说明回避事由", {"reason": "请在输入框中填写回避理由"}
            )
        self._require_link()
        self.commitment = decision
        self.commitment_result = ""
        self.commitment_refused = ""
        await self.send(
            CommitmentDecision(
                session_id=self.briefing.session_id, decision=decision, reason=reason.strip()
            )
        )
        self._changed()

    def _part(self, part_id: str) -> Mapping[str, Any]:
        if self.briefing is None:
            raise DeskRefused("not-checked-in", "请先签到")
        for part in self.briefing.rubric.get("parts", []):
            if part.get("part") == part_id:
                return dict(part)
        raise DeskRefused("unknown-part", f"评分部分「{part_id}」不在本专家的评审范围内")

    def previous(self, part_id: str) -> dict[str, str] | None:
        """The points of the last save of the part the hub did not refuse (the one that counts
        or will), keyed like the form."""
        for save in reversed(self.saves):
            if save.part == part_id and save.refused is None:
                return {f"{e['subject']}|{e['item']}": e["points"] for e in save.sheet["entries"]}
        return None

    def validate(self, part_id: str, values: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
        checked = check_part(
            self._part(part_id),
            values,
            previous=self.previous(part_id),
            in_review=self.state == SessionState.DEVIATION_REVIEW,
        )
        return checked.problems

    async def submit(self, part_id: str, values: Mapping[str, Mapping[str, Any]]) -> _Save:
        if self.commitment != "confirmed":
            raise DeskRefused("no-commitment", "请先阅读并确认评标纪律承诺，再开始评分")
        checked = check_part(
            self._part(part_id),
            values,
            previous=self.previous(part_id),
            in_review=self.state == SessionState.DEVIATION_REVIEW,
        )
        if checked.sheet is None:
            raise DeskRefused(
                "sheet-invalid", f"评分表尚有 {len(checked.problems)} 处问题", checked.problems
            )
        assert self.briefing is not None
        key = await self.delivery.submit(self.briefing.session_id, checked.sheet)
        save = _Save(
            key,
            part_id,
            {
                k: {"points": str(v.get("points", "")), "comment": str(v.get("comment", ""))}
                for k, v in values.items()
            },
            checked.sheet,
        )
        self.saves.append(save)
        self._changed()
        return save

    async def answer(self, request_id: int, answer: str, reason: str) -> None:
        review = self.reviews.get(request_id)
        if review is None:
            raise DeskRefused("review-not-found", f"没有复核请求 #{request_id}")
        if review.notice.informational:
            raise DeskRefused("informational", f"复核通知 #{request_id} 仅供知悉，无需答复")
        if review.status == "settled":
            raise DeskRefused("settled", f"复核请求 #{request_id} 已自动关闭，无需答复")
        if review.status in ("sent", "answered"):
            raise DeskRefused("already-answered", f"复核请求 #{request_id} 已答复")
        reason = reason.strip()
        if answer not in ("keep", "revise"):
            raise DeskRefused("bad-answer", "请选择保留原评分或已重新评分")
        if answer == "keep" and not review.notice.explainable:
            raise DeskRefused("must-rescore", "该项不能以书面说明保留原评分，须重新评分")
        if answer == "keep" and not reason:
            raise DeskRefused(
                "reason-required", "保留原评分须书面说明理由", {"reason": "请填写理由"}
            )
        if answer == "revise":
            part = review.notice.part
            sent = [s for s in self.saves if s.part == part and s.refused is None]
            if not sent:
                raise DeskRefused("not-rescored", f"请先重新评分并提交 {part} 的评分表，再答复")
        self._require_link()
        review.answer, review.reason, review.status = answer, reason, "sent"
        await self.send(
            ReviewAnswer(
                session_id=review.notice.session_id,
                request_id=request_id,
                answer=answer,
                reason=reason,
            )
        )
        self._changed()

    async def sign(self, decision: str, reason: str) -> None:
        report = self.report
        if report is None:
            raise DeskRefused("no-report", "评标结果尚未公布，暂不能签署")
        if self.signature is not None and self.signature["status"] in ("sent", "signed"):
            raise DeskRefused("already-signed", "已提交签署，不能重复签署")
        reason = reason.strip()
        if decision not in ("agree", "disagree"):
            raise DeskRefused("bad-decision", "请选择同意或不同意")
        if decision == "disagree" and not reason:
            raise DeskRefused(
                "reason-required",
                "不同意评标结论的，须书面说明不同意见和理由",
                {"reason": "请填写理由"},
            )
        self._require_link()
        message = report_signature(self.identity, report, decision, reason)
        self.signature = {"decision": decision, "reason": reason, "status": "sent", "message": ""}
        await self.send(message)
        self._changed()

    async def vote(self, candidate: str) -> None:
        """The expert's ballot in the open round of the chair election (主任委员推选)."""
        if self.briefing is None:
            raise DeskRefused("not-checked-in", "请先签到")
        if self.commitment != "confirmed":
            raise DeskRefused("no-commitment", "请先阅读并确认评标纪律承诺，再参加主任委员推选")
        self._require_link()
        await self.committee.vote(self.briefing.session_id, candidate, self.send, DeskRefused)
        self._changed()

    # --- what the page shows --------------------------------------------------------------

    async def view(self) -> dict[str, Any]:
        pending = {p.idempotency_key for p in await self.delivery.outbox.pending()}
        # The outbox's record of each verdict: what the hub said even if this page missed it.
        verdicts = {v.idempotency_key: v for v in await self.delivery.outbox.verdicts()}
        saves = []
        for s in self.saves:
            saves.append(
                {
                    "key": s.key,
                    "part": s.part,
                    **_save_state(s, verdicts.get(s.key), s.key in pending, self.online),
                }
            )
        latest: dict[str, dict[str, Any]] = {}
        for s, shown in zip(self.saves, saves, strict=True):
            latest[s.part] = {"values": s.values, **shown}
        b = self.briefing
        return {
            "seat": self.identity.seat_id,
            "online": self.online,
            "checkin": {
                "status": self.checkin.status,
                "message": self.checkin.message,
                "attempts_left": self.checkin.attempts_left,
            },
            "briefing": None
            if b is None
            else {
                "session_id": b.session_id,
                "expert": b.expert_code,
                "bidder_count": b.bidder_count,
                "parts": b.rubric.get("parts", []),
            },
            "state": self.state,
            "commitment": self.commitment,
            "commitment_result": self.commitment_result,
            "commitment_refused": self.commitment_refused,
            "saves": saves,
            "latest": latest,
            "reviews": [
                {
                    "id": r.notice.request_id,
                    "part": r.notice.part,
                    "subject": r.notice.subject,
                    "item": r.notice.item,
                    "message": r.notice.message,
                    "spread": r.notice.spread,
                    "explainable": r.notice.explainable,
                    "informational": r.notice.informational,
                    "status": r.status,
                    "answer": r.answer,
                    "reason": r.reason,
                    "result": r.message,
                }
                for r in sorted(self.reviews.values(), key=lambda r: r.notice.request_id)
            ],
            "report": None
            if self.report is None
            else {"result": self.report.result, "expert": self.report.expert_code},
            "signature": self.signature,
            **self.committee.view(b.session_id if b is not None else None),
        }


def _save_state(
    save: _Save, verdict: Verdict | None, pending: bool, online: bool
) -> dict[str, Any]:
    """How the page shows one save: ``status``, its ``label``, and the hub's ``reason`` when
    it refused it. Delivered (已送达) only once the hub accepted it."""
    if verdict is not None and verdict.code == SUPERSEDED:
        # The seat's own decision, not the hub's: a later save of the part replaced it.
        return {"status": "superseded", "label": verdict.message, "reason": ""}
    refused = save.refused
    if refused is None and verdict is not None and not verdict.accepted:
        refused = verdict.message
    if refused is not None:
        return {
            "status": "refused",
            "label": f"主场未接受：{refused}（请修改后重新提交）",
            "reason": refused,
        }
    if save.delivered or (verdict is not None and verdict.accepted):
        return {"status": "delivered", "label": "已送达", "reason": ""}
    if pending and save.retrying is not None:
        return {
            "status": "retrying",
            "label": f"已保存，主场暂未确认，终端正在自动重新提交（{save.retrying}）",
            "reason": "",
        }
    if pending and online:
        return {"status": "saved", "label": "已保存，等待主场确认", "reason": ""}
    if pending:
        return {"status": "queued", "label": "待发送", "reason": ""}
    # Judged by a hub before verdicts were recorded in the outbox: it was acknowledged.
    return {"status": "delivered", "label": "已送达", "reason": ""}
