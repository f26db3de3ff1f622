"""开评分离 and the outage limits as pure decisions of (session state, now, regulation)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from evaluation_hub.sessions import cutoff, outage
from evaluation_hub.sessions.cutoff import EveningCutoff
from evaluation_hub.sessions.lifecycle import SessionStatus

RULES = EveningCutoff()


def beijing(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 12, day, hour - 8, minute, tzinfo=UTC)


def test_only_a_running_session_is_warned_or_paused() -> None:
    for state in ("scheduled", "seats_confirmed", "paused", "sealed", "revealed", "archived"):
        assert cutoff.decide(state, beijing(22, 30), RULES) is None
    for state in ("check_in", "evaluating", "deviation_review"):
        decided = cutoff.decide(state, beijing(22, 30), RULES)
        assert decided is not None and decided.kind == "pause"


def test_warning_window_and_pause_follow_the_configured_cutoff() -> None:
    rules = EveningCutoff(at=time(21, 30), warn_before=timedelta(minutes=10))
    assert cutoff.decide("evaluating", beijing(21, 19), rules) is None
    warned = cutoff.decide("evaluating", beijing(21, 20), rules)
    assert warned is not None and (warned.kind, warned.cutoff) == ("warn", beijing(21, 30))
    assert warned.message == (
        "开评分离：评标活动不得超过当日 21:30；距 2026-12-01 21:30 还有 10 分钟，届时评标会将自动暂停"
    )
    paused = cutoff.decide("evaluating", beijing(21, 30), rules, date(2026, 12, 2))
    assert paused is not None and paused.message == (
        "开评分离：评标活动不得超过当日 21:30；已于 2026-12-01 21:30 自动暂停，"
        "请于下一工作日（2026-12-02）恢复评标"
    )
    # Without a calendar for the next day the pause still names the rule.
    unknown = cutoff.decide("evaluating", beijing(23, 0), rules)
    assert unknown is not None and unknown.message.endswith("请于下一工作日恢复评标")
    # The morning after is a new day: nothing until that evening.
    assert cutoff.decide("evaluating", beijing(9, 0, day=2), rules) is None


def test_a_window_may_end_at_the_cutoff_but_not_after() -> None:
    assert cutoff.window_refusal(beijing(18), beijing(22), RULES) is None
    assert cutoff.window_refusal(beijing(18), beijing(22, 1), RULES) == (
        "开评分离：评标活动不得超过当日 22:00，评标时段 2026-12-01 18:00–22:01 超过了当日 22:00；"
        "请缩短时段，或将其余评审安排在下一工作日"
    )


def test_outage_enforcement_by_phase() -> None:
    rules = outage.OutageRules()
    start, fault = beijing(9), beijing(10)
    evaluating = SessionStatus("evaluating")
    paused = SessionStatus("paused", paused_from="evaluating")
    assert outage.enforcement(evaluating, start, None, beijing(11), rules) is None
    move = outage.enforcement(evaluating, start, fault, fault, rules)
    assert move is not None and move.action == "pause"
    assert outage.enforcement(paused, start, fault, beijing(13, 59), rules) is None
    sealed = outage.enforcement(paused, start, fault, beijing(14), rules)
    assert sealed is not None and sealed.action == "seal_for_new_committee"
    check_in = SessionStatus("check_in")
    early = beijing(8, 30)
    assert outage.enforcement(check_in, start, early, beijing(10, 59), rules) is None
    decided = outage.enforcement(check_in, start, early, beijing(11), rules)
    assert decided is not None and decided.action == "pause"
    # Before check-in the lifecycle has no state to move to: the host sees the decision due.
    assert (
        outage.enforcement(SessionStatus("seats_confirmed"), start, early, beijing(12), rules)
        is None
    )
    # Paused from check-in: the tenderer decides; the hub does not seal.
    waiting = SessionStatus("paused", paused_from="check_in")
    assert outage.enforcement(waiting, start, early, beijing(20), rules) is None
