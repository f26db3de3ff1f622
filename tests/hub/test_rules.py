"""The pure booking rules: windows, overlap, transitions, confirmation seats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation_hub.booking import rules
from evaluation_hub.booking.rules import Window, overlaps
from evaluation_hub.errors import Conflict, InvalidInput
from evaluation_hub.localtime import zone


def bj(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=zone())


def w(a: tuple[int, int], b: tuple[int, int], day: int = 1) -> Window:
    return Window(bj(day, *a), bj(day, *b))


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        pytest.param(w((9, 0), (13, 0)), w((13, 0), (17, 0)), False, id="touching"),
        pytest.param(w((13, 0), (17, 0)), w((9, 0), (13, 0)), False, id="touching-reversed"),
        pytest.param(w((9, 0), (17, 0)), w((10, 0), (12, 0)), True, id="nested"),
        pytest.param(w((10, 0), (12, 0)), w((9, 0), (17, 0)), True, id="nested-reversed"),
        pytest.param(w((9, 0), (13, 0)), w((12, 0), (17, 0)), True, id="crossing"),
        pytest.param(w((12, 0), (17, 0)), w((9, 0), (13, 0)), True, id="crossing-reversed"),
        pytest.param(w((9, 0), (13, 0)), w((9, 0), (13, 0)), True, id="identical"),
        pytest.param(w((9, 0), (12, 0)), w((14, 0), (17, 0)), False, id="apart"),
        pytest.param(w((9, 0), (13, 0)), w((12, 59), (13, 0)), True, id="one-minute"),
        pytest.param(w((9, 0), (17, 0), day=1), w((9, 0), (17, 0), day=2), False, id="other-day"),
    ],
)
def test_overlap_table(first: Window, second: Window, expected: bool) -> None:
    assert overlaps(first, second) is expected


def test_window_crossing_midnight_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        Window.checked(bj(1, 20), bj(2, 1))
    assert err.value.code == "window-not-same-day"
    assert err.value.detail == (
        "评标时段必须在同一天内开始和结束：2026-12-01 20:00 至 2026-12-02 01:00 "
        "跨越了午夜，请拆分为两个时段（开评分离）"
    )


def test_window_ending_at_midnight_crosses_into_the_next_day() -> None:
    with pytest.raises(InvalidInput, match="跨越了午夜"):
        Window.checked(bj(1, 20), bj(2, 0))


def test_same_day_is_judged_in_beijing_time_not_utc() -> None:
    # 2026-12-01 07:00–09:00 Beijing is 2026-11-30 23:00 – 2026-12-01 01:00 UTC: one Beijing day.
    window = Window.checked(bj(1, 7).astimezone(UTC), bj(1, 9).astimezone(UTC))
    assert window.describe() == "2026-12-01 07:00–09:00"


def test_window_must_have_positive_length() -> None:
    with pytest.raises(InvalidInput) as err:
        Window.checked(bj(1, 9), bj(1, 9))
    assert (
        err.value.detail
        == "评标时段的结束时间（2026-12-01 09:00）必须晚于开始时间（2026-12-01 09:00）"
    )


def test_window_needs_aware_times() -> None:
    with pytest.raises(InvalidInput) as err:
        Window.checked(datetime(2026, 12, 1, 9), datetime(2026, 12, 1, 17))
    assert err.value.detail == "时间必须带时区，例如 2026-12-01T09:00:00+08:00"


minutes = st.integers(min_value=0, max_value=24 * 60 * 3)


@given(minutes, st.integers(1, 600), minutes, st.integers(1, 600))
def test_overlap_matches_shared_minutes(a0: int, alen: int, b0: int, blen: int) -> None:
    base = datetime(2026, 12, 1, tzinfo=UTC)
    a = Window(base + timedelta(minutes=a0), base + timedelta(minutes=a0 + alen))
    b = Window(base + timedelta(minutes=b0), base + timedelta(minutes=b0 + blen))
    shared = set(range(a0, a0 + alen)) & set(range(b0, b0 + blen))
    assert overlaps(a, b) is bool(shared)
    assert overlaps(a, b) is overlaps(b, a)


ALLOWED = {
    ("requested", "confirm"): "confirmed",
    ("requested", "reject"): "rejected",
    ("requested", "expire"): "expired",
    ("confirmed", "cancel"): "cancelled",
    ("confirmed", "change"): "changed",
    ("confirmed", "check_in"): "checked_in",
    ("checked_in", "release"): "released",
}


@pytest.mark.parametrize("state", list(rules.STATE_NAMES))
@pytest.mark.parametrize("action", list(rules.ACTION_NAMES))
def test_every_transition_is_allowed_or_refused(state: str, action: str) -> None:
    if (state, action) in ALLOWED:
        assert rules.next_state(7, state, action).to_state == ALLOWED[(state, action)]
    else:
        with pytest.raises(Conflict) as err:
            rules.next_state(7, state, action)
        assert err.value.code == "booking-state"
        assert err.value.detail.startswith(
            f"预约 #7 当前状态为「{rules.STATE_NAMES[state]}」，只有"
        )


def test_transition_messages() -> None:
    with pytest.raises(Conflict) as err:
        rules.next_state(3, "confirmed", "confirm")
    assert err.value.detail == "预约 #3 当前状态为「已确认」，只有「待确认」的预约可以确认"
    with pytest.raises(Conflict) as err:
        rules.next_state(4, "requested", "cancel")
    assert err.value.detail == "预约 #4 当前状态为「待确认」，只有「已确认」的预约可以取消"


def test_only_live_states_hold_seats() -> None:
    assert {"requested", "confirmed", "checked_in"} == rules.LIVE_STATES


def test_cancel_needs_a_reason() -> None:
    for blank in (None, "", "   "):
        with pytest.raises(InvalidInput) as err:
            rules.check_cancel_reason(blank)
        assert err.value.detail == "取消或变更预约必须填写原因"
    assert rules.check_cancel_reason(" 专家临时回避 ") == "专家临时回避"


def test_confirmation_assigns_exactly_the_requested_distinct_seats() -> None:
    assert rules.check_confirmation_seats(5, 2, [8, 3], [3, 8, 9], "大理") == [3, 8]
    with pytest.raises(InvalidInput) as err:
        rules.check_confirmation_seats(5, 2, [3], [3, 8], "大理")
    assert (
        err.value.detail
        == "预约 #5 申请了 2 个工位，确认时必须指定恰好 2 个不同的工位，实际指定了 1 个"
    )
    with pytest.raises(InvalidInput) as err:
        rules.check_confirmation_seats(5, 2, [3, 3], [3, 8], "大理")
    assert err.value.detail == "确认的工位不能重复：工位 #3 出现了多次"
    with pytest.raises(InvalidInput) as err:
        rules.check_confirmation_seats(5, 2, [3, 11], [3, 8], "大理")
    assert err.value.detail == "工位 #11 不属于场地「大理」"


def test_request_expiry_is_capped_at_the_window_start() -> None:
    now = bj(1, 8)
    assert rules.expires_at(now, timedelta(hours=24), bj(1, 9)) == bj(1, 9)
    assert rules.expires_at(now, timedelta(minutes=30), bj(1, 9)) == bj(1, 8, 30)
    assert not rules.is_expired("requested", bj(1, 9), bj(1, 8, 59))
    assert rules.is_expired("requested", bj(1, 9), bj(1, 9))
    assert not rules.is_expired("confirmed", bj(1, 9), bj(1, 10))
