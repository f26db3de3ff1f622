"""The evaluation session's states (评标会状态): the one vocabulary the hub and the seats share.

The hub's lifecycle (``evaluation_hub.sessions.lifecycle``) moves a session between these
states and ``evaluation_hub.sessions.states`` names the groups the hub's rules use; the seat
hears them in ``SessionStateNotice`` and ``ExpertBriefing``. ``SessionState`` is a ``StrEnum``:
a member equals its wire and database string, so stored rows and messages need no conversion.

``READING_OVER`` is a protocol rule, so it lives here: once a session is in one of these states
the expert no longer reads chapters, the seat wipes its cache and the hub drops the sealed
chunks it held for the session.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["READING_OVER", "STATE_NAMES", "SessionState"]


class SessionState(StrEnum):
    SCHEDULED = "scheduled"
    SEATS_CONFIRMED = "seats_confirmed"
    CHECK_IN = "check_in"
    EVALUATING = "evaluating"
    DEVIATION_REVIEW = "deviation_review"
    SEALED = "sealed"
    REVEALED = "revealed"
    REPORT_SIGNED = "report_signed"
    ARCHIVED = "archived"
    PAUSED = "paused"
    SEALED_FOR_NEW_COMMITTEE = "sealed_for_new_committee"
    CANCELLED = "cancelled"


#: The Chinese name of each state, as every page shows it.
STATE_NAMES: dict[str, str] = {
    SessionState.SCHEDULED: "已排期",
    SessionState.SEATS_CONFIRMED: "工位已确认",
    SessionState.CHECK_IN: "签到中",
    SessionState.EVALUATING: "评审中",
    SessionState.DEVIATION_REVIEW: "偏离复核中",
    SessionState.SEALED: "已封存",
    SessionState.REVEALED: "已解密还原",
    SessionState.REPORT_SIGNED: "报告已签署",
    SessionState.ARCHIVED: "已归档",
    SessionState.PAUSED: "已暂停",
    SessionState.SEALED_FOR_NEW_COMMITTEE: "已封存待重新组建评标委员会",
    SessionState.CANCELLED: "已取消",
}

READING_OVER: frozenset[SessionState] = frozenset(
    {
        SessionState.SEALED,
        SessionState.SEALED_FOR_NEW_COMMITTEE,
        SessionState.REVEALED,
        SessionState.REPORT_SIGNED,
        SessionState.ARCHIVED,
        SessionState.CANCELLED,
    }
)
