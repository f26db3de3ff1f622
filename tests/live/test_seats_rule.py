"""The pure rule of who may watch which seat (``evaluation_hub.live.seats``)."""

from __future__ import annotations

import pytest

from evaluation_hub.errors import Forbidden, NotFound
from evaluation_hub.live.seats import LiveSeat, SessionSeats, require_seat, visible_seats
from evaluation_hub.principal import Principal

HOST, DALI, QUJING, HONGHE = 1, 2, 3, 4
SEATS = SessionSeats(
    session_id=7,
    host_venue_id=HOST,
    seats=(
        LiveSeat(11, "DL.DL-01", "DL-01", "A", DALI, "大理", "E03"),
        LiveSeat(12, "DL.DL-02", "DL-02", "A", DALI, "大理", None),
        LiveSeat(21, "QJ.QJ-01", "QJ-01", "二楼", QUJING, "曲靖", "E06"),
    ),
)


def labels(who: Principal) -> list[str]:
    return [seat.label for seat in visible_seats(who, SEATS)]


def test_host_supervisor_sees_every_seat_away_supervisor_only_their_venues() -> None:
    assert labels(Principal("km_sup", "supervisor", HOST)) == ["DL-01", "DL-02", "QJ-01"]
    assert labels(Principal("dl_sup", "supervisor", DALI)) == ["DL-01", "DL-02"]
    assert labels(Principal("qj_sup", "supervisor", QUJING)) == ["QJ-01"]


@pytest.mark.parametrize(
    ("who", "detail"),
    [
        (
            Principal("root", "system_admin", None),
            "只有评标会 #7 主场或客场的监督人员可以观看工位音视频，当前用户 root（系统管理员）无此权限",
        ),
        (
            Principal("op", "host_operator", HOST),
            "只有评标会 #7 主场或客场的监督人员可以观看工位音视频，当前用户 op（主场业务人员）无此权限",
        ),
        (
            Principal("hh_sup", "supervisor", HONGHE),
            "只有评标会 #7 主场或客场的监督人员可以观看工位音视频，当前用户 hh_sup（监督人员）无此权限",
        ),
        (
            Principal("nowhere", "supervisor", None),
            "只有评标会 #7 主场或客场的监督人员可以观看工位音视频，当前用户 nowhere（监督人员）无此权限",
        ),
    ],
)
def test_everyone_else_is_refused(who: Principal, detail: str) -> None:
    with pytest.raises(Forbidden) as refused:
        visible_seats(who, SEATS)
    assert refused.value.detail == detail


def test_a_seat_outside_ones_view_is_refused_like_a_seat_that_does_not_exist() -> None:
    dl = Principal("dl_sup", "supervisor", DALI)
    assert require_seat(dl, SEATS, 12).seat_key == "DL.DL-02"
    for seat_id in (21, 99, 0, -11):
        with pytest.raises(NotFound) as refused:
            require_seat(dl, SEATS, seat_id)
        assert refused.value.detail == f"评标会 #7 中没有您可观看的工位 #{seat_id}"
