"""The evaluation session's lifecycle (评标会状态) as a pure state machine.

    scheduled -> seats_confirmed -> check_in -> evaluating -> deviation_review -> sealed
      -> revealed -> report_signed -> archived

    pause:  check_in | evaluating | deviation_review -> paused; resume goes back to where it was
    paused -> sealed_for_new_committee (an outage not fixed in time: 封存，重新组建评标委员会)
    scheduled | seats_confirmed | check_in -> cancelled (the tenderer decided not to proceed)
    report_signed | sealed_for_new_committee | cancelled -> archived

Every transition is made by an actor at the host site (主场为主): away sites never drive a
session. Starting, pausing, resuming and ending are for host-site staff; the steps that follow
from facts (all seats confirmed, all sheets in, all signatures in) may also be made by the hub
itself (``Role.SYSTEM``). Who may make each move is part of the machine (``TRANSITIONS``),
named with the roles of ``evaluation_hub.access``, so the system administrator, who never acts
in an evaluation, makes none of them. Each call returns the new state and a :class:`TransitionRecord` for
the audit chain. Never reads the clock or the database: ``now`` and the current state come in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from evaluation_hub.access import ROLE_NAMES, Role
from evaluation_hub.sessions import states
from evaluation_hub.sessions.errors import SessionRuleError
from evaluation_hub.sessions.states import PAUSABLE, STATE_NAMES
from evaluation_hub.sessions.states import SessionState as S

__all__ = [
    "ACTION_NAMES",
    "PAUSABLE",
    "STATES",
    "STATE_NAMES",
    "TRANSITIONS",
    "SessionStatus",
    "TransitionRecord",
    "TransitionRule",
    "allowed_actions",
    "transition",
]

STATES = states.STATES

ACTION_NAMES = {
    "confirm_seats": "确认工位",
    "open_check_in": "开始签到",
    "start_evaluation": "开始评审",
    "begin_deviation_review": "进入偏离复核",
    "seal": "结束评审并封存",
    "reveal": "解密还原",
    "sign_report": "完成报告签署",
    "archive": "归档",
    "pause": "暂停",
    "resume": "恢复",
    "seal_for_new_committee": "封存并重新组建评标委员会",
    "cancel": "取消评标会",
}

_HOST_STAFF = frozenset({Role.HOST_OPERATOR})
_HOST_OR_SYSTEM = frozenset({Role.HOST_OPERATOR, Role.SYSTEM})


@dataclass(frozen=True)
class TransitionRule:
    sources: frozenset[S]
    target: S | None  # None: back to the state the session was paused from
    roles: frozenset[Role]
    needs_reason: bool = False


TRANSITIONS: dict[str, TransitionRule] = {
    "confirm_seats": TransitionRule(frozenset({S.SCHEDULED}), S.SEATS_CONFIRMED, _HOST_OR_SYSTEM),
    "open_check_in": TransitionRule(frozenset({S.SEATS_CONFIRMED}), S.CHECK_IN, _HOST_STAFF),
    "start_evaluation": TransitionRule(frozenset({S.CHECK_IN}), S.EVALUATING, _HOST_STAFF),
    "begin_deviation_review": TransitionRule(
        frozenset({S.EVALUATING}), S.DEVIATION_REVIEW, _HOST_OR_SYSTEM
    ),
    "seal": TransitionRule(frozenset({S.DEVIATION_REVIEW}), S.SEALED, _HOST_STAFF),
    "reveal": TransitionRule(frozenset({S.SEALED}), S.REVEALED, _HOST_OR_SYSTEM),
    "sign_report": TransitionRule(frozenset({S.REVEALED}), S.REPORT_SIGNED, _HOST_OR_SYSTEM),
    "archive": TransitionRule(
        frozenset({S.REPORT_SIGNED, S.SEALED_FOR_NEW_COMMITTEE, S.CANCELLED}),
        S.ARCHIVED,
        _HOST_OR_SYSTEM,
    ),
    # A host supervisor may stop the room on an incident; resuming is the operator's call. The
    # hub itself pauses at the evening cut-off (开评分离) and on an outage, and seals for a new
    # committee when an outage outlasts its limit (``evaluation_hub.timers``).
    "pause": TransitionRule(
        PAUSABLE,
        S.PAUSED,
        frozenset({Role.HOST_OPERATOR, Role.SUPERVISOR, Role.SYSTEM}),
        needs_reason=True,
    ),
    "resume": TransitionRule(frozenset({S.PAUSED}), None, _HOST_STAFF),
    "seal_for_new_committee": TransitionRule(
        frozenset({S.PAUSED}), S.SEALED_FOR_NEW_COMMITTEE, _HOST_OR_SYSTEM, needs_reason=True
    ),
    "cancel": TransitionRule(states.BEFORE_START, S.CANCELLED, _HOST_STAFF, needs_reason=True),
}


@dataclass(frozen=True)
class SessionStatus:
    """Where a session is; ``paused_from`` is set exactly when it is paused."""

    state: str
    paused_from: str | None = None

    def __post_init__(self) -> None:
        if self.state not in STATE_NAMES:
            raise ValueError(f"unknown session state {self.state!r}")
        if (self.state == S.PAUSED) != (self.paused_from is not None):
            raise ValueError("paused_from is set exactly when the state is 'paused'")
        if self.paused_from is not None and self.paused_from not in PAUSABLE:
            raise ValueError(f"a session cannot be paused from {self.paused_from!r}")


@dataclass(frozen=True)
class TransitionRecord:
    """One audit entry: who moved the session from where to where, when and why."""

    action: str
    from_state: str
    to_state: str
    actor: str
    actor_role: str
    at: datetime
    reason: str | None


def allowed_actions(current: SessionStatus) -> list[str]:
    """The actions the state allows (before asking who is acting), in lifecycle order."""
    return [name for name, rule in TRANSITIONS.items() if current.state in rule.sources]


def transition(
    current: SessionStatus,
    action: str,
    *,
    actor_role: str,
    actor_site_is_host: bool,
    now: datetime,
    reason: str | None = None,
    actor: str = "",
) -> tuple[SessionStatus, TransitionRecord]:
    """Apply ``action``; raises :class:`SessionRuleError` with what to do instead."""
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    rule = TRANSITIONS.get(action)
    if rule is None:
        raise SessionRuleError("unknown-action", f"未知的评标会操作「{action}」", 422)
    verb = ACTION_NAMES[action]
    # Who acts is asked before the state is: a refusal for lack of right tells nothing of the
    # session's state (issue 12), only those who may act learn why they cannot now.
    if not actor_site_is_host:
        raise SessionRuleError(
            "not-host-site", f"只有主场可以{verb}，客场人员不能操作评标会进程", 403
        )
    if actor_role not in rule.roles:
        needed = "、".join(ROLE_NAMES[r] for r in sorted(rule.roles))
        raise SessionRuleError(
            "role-not-allowed",
            f"{ROLE_NAMES.get(actor_role, actor_role)}不能{verb}，需由{needed}执行",
            403,
        )
    if current.state not in rule.sources:
        possible = "、".join(ACTION_NAMES[a] for a in allowed_actions(current))
        raise SessionRuleError(
            "illegal-transition",
            f"评标会当前状态为「{STATE_NAMES[current.state]}」，不能{verb}；"
            + (f"当前可执行：{possible}" if possible else "该状态下不能再执行任何操作"),
        )
    reason = reason.strip() if reason else None
    if rule.needs_reason and not reason:
        raise SessionRuleError("reason-required", f"{verb}必须填写原因", 422)
    if rule.target is None:
        assert current.paused_from is not None  # guaranteed by SessionStatus for 'paused'
        new = SessionStatus(current.paused_from)
    elif rule.target == S.PAUSED:
        new = SessionStatus(S.PAUSED, paused_from=current.state)
    else:
        new = SessionStatus(rule.target)
    record = TransitionRecord(
        action=action,
        from_state=current.state,
        to_state=new.state,
        actor=actor,
        actor_role=actor_role,
        at=now,
        reason=reason,
    )
    return new, record
