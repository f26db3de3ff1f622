from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from evaluation_hub.sessions.lifecycle import SessionStatus
from evaluation_hub.sessions.outage import DueAction, OutageRules, due_actions

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2024, 5, 20, 9, 0, tzinfo=TZ)
H = timedelta(hours=1)


def test_no_fault_nothing_due() -> None:
    assert due_actions(SessionStatus("evaluating"), START, None, START) == []


def test_fault_before_the_start() -> None:
    fault = START - 0.5 * H
    before = due_actions(SessionStatus("seats_confirmed"), START, fault, START - 0.25 * H)
    assert before == [
        DueAction(
            "start_delayed", START, False, "故障未排除，评标会不能按计划于 2024-05-20 09:00 开始"
        ),
        DueAction(
            "tenderer_decision",
            START + 2 * H,
            False,
            "计划开始时间后 2 小时（2024-05-20 11:00）故障仍未排除的，须由招标人决定是否继续进行评标",
        ),
    ]
    at_start = due_actions(SessionStatus("check_in"), START, fault, START)
    assert [(a.kind, a.due_now) for a in at_start] == [
        ("start_delayed", True),
        ("tenderer_decision", False),
    ]
    late = due_actions(SessionStatus("check_in"), START, fault, START + 2 * H)
    assert [(a.kind, a.due_now) for a in late] == [
        ("start_delayed", True),
        ("tenderer_decision", True),
    ]


def test_fault_during_check_in_pause_counts_as_before_the_start() -> None:
    actions = due_actions(SessionStatus("paused", "check_in"), START, START + H, START + H)
    assert [a.kind for a in actions] == ["start_delayed", "tenderer_decision"]


def test_fault_during_evaluation() -> None:
    fault = START + 3 * H
    running = due_actions(SessionStatus("evaluating"), START, fault, fault + 0.1 * H)
    assert running == [
        DueAction(
            "pause_session", fault, True, "评审过程中于 2024-05-20 12:00 发生故障，应立即暂停评标会"
        ),
        DueAction(
            "seal_for_new_committee",
            fault + 4 * H,
            False,
            "故障发生后 4 小时（2024-05-20 16:00）仍未排除的，应封存评标资料并重新组建评标委员会",
        ),
    ]
    paused = due_actions(SessionStatus("paused", "deviation_review"), START, fault, fault + 4 * H)
    assert [(a.kind, a.due_now) for a in paused] == [("seal_for_new_committee", True)]
    just_before = due_actions(
        SessionStatus("paused", "evaluating"), START, fault, fault + 4 * H - timedelta(seconds=1)
    )
    assert [(a.kind, a.due_now) for a in just_before] == [("seal_for_new_committee", False)]


def test_the_numbers_are_configuration() -> None:
    rules = OutageRules(decision_after=timedelta(minutes=90), seal_after=timedelta(hours=3))
    fault = START + H
    actions = due_actions(SessionStatus("evaluating"), START, fault, fault, rules)
    assert actions[-1].due_at == fault + 3 * H
    assert actions[-1].message.startswith("故障发生后 3 小时（2024-05-20 13:00）")
    before = due_actions(SessionStatus("scheduled"), START, START, START, rules)
    assert before[-1].due_at == START + 1.5 * H
    assert before[-1].message.startswith("计划开始时间后 1.5 小时（2024-05-20 10:30）")


@pytest.mark.parametrize(
    "state",
    ["sealed", "revealed", "report_signed", "archived", "cancelled", "sealed_for_new_committee"],
)
def test_after_evaluation_a_fault_sets_no_clock(state: str) -> None:
    assert due_actions(SessionStatus(state), START, START + H, START + 9 * H) == []


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="fault_started_at lies after now"):
        due_actions(SessionStatus("evaluating"), START, START + H, START)
    with pytest.raises(ValueError, match="outage periods must be positive"):
        OutageRules(seal_after=timedelta(0))


def test_times_are_shown_in_china_time_whatever_the_input_zone() -> None:
    utc_start = START.astimezone(ZoneInfo("UTC"))
    actions = due_actions(SessionStatus("scheduled"), utc_start, utc_start, utc_start)
    assert "2024-05-20 09:00" in actions[0].message
