"""The outage clocks from published measures (a city's remote-evaluation fault rules).

* A fault before the start may delay it; once the planned start plus ``decision_after`` (2 h)
  is reached, the tenderer (招标人) must decide whether to proceed or to call the session off.
* A fault during evaluation pauses the session; if it is not fixed within ``seal_after`` (4 h)
  of the fault, the session is sealed and a new committee is formed.

:func:`due_actions` tells the host what is due and when, for the host's page. The rules act
rather than advise: :func:`enforcement` says which move the rule requires now, and the hub's
timer (``evaluation_hub.timers``) makes it, audited, with the rule as its reason: a fault during
evaluation pauses the session at once; one not fixed within ``seal_after`` seals it for a new
committee; a fault before the start still open ``decision_after`` past the planned start pauses
a session in check-in for the tenderer's decision (before check-in the lifecycle has no state
to move to: the host sees the decision due). Pure: ``now`` comes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from evaluation_hub import localtime
from evaluation_hub.sessions.lifecycle import SessionStatus
from evaluation_hub.sessions.states import BEFORE_START, DURING_EVALUATION, SessionState

__all__ = ["DueAction", "OutageMove", "OutageRules", "due_actions", "enforcement"]

DueKind = Literal[
    "start_delayed",
    "tenderer_decision",
    "pause_session",
    "seal_for_new_committee",
    "evening_cutoff",
]


@dataclass(frozen=True)
class OutageRules:
    decision_after: timedelta = timedelta(hours=2)
    seal_after: timedelta = timedelta(hours=4)

    def __post_init__(self) -> None:
        if self.decision_after <= timedelta(0) or self.seal_after <= timedelta(0):
            raise ValueError("outage periods must be positive")


@dataclass(frozen=True)
class DueAction:
    """Something the host must do at ``due_at``; ``due_now`` once that time has come.
    ``message`` is shown on the host's page (Simplified Chinese)."""

    kind: DueKind
    due_at: datetime
    due_now: bool
    message: str


def _hm(moment: datetime) -> str:
    return localtime.format_minutes(moment)


def _hours(period: timedelta) -> str:
    return f"{period.total_seconds() / 3600:g}"


def due_actions(
    session_state: SessionStatus,
    planned_start: datetime,
    fault_started_at: datetime | None,
    now: datetime,
    rules: OutageRules | None = None,
) -> list[DueAction]:
    """What the host must do about an ongoing fault, earliest first (empty if no fault)."""
    rules = rules or OutageRules()
    if fault_started_at is None:
        return []
    if fault_started_at > now:
        raise ValueError("fault_started_at lies after now")
    phase = session_state.paused_from or session_state.state
    actions: list[DueAction] = []
    if phase in BEFORE_START:
        decide_at = planned_start + rules.decision_after
        actions.append(
            DueAction(
                "start_delayed",
                planned_start,
                now >= planned_start,
                f"故障未排除，评标会不能按计划于 {_hm(planned_start)} 开始",
            )
        )
        actions.append(
            DueAction(
                "tenderer_decision",
                decide_at,
                now >= decide_at,
                f"计划开始时间后 {_hours(rules.decision_after)} 小时（{_hm(decide_at)}）"
                "故障仍未排除的，须由招标人决定是否继续进行评标",
            )
        )
    elif phase in DURING_EVALUATION:
        if session_state.state != SessionState.PAUSED:
            actions.append(
                DueAction(
                    "pause_session",
                    fault_started_at,
                    True,
                    f"评审过程中于 {_hm(fault_started_at)} 发生故障，应立即暂停评标会",
                )
            )
        seal_at = fault_started_at + rules.seal_after
        actions.append(
            DueAction(
                "seal_for_new_committee",
                seal_at,
                now >= seal_at,
                f"故障发生后 {_hours(rules.seal_after)} 小时（{_hm(seal_at)}）仍未排除的，"
                "应封存评标资料并重新组建评标委员会",
            )
        )
    return sorted(actions, key=lambda a: a.due_at)


@dataclass(frozen=True)
class OutageMove:
    """The lifecycle move an outage rule requires now, and the reason recorded with it."""

    action: Literal["pause", "seal_for_new_committee"]
    reason: str


def enforcement(
    session_state: SessionStatus,
    planned_start: datetime,
    fault_started_at: datetime | None,
    now: datetime,
    rules: OutageRules,
) -> OutageMove | None:
    """The move the outage rules require of the session at ``now``, or None."""
    if fault_started_at is None or fault_started_at > now:
        return None
    state = session_state.state
    if state in DURING_EVALUATION:
        seal_at = fault_started_at + rules.seal_after
        return OutageMove(
            "pause",
            f"故障处置规则：评审过程中于 {_hm(fault_started_at)} 发生故障，评标会已自动暂停；"
            f"{_hm(seal_at)} 前仍未排除的，将封存评标资料并重新组建评标委员会",
        )
    if state == SessionState.PAUSED and session_state.paused_from in DURING_EVALUATION:
        seal_at = fault_started_at + rules.seal_after
        if now >= seal_at:
            return OutageMove(
                "seal_for_new_committee",
                f"故障处置规则：故障发生后 {_hours(rules.seal_after)} 小时（{_hm(seal_at)}）"
                "仍未排除，已自动封存评标资料，须重新组建评标委员会",
            )
        return None
    decide_at = planned_start + rules.decision_after
    if state == SessionState.CHECK_IN and now >= decide_at:
        return OutageMove(
            "pause",
            f"故障处置规则：计划开始时间后 {_hours(rules.decision_after)} 小时（{_hm(decide_at)}）"
            "故障仍未排除，评标会已自动暂停，须由招标人决定是否继续进行评标",
        )
    return None
