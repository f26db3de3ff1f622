from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation_hub.errors import HubError
from evaluation_hub.sessions.errors import SessionRuleError
from evaluation_hub.sessions.lifecycle import (
    ACTION_NAMES,
    STATE_NAMES,
    TRANSITIONS,
    SessionStatus,
    TransitionRecord,
    allowed_actions,
    transition,
)

NOW = datetime(2024, 5, 20, 9, 0, tzinfo=UTC)

# The lifecycle written out by hand: (state, paused_from) x action -> resulting state.
EXPECTED: dict[tuple[str, str], SessionStatus] = {
    ("scheduled", "confirm_seats"): SessionStatus("seats_confirmed"),
    ("scheduled", "cancel"): SessionStatus("cancelled"),
    ("seats_confirmed", "open_check_in"): SessionStatus("check_in"),
    ("seats_confirmed", "cancel"): SessionStatus("cancelled"),
    ("check_in", "start_evaluation"): SessionStatus("evaluating"),
    ("check_in", "pause"): SessionStatus("paused", "check_in"),
    ("check_in", "cancel"): SessionStatus("cancelled"),
    ("evaluating", "begin_deviation_review"): SessionStatus("deviation_review"),
    ("evaluating", "pause"): SessionStatus("paused", "evaluating"),
    ("deviation_review", "seal"): SessionStatus("sealed"),
    ("deviation_review", "pause"): SessionStatus("paused", "deviation_review"),
    ("sealed", "reveal"): SessionStatus("revealed"),
    ("revealed", "sign_report"): SessionStatus("report_signed"),
    ("report_signed", "archive"): SessionStatus("archived"),
    ("paused:check_in", "resume"): SessionStatus("check_in"),
    ("paused:evaluating", "resume"): SessionStatus("evaluating"),
    ("paused:deviation_review", "resume"): SessionStatus("deviation_review"),
    ("paused:check_in", "seal_for_new_committee"): SessionStatus("sealed_for_new_committee"),
    ("paused:evaluating", "seal_for_new_committee"): SessionStatus("sealed_for_new_committee"),
    ("paused:deviation_review", "seal_for_new_committee"): SessionStatus(
        "sealed_for_new_committee"
    ),
    ("sealed_for_new_committee", "archive"): SessionStatus("archived"),
    ("cancelled", "archive"): SessionStatus("archived"),
}

ALL_STATES: dict[str, SessionStatus] = {
    **{s: SessionStatus(s) for s in STATE_NAMES if s != "paused"},
    **{
        f"paused:{p}": SessionStatus("paused", p)
        for p in ("check_in", "evaluating", "deviation_review")
    },
}
ACTIONS = list(ACTION_NAMES)
# Who may make each move (all at the host site); the rest is refused.
ROLES = {
    "confirm_seats": {"host_operator", "system"},
    "open_check_in": {"host_operator"},
    "start_evaluation": {"host_operator"},
    "begin_deviation_review": {"host_operator", "system"},
    "seal": {"host_operator"},
    "reveal": {"host_operator", "system"},
    "sign_report": {"host_operator", "system"},
    "archive": {"host_operator", "system"},
    # The hub pauses at the evening cut-off and on an outage, and seals an outage past its
    # limit (evaluation_hub.timers.session_rules).
    "pause": {"host_operator", "supervisor", "system"},
    "resume": {"host_operator"},
    "seal_for_new_committee": {"host_operator", "system"},
    "cancel": {"host_operator"},
}
NEEDS_REASON = {"pause", "seal_for_new_committee", "cancel"}


def _go(
    state: SessionStatus,
    action: str,
    role: str = "host_operator",
    host: bool = True,
    reason: str | None = "网络中断",
) -> tuple[SessionStatus, TransitionRecord]:
    return transition(
        state,
        action,
        actor_role=role,
        actor_site_is_host=host,
        now=NOW,
        reason=reason,
        actor="zhang",
    )


def test_the_table_covers_every_state_and_action() -> None:
    assert set(ACTIONS) == set(TRANSITIONS)
    assert {a for _, a in EXPECTED} == set(ACTIONS)
    assert {s for s, _ in EXPECTED} | {"archived"} == set(ALL_STATES)


@pytest.mark.parametrize("key", sorted(ALL_STATES))
@pytest.mark.parametrize("action", ACTIONS)
def test_every_state_and_action(key: str, action: str) -> None:
    state = ALL_STATES[key]
    expected = EXPECTED.get((key, action))
    if expected is not None:
        new, record = _go(state, action)
        assert new == expected
        assert record == TransitionRecord(
            action, state.state, expected.state, "zhang", "host_operator", NOW, "网络中断"
        )
        return
    possible = [a for a in ACTIONS if (key, a) in EXPECTED]
    tail = (
        ("当前可执行：" + "、".join(ACTION_NAMES[a] for a in possible))
        if possible
        else "该状态下不能再执行任何操作"
    )
    with pytest.raises(SessionRuleError) as info:
        _go(state, action)
    assert (info.value.code, info.value.http_status) == ("illegal-transition", 409)
    assert (
        str(info.value)
        == f"评标会当前状态为「{STATE_NAMES[state.state]}」，不能{ACTION_NAMES[action]}；{tail}"
    )
    assert allowed_actions(state) == possible


def test_some_messages_spelled_out() -> None:
    with pytest.raises(
        SessionRuleError,
        match=r"^评标会当前状态为「已排期」，不能开始评审；当前可执行：确认工位、取消评标会$",
    ):
        _go(SessionStatus("scheduled"), "start_evaluation")
    with pytest.raises(
        SessionRuleError,
        match=r"^评标会当前状态为「已归档」，不能恢复；该状态下不能再执行任何操作$",
    ):
        _go(SessionStatus("archived"), "resume")
    with pytest.raises(
        SessionRuleError,
        match=r"^评标会当前状态为「已暂停」，不能暂停；当前可执行：恢复、封存并重新组建评标委员会$",
    ):
        _go(SessionStatus("paused", "evaluating"), "pause")


@pytest.mark.parametrize(("key", "action"), sorted(EXPECTED))
def test_only_the_host_site_moves_a_session(key: str, action: str) -> None:
    with pytest.raises(SessionRuleError) as info:
        _go(ALL_STATES[key], action, host=False)
    assert (info.value.code, info.value.http_status) == ("not-host-site", 403)
    assert str(info.value) == f"只有主场可以{ACTION_NAMES[action]}，客场人员不能操作评标会进程"


@pytest.mark.parametrize(("key", "action"), sorted(EXPECTED))
@pytest.mark.parametrize(
    "role", ["host_operator", "supervisor", "venue_admin", "system_admin", "system"]
)
def test_roles(key: str, action: str, role: str) -> None:
    if role in ROLES[action]:
        new, _ = _go(ALL_STATES[key], action, role=role)
        assert new == EXPECTED[(key, action)]
        return
    with pytest.raises(SessionRuleError) as info:
        _go(ALL_STATES[key], action, role=role)
    assert info.value.code == "role-not-allowed"
    assert info.value.http_status == 403


def test_role_message() -> None:
    with pytest.raises(SessionRuleError, match=r"^监督人员不能恢复，需由主场业务人员执行$"):
        _go(SessionStatus("paused", "check_in"), "resume", role="supervisor")
    with pytest.raises(
        SessionRuleError, match=r"^场地管理员不能确认工位，需由主场业务人员、系统自动执行$"
    ):
        _go(SessionStatus("scheduled"), "confirm_seats", role="venue_admin")


@pytest.mark.parametrize("action", sorted(NEEDS_REASON))
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_pause_cancel_and_seal_need_a_reason(action: str, reason: str | None) -> None:
    start = {
        "pause": SessionStatus("evaluating"),
        "cancel": SessionStatus("scheduled"),
        "seal_for_new_committee": SessionStatus("paused", "evaluating"),
    }[action]
    with pytest.raises(SessionRuleError) as info:
        _go(start, action, reason=reason)
    assert (info.value.code, info.value.http_status) == ("reason-required", 422)
    assert str(info.value) == f"{ACTION_NAMES[action]}必须填写原因"


def test_reason_is_optional_elsewhere_and_trimmed() -> None:
    _, record = _go(SessionStatus("scheduled"), "confirm_seats", reason=None)
    assert record.reason is None
    _, record = _go(SessionStatus("evaluating"), "pause", reason="  主场网络中断 ")
    assert record.reason == "主场网络中断"


def test_unknown_action_and_naive_time() -> None:
    with pytest.raises(SessionRuleError, match=r"^未知的评标会操作「explode」$") as info:
        _go(SessionStatus("scheduled"), "explode")
    assert isinstance(info.value, HubError)
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        transition(
            SessionStatus("scheduled"),
            "confirm_seats",
            actor_role="system",
            actor_site_is_host=True,
            now=datetime(2024, 1, 1),
        )


@pytest.mark.parametrize(
    ("state", "paused_from", "message"),
    [
        ("paused", None, "paused_from is set exactly when the state is 'paused'"),
        ("evaluating", "evaluating", "paused_from is set exactly when the state is 'paused'"),
        ("paused", "sealed", "a session cannot be paused from 'sealed'"),
        ("lost", None, "unknown session state 'lost'"),
    ],
)
def test_inconsistent_states_cannot_be_built(
    state: str, paused_from: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SessionStatus(state, paused_from)


@settings(max_examples=200)
@given(st.lists(st.sampled_from(ACTIONS), max_size=30))
def test_random_walks_keep_a_consistent_record(actions: list[str]) -> None:
    state = SessionStatus("scheduled")
    records: list[TransitionRecord] = []
    for i, action in enumerate(actions):
        try:
            new, record = transition(
                state,
                action,
                actor_role="host_operator",
                actor_site_is_host=True,
                now=NOW + timedelta(minutes=i),
                reason="原因",
            )
        except SessionRuleError:
            assert action not in allowed_actions(state)
            continue
        assert record.from_state == state.state and record.to_state == new.state
        records.append(record)
        state = new
    for before, after in itertools.pairwise(records):
        assert before.to_state == after.from_state
        assert before.at < after.at
    if state.state == "archived":
        assert allowed_actions(state) == []
