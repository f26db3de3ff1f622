"""The committee on the expert's page (评标委员会): whether the seat's picture confirmed the
expert's presence at check-in (``presence_check``), and the chair election (``chair_round``)
with the expert's own ballot (``chair_ballot``, answered by ``request_result``
``chair:<session>``).

``SeatCommittee`` keeps that state for ``seat_agent.page.desk.ExpertDesk``, which feeds it the
link's messages and asks it to vote once the expert has checked in and confirmed the
commitment. Kept in memory: the hub tells a (re)connected seat where things stand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from seat_agent.errors import SeatAgentError
from seat_protocol.messages import (
    AppMessage,
    ChairBallot,
    ChairRoundNotice,
    PresenceNotice,
    RequestResult,
)

__all__ = ["SeatCommittee"]

Refuse = Callable[..., SeatAgentError]


@dataclass
class SeatCommittee:
    presence: PresenceNotice | None = None
    chair: ChairRoundNotice | None = None
    #: this page's ballot: round, candidate, status (sent, recorded, refused), the hub's message
    ballot: dict[str, Any] | None = None

    def on_message(self, msg: object) -> bool:
        """Take ``msg`` if it is the committee's; True if it was."""
        if isinstance(msg, PresenceNotice):
            self.presence = msg
        elif isinstance(msg, ChairRoundNotice):
            self.chair = msg
        elif isinstance(msg, RequestResult) and msg.ref.partition(":")[0] == "chair":
            if self.ballot is not None:
                self.ballot["status"] = "recorded" if msg.accepted else "refused"
                self.ballot["message"] = msg.message
        else:
            return False
        return True

    async def vote(
        self,
        session_id: str,
        candidate: str,
        send: Callable[[AppMessage], Awaitable[object]],
        refuse: Refuse,
    ) -> None:
        """Send the expert's ballot in the open round (the desk has checked the check-in, the
        commitment and the link); ``refuse(code, message, problems)`` makes the refusal."""
        election = self.chair
        if election is None or election.session_id != session_id:
            raise refuse("no-election", "主任委员推选尚未开始")
        if election.chair is not None:
            raise refuse("already-elected", f"已选出主任委员 {election.chair}，不再投票")
        candidate = candidate.strip()
        if candidate not in {c.code for c in election.candidates}:
            raise refuse(
                "not-a-candidate",
                f"第 {election.round} 轮候选人中没有「{candidate}」",
                {"candidate": "请选择一位候选人"},
            )
        mine = self.ballot
        if election.ballot is not None or (
            mine is not None
            and mine["round"] == election.round
            and mine["status"] in ("sent", "recorded")
        ):
            raise refuse("already-voted", f"已在第 {election.round} 轮投票，每轮只能投一票")
        self.ballot = {"round": election.round, "candidate": candidate, "status": "sent"}
        self.ballot["message"] = ""
        await send(ChairBallot(session_id=session_id, round=election.round, candidate=candidate))

    def view(self, session_id: str | None) -> dict[str, Any]:
        """Presence and the election as the page shows them (the checked-in session only)."""
        presence = self.presence
        if presence is not None and presence.session_id != session_id:
            presence = None
        election = self.chair
        chair: dict[str, Any] | None = None
        if election is not None and election.session_id == session_id:
            mine = self.ballot if self.ballot and self.ballot["round"] == election.round else None
            pending = mine is not None and mine["status"] in ("sent", "recorded")
            voted = election.ballot or (mine["candidate"] if mine and pending else None)
            chair = {
                "round": election.round,
                "candidates": [{"code": c.code, "name": c.name} for c in election.candidates],
                "ballot": voted,
                "waiting": election.waiting,
                "results": [
                    {"round": r.round, "votes": r.votes, "chair": r.chair, "tied": list(r.tied)}
                    for r in election.results
                ],
                "chair": election.chair,
                "status": mine["status"] if mine else ("recorded" if election.ballot else None),
                "message": mine["message"] if mine else "",
            }
        return {
            "presence": None
            if presence is None
            else {"state": presence.state, "message": presence.message},
            "chair": chair,
        }
