"""Who may do or see what (``evaluation_hub.access``), as one table: role × how the caller's
venue stands to the target × every ``Action``, written out by hand. A new ``Action`` without a
row, or a changed grant, fails here; so do the refusal texts, the away supervisor's scope,
the hidden venues of a random draw and the event channels."""

from __future__ import annotations

import pytest

from evaluation_hub.access import (
    ROLE_NAMES,
    Action,
    Relation,
    Role,
    Scope,
    Target,
    allowed,
    booking_venue_visible,
    event_channels,
    relations,
    require,
    scope,
)
from evaluation_hub.errors import Forbidden
from evaluation_hub.principal import Principal

HOST, AWAY, OWN, OTHER = 1, 2, 3, 4
# A session hosted at venue 1 with an expert seated at venue 2, and an object (a seat, a
# booking, a supervised venue) belonging to venue 3; venue 4 has nothing to do with any of it.
TARGET = Target(
    session_id=7,
    host_venue_id=HOST,
    host_venue_name="主场中心",
    venue_id=OWN,
    venue_name="本场地中心",
    seated_venue_ids=frozenset({AWAY}),
)
ROLES = ("venue_admin", "host_operator", "supervisor", "system_admin")
VENUES = {"host": HOST, "away": AWAY, "own": OWN, "other": OTHER}

# For each action and role, four cells: the caller's venue is the host venue, an away venue
# seating an expert, the object's own venue, another venue. Y: allowed, .: refused.
TABLE = """
action                    venue_admin  host_operator  supervisor  system_admin
SEE_SESSION               Y...         Y...           Y...        YYYY
CREATE_SESSION            ....         Y...           ....        YYYY
BOOK_SEATS                ....         Y...           ....        ....
FORM_COMMITTEE            ....         Y...           ....        ....
SEAT_EXPERTS              ....         Y...           ....        ....
RUN_EVALUATION            ....         Y...           ....        ....
RELEASE_CHAPTERS          ....         Y...           ....        ....
REPORT_FAULT              ....         Y...           Y...        ....
ADMINISTER_VENUE          ..Y.         ....           ....        YYYY
ANSWER_BOOKING            ..Y.         ....           ....        YYYY
CANCEL_BOOKING            ..Y.         Y...           ....        YYYY
SEE_BOOKING               ..Y.         Y...           ....        YYYY
SEE_SUPERVISION           ....         ....           YY..        YYYY
SUPERVISE_AS_HOST         ....         ....           Y...        ....
SUPERVISE_AS_VENUE        ....         ....           ..Y.        ....
WATCH_LIVE                ....         ....           YY..        ....
MANAGE_USERS              ....         ....           ....        YYYY
LIST_SUPERVISED_SESSIONS  ....         ....           YYYY        YYYY
ADD_VENUE                 ....         ....           ....        YYYY
MANAGE_EXPERTS            ....         ....           ....        YYYY
LIST_EXPERTS              ....         YYYY           ....        YYYY
EDIT_VENUE                ....         ....           ....        YYYY
MANAGE_VENUE_USERS        ..Y.         ....           ....        YYYY
MANAGE_SYSTEM_ADMINS      ....         ....           ....        YYYY
SEE_VENUE_CHANGES         ..Y.         ....           ....        YYYY
SEE_ALL_CHANGES           ....         ....           ....        YYYY
BACKUP_DATABASE           ....         ....           ....        YYYY
RESTORE_DATABASE          ....         ....           ....        YYYY
TALK_TO_SEATS             ....         Y...           Y.Y.        ....
"""


def _table() -> dict[tuple[str, str, str], bool]:
    lines = [line.split() for line in TABLE.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert header[1:] == list(ROLES)
    cells: dict[tuple[str, str, str], bool] = {}
    for action, *by_role in rows:
        assert len(by_role) == len(ROLES), action
        for role, marks in zip(ROLES, by_role, strict=True):
            assert len(marks) == len(VENUES) and set(marks) <= {"Y", "."}, (action, role)
            for relation, mark in zip(VENUES, marks, strict=True):
                cells[action, role, relation] = mark == "Y"
    return cells


EXPECTED = _table()


def test_the_table_has_a_row_for_every_action() -> None:
    assert {action for action, _, _ in EXPECTED} == {a.name for a in Action}


@pytest.mark.parametrize(("action", "role", "relation"), sorted(EXPECTED))
def test_who_may_do_what(action: str, role: str, relation: str) -> None:
    who = Principal(f"{role}-at-{relation}", role, VENUES[relation])
    assert allowed(who, Action[action], TARGET) is EXPECTED[action, role, relation]
    if EXPECTED[action, role, relation]:
        require(who, Action[action], TARGET)
    else:
        with pytest.raises(Forbidden) as refused:
            require(who, Action[action], TARGET)
        assert refused.value.code == Action[action].rule.code
        assert refused.value.status == 403


@pytest.mark.parametrize("action", [a.name for a in Action])
def test_the_system_administrator_needs_no_venue(action: str) -> None:
    """Users have no venue as system administrator: what they may do does not depend on one."""
    root = Principal("root", "system_admin", None)
    assert allowed(root, Action[action], TARGET) is EXPECTED[action, "system_admin", "other"]


@pytest.mark.parametrize("action", [a.name for a in Action])
def test_the_hub_itself_is_granted_nothing_here(action: str) -> None:
    """The hub's own moves (all sheets in …) are the lifecycle's, never an access grant."""
    hub = Principal("system", Role.SYSTEM, None)
    assert not allowed(hub, Action[action], TARGET)


def test_host_business_is_refused_to_the_system_administrator_with_who_may() -> None:
    root = Principal("sysadmin", "system_admin", None)
    cases = {
        Action.BOOK_SEATS: "只有主场「主场中心」的业务人员可以为评标会 #7 预约工位，"
        "当前用户 sysadmin（系统管理员）无此权限",
        Action.FORM_COMMITTEE: "只有主场「主场中心」的业务人员可以办理评标会 #7 的评标委员会组建，"
        "当前用户 sysadmin（系统管理员）无此权限",
        Action.SEAT_EXPERTS: "只有主场「主场中心」的业务人员可以安排评标会 #7 的专家工位并发放签到码，"
        "当前用户 sysadmin（系统管理员）无此权限",
        Action.WATCH_LIVE: "只有评标会 #7 主场或客场的监督人员可以观看工位音视频，"
        "当前用户 sysadmin（系统管理员）无此权限",
    }
    for action, detail in cases.items():
        with pytest.raises(Forbidden) as refused:
            require(root, action, TARGET)
        assert refused.value.detail == detail


def test_refusal_texts() -> None:
    dali = Principal("dl_admin", "venue_admin", OTHER)
    with pytest.raises(Forbidden) as refused:
        require(dali, Action.SEE_SESSION, TARGET)
    assert (refused.value.code, refused.value.detail) == (
        "session-not-visible",
        "评标会 #7 不由本场地主办，无权查看",
    )
    with pytest.raises(Forbidden) as refused:
        require(dali, Action.ADMINISTER_VENUE, TARGET)
    assert (refused.value.code, refused.value.detail) == (
        "not-venue-admin",
        "只有场地「本场地中心」的管理员可以管理场地「本场地中心」，当前用户 dl_admin（场地管理员）无此权限",
    )
    with pytest.raises(Forbidden) as refused:
        require(dali, Action.CANCEL_BOOKING, TARGET)
    assert refused.value.detail == (
        "只有主场「主场中心」的业务人员或场地「本场地中心」的管理员可以取消该预约，"
        "当前用户 dl_admin（场地管理员）无此权限"
    )
    away = Principal("qj_supervisor", "supervisor", AWAY)
    with pytest.raises(Forbidden) as refused:
        require(away, Action.SUPERVISE_AS_HOST, TARGET, doing="发出函告")
    assert (refused.value.code, refused.value.detail) == (
        "not-host-supervisor",
        "只有主场「主场中心」的监督人员可以发出函告，当前用户 qj_supervisor（监督人员）无此权限",
    )
    # Every role has its Chinese name in a refusal.
    assert set(ROLE_NAMES) == {r.value for r in Role}


def test_relations_of_a_host_venue_seating_its_own_experts() -> None:
    """A host venue may also seat experts of its own session: it stays the host, not away."""
    target = Target(session_id=7, host_venue_id=HOST, seated_venue_ids=frozenset({HOST, AWAY}))
    assert relations(Principal("o", "host_operator", HOST), target) == {
        Relation.ANY,
        Relation.HOST,
    }
    assert relations(Principal("s", "supervisor", AWAY), target) == {Relation.ANY, Relation.AWAY}
    assert relations(Principal("r", "system_admin", None), target) == {Relation.ANY}


@pytest.mark.parametrize("action", [Action.SEE_SUPERVISION, Action.WATCH_LIVE])
def test_scope_host_sees_everything_away_sees_its_venue(action: Action) -> None:
    host = scope(Principal("km_supervisor", "supervisor", HOST), action, TARGET)
    assert host == Scope(None) and host.everything
    assert host.sees(AWAY) and host.sees(OTHER) and host.sees(None)
    away = scope(Principal("qj_supervisor", "supervisor", AWAY), action, TARGET)
    assert away == Scope(AWAY) and not away.everything
    assert away.sees(AWAY)
    assert not away.sees(HOST) and not away.sees(OTHER) and not away.sees(None)
    for who in (
        Principal("elsewhere", "supervisor", OTHER),
        Principal("km_operator", "host_operator", HOST),
    ):
        with pytest.raises(Forbidden):
            scope(who, action, TARGET)


def test_scope_of_the_system_administrator() -> None:
    root = Principal("root", "system_admin", None)
    assert scope(root, Action.SEE_SUPERVISION, TARGET) == Scope(None)
    with pytest.raises(Forbidden):  # reads the record, watches no live picture
        scope(root, Action.WATCH_LIVE, TARGET)


def test_a_drawn_bookings_venue_is_hidden_from_the_host_until_the_start() -> None:
    """两随机、四不知: the booking's venue (own) is hidden from the host site before the start;
    the booked venue's own admin and supervisors (who watch their own seats) see it."""
    host = Principal("km_operator", "host_operator", HOST)
    host_supervisor = Principal("km_supervisor", "supervisor", HOST)
    host_admin = Principal("km_admin", "venue_admin", HOST)
    venue = Principal("dl_admin", "venue_admin", OWN)
    venue_supervisor = Principal("dl_supervisor", "supervisor", OWN)
    venue_operator = Principal("dl_operator", "host_operator", OWN)
    root = Principal("root", "system_admin", None)
    other = Principal("hh_admin", "venue_admin", OTHER)
    other_supervisor = Principal("hh_supervisor", "supervisor", OTHER)
    everyone = (
        host,
        host_supervisor,
        host_admin,
        venue,
        venue_supervisor,
        venue_operator,
        root,
        other,
        other_supervisor,
    )
    hidden = {
        who.username: booking_venue_visible(who, TARGET, drawn=True, started=False)
        for who in everyone
    }
    assert hidden == {
        "km_operator": False,
        "km_supervisor": False,
        "km_admin": False,
        "dl_admin": True,
        "dl_supervisor": True,
        "dl_operator": False,
        "root": True,
        "hh_admin": False,
        "hh_supervisor": False,
    }
    for who in everyone:
        assert booking_venue_visible(who, TARGET, drawn=True, started=True)
        assert booking_venue_visible(who, TARGET, drawn=False, started=False)


def test_event_channels() -> None:
    assert event_channels(Principal("root", "system_admin", None)) == ("all",)
    assert event_channels(Principal("dl_admin", "venue_admin", OWN)) == (f"venue:{OWN}",)
    assert event_channels(Principal("km_operator", "host_operator", HOST)) == (f"host:{HOST}",)
    assert event_channels(Principal("km_supervisor", "supervisor", HOST)) == ()
