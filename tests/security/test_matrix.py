"""The authorisation matrix, generated from the route table (issue 12, item 3): every operation of
``API_OPERATIONS`` is asked by every principal — each role (venue admin, host operator,
supervisor, system administrator) at S1's host venue 昆明 or at its away venue 曲靖, about its
own objects (S1's, its own venue's) or another's (S2's at 红河, 红河's), and anonymously — and the
answer's class is compared with the table written below. A route without a row fails; so does a
row for a route that is gone, and every cell that answers otherwise. (``tests/security/world.py``
says what S1, S2 and the objects are.)

A cell's class: ``2`` 2xx · ``U`` 401 · ``F`` 403 · ``N`` 404 · ``C`` 409 · ``V`` 422 ·
``S`` 503. Each role's
four cells are: host venue / own object, host venue / other's, away venue / own, away / other's
(the system administrator has no venue: its cells differ only by the object asked about). The
cells run in the table's order against one database, so a write that succeeds changes what a
later cell finds (a booking confirmed once is a 409 to the next) — the table says so.

Authorise before any work (item 2): wherever a principal may not act, the answer is ``F`` or
``N`` — never a ``C`` or ``V`` telling the state of something the caller may not see. Bodies are
valid, so a ``V`` is a rule of the use case speaking, never the body's schema.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from evaluation_hub import localtime
from evaluation_hub.api.app import API_OPERATIONS
from evaluation_hub.api.keys import CONFIG
from evaluation_hub.api.routes import Operation
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import User
from tests.conftest import FakeClock
from tests.security.story import bearer
from tests.security.world import World, build_world

Client = TestClient[Any, Any]

ROLES = ("venue_admin", "host_operator", "supervisor", "system_admin")
AXES = (("host", "own"), ("host", "other"), ("away", "own"), ("away", "other"))
USERS = {
    ("venue_admin", "host"): "km_admin",
    ("host_operator", "host"): "km_operator",
    ("supervisor", "host"): "km_supervisor",
    ("venue_admin", "away"): "qj_admin",
    ("host_operator", "away"): "qj_operator",
    ("supervisor", "away"): "qj_supervisor",
    ("system_admin", "host"): "sysadmin",
    ("system_admin", "away"): "sysadmin",
}
CLASSES = {2: "2", 401: "U", 403: "F", 404: "N", 409: "C", 422: "V", 503: "S"}

# GET /api/ready is S (503) for everybody here: the tests' day (2026-11-30) is within 60 days of
# the end of the installed holiday calendar (2026-12-31), so its calendar check fails; the row
# becomes 2 once the calendar covers 2027 (tests/ops/test_ready.py checks both ways).
# operation                                              anon  venue_admin host_operator supervisor system_admin
TABLE = """
GET /api/openapi.json                                           2  2222  2222  2222  2222
GET /api/health                                                 2  2222  2222  2222  2222
GET /api/ready                                                  S  SSSS  SSSS  SSSS  SSSS
POST /api/auth/token                                            U  UUUU  UUUU  UUUU  UUUU
POST /api/auth/logout                                           2  2222  2222  2222  2222
GET /api/me                                                     U  2222  2222  2222  2222
GET /api/venues                                                 U  2222  2222  2222  2222
GET /api/seats                                                  U  2222  2222  2222  2222
POST /api/venues/{venue_id}/seats                               U  2F2F  FFFF  FFFF  2222
PATCH /api/seats/{seat_id}                                      U  2F2F  FFFF  FFFF  2222
GET /api/venues/{venue_id}/timeline                             U  2F2F  FFFF  FFFF  2222
POST /api/venues                                                U  FFFF  FFFF  FFFF  2222
PATCH /api/venues/{venue_id}                                    U  FFFF  FFFF  FFFF  2222
GET /api/users                                                  U  2F2F  FFFF  FFFF  2222
POST /api/users                                                 U  2F2F  FFFF  FFFF  2222
PATCH /api/users/{user_id}                                      U  CFCF  FFFF  FFFF  CCCC
POST /api/users/{user_id}/password                              U  VFVF  FFFF  FFFF  VVVV
GET /api/admin/changes                                          U  2F2F  FFFF  FFFF  2222
GET /api/sessions                                               U  2222  2222  2222  2222
POST /api/sessions                                              U  FFFF  2F2F  FFFF  2222
GET /api/sessions/{session_id}                                  U  2FFF  2FFF  2FFF  2222
POST /api/sessions/{session_id}/experts                         U  FFFF  CFFF  FFFF  FFFF
GET /api/experts                                                U  FFFF  2222  FFFF  2222
GET /api/sessions/{session_id}/lifecycle                        U  2FFF  2FFF  2FFF  2222
POST /api/sessions/{session_id}/actions                         U  FFFF  2FFF  FFFF  FFFF
POST /api/sessions/{session_id}/fault                           U  FFFF  CFFF  CFFF  FFFF
GET /api/bookings                                               U  2222  2222  2222  2222
POST /api/bookings                                              U  FFFF  2FFF  FFFF  FFFF
GET /api/bookings/{booking_id}                                  U  FF2F  2FFF  FFFF  2222
POST /api/bookings/{booking_id}/confirm                         U  FF2F  FFFF  FFFF  CCCC
POST /api/bookings/{booking_id}/reject                          U  FF2F  FFFF  FFFF  CCCC
POST /api/bookings/{booking_id}/cancel                          U  FF2F  CFFF  FFFF  C2CC
POST /api/bookings/{booking_id}/change                          U  FFFF  2FFF  FFFF  FFFF
POST /api/sessions/{session_id}/allocation                      U  FFFF  2FFF  FFFF  FFFF
GET /api/sessions/{session_id}/draw                             U  NFFF  NFFF  NFFF  NNNN
POST /api/bookings/{booking_id}/seats/{seat_id}/expert          U  FFFF  2FFF  FFFF  FFFF
POST /api/sessions/{session_id}/checkin-pins                    U  FFFF  2FFF  FFFF  FFFF
POST /api/sessions/{session_id}/host-seats                      U  FFFF  2FFF  FFFF  FFFF
GET /api/sessions/{session_id}/committee                        U  2FFF  2FFF  2FFF  2222
POST /api/sessions/{session_id}/committee/members/{expert_code}/decision  U  FFFF  2FFF  FFFF  FFFF
POST /api/sessions/{session_id}/committee/chair-votes           U  FFFF  2FFF  FFFF  FFFF
GET /api/supervision/sessions                                   U  FFFF  FFFF  2222  2222
GET /api/sessions/{session_id}/supervision                      U  FFFF  FFFF  2F2F  2222
GET /api/sessions/{session_id}/incidents                        U  FFFF  FFFF  2F2F  2222
GET /api/sessions/{session_id}/presence                         U  FFFF  FFFF  2F2F  2222
POST /api/sessions/{session_id}/presence/{expert_code}/confirm  U  FFFF  FFFF  NFFF  FFFF
POST /api/sessions/{session_id}/incidents                       U  FFFF  FFFF  2FFF  FFFF
GET /api/incidents/{incident_id}                                U  FFFF  FFFF  2F2F  2222
POST /api/incidents/{incident_id}/handling                      U  FFFF  FFFF  2FFF  FFFF
POST /api/incidents/{incident_id}/conclude                      U  FFFF  FFFF  2FFF  FFFF
GET /api/sessions/{session_id}/assistance-requests              U  FFFF  FFFF  2F2F  2222
POST /api/sessions/{session_id}/assistance-requests             U  FFFF  FFFF  2FFF  FFFF
POST /api/assistance-requests/{request_id}/respond              U  FFFF  FFFF  FF2F  FFFF
GET /api/sessions/{session_id}/copy-notices                     U  FFFF  FFFF  2F2F  2222
POST /api/copy-notices/{notice_id}/acknowledge                  U  FFFF  FFFF  FF2F  FFFF
GET /api/sessions/{session_id}/handovers                        U  FFFF  FFFF  2F2F  2222
POST /api/sessions/{session_id}/handovers                       U  FFFF  FFFF  CFFF  FFFF
POST /api/handovers/{handover_id}/handed-over                   U  FFFF  FFFF  FFVF  FFFF
GET /api/events                                                 U  2222  2222  2222  2222
GET /api/sessions/{session_id}/live/seats                       U  FFFF  FFFF  2F2F  FFFF
POST /api/sessions/{session_id}/live/seats/{seat_id}/viewers    U  FFFF  FFFF  CFCF  FFFF
DELETE /api/live/viewers/{viewer_id}                            U  NNNN  NNNN  NNNN  NNNN
POST /api/live/viewers/{viewer_id}/answer                       U  NNNN  NNNN  NNNN  NNNN
GET /api/live/viewers/{viewer_id}/stats                         U  NNNN  NNNN  NNNN  NNNN
GET /api/sessions/{session_id}/live/events                      U  FFFF  FFFF  2F2F  FFFF
GET /api/sessions/{session_id}/talkback                         U  FFFF  2FFF  2F2F  FFFF
POST /api/sessions/{session_id}/announcements                   U  FFFF  2FFF  2F2F  FFFF
POST /api/sessions/{session_id}/talkback/voice                  U  FFFF  CFFF  CFCF  FFFF
DELETE /api/talkback/voice/{talk_id}                            U  NNNN  NNNN  NNNN  NNNN
GET /api/venues/{venue_id}/seat-enrolments                      U  2F2F  FFFF  FFFF  2222
POST /api/seat-enrolments/{enrolment_id}/approve                U  2F2F  FFFF  FFFF  C2CC
POST /api/seat-enrolments/{enrolment_id}/revoke                 U  2F2F  FFFF  FFFF  C2CC
POST /api/sessions/{session_id}/evaluation/package              U  FFFF  VFFF  FFFF  FFFF
POST /api/sessions/{session_id}/evaluation/package/upload       U  FFFF  VFFF  FFFF  FFFF
GET /api/sessions/{session_id}/evaluation/package               U  CFFF  CFFF  CFFF  CCCC
GET /api/sessions/{session_id}/evaluation/events                U  2FFF  2FFF  2FFF  2222
GET /api/sessions/{session_id}/evaluation                       U  CFFF  CFFF  CFFF  CCCC
POST /api/sessions/{session_id}/evaluation/overrides            U  FFFF  CFFF  FFFF  FFFF
GET /api/sessions/{session_id}/evaluation/view                  U  CFFF  CFFF  CFFF  CCCC
POST /api/sessions/{session_id}/evaluation/scores               U  FFFF  CFFF  FFFF  FFFF
POST /api/sessions/{session_id}/evaluation/review               U  FFFF  CFFF  FFFF  FFFF
POST /api/sessions/{session_id}/evaluation/review-requests/{request_id}/answer  U  FFFF  NFFF  FFFF  FFFF
POST /api/sessions/{session_id}/evaluation/seal                 U  FFFF  CFFF  FFFF  FFFF
POST /api/sessions/{session_id}/evaluation/reveal               U  FFFF  CFFF  FFFF  FFFF
GET /api/sessions/{session_id}/evaluation/result                U  CFFF  CFFF  CFFF  CCCC
POST /api/sessions/{session_id}/evaluation/signatures           U  FFFF  CFFF  FFFF  FFFF
GET /api/sessions/{session_id}/evaluation/report                U  CFFF  CFFF  CFFF  CCCC
GET /api/sessions/{session_id}/evaluation/signals               U  2FFF  2FFF  2FFF  2222
GET /api/sessions/{session_id}/supervision/signals              U  FFFF  FFFF  2F2F  2222
GET /api/sessions/{session_id}/report.pdf                       U  CFFF  CFFF  CFFF  CCCC
POST /api/sessions/{session_id}/chapters                        U  FFFF  2FFF  FFFF  FFFF
GET /api/sessions/{session_id}/chapters                         U  2FFF  2FFF  2FFF  2222
POST /api/pool/experts/import                                   U  FFFF  FFFF  FFFF  VVVV
GET /api/pool/experts                                           U  FFFF  2222  FFFF  2222
POST /api/pool/blacklist/import                                 U  FFFF  FFFF  FFFF  VVVV
GET /api/pool/blacklist                                         U  FFFF  FFFF  FFFF  2222
POST /api/sessions/{session_id}/draw-record                     U  FFFF  VFFF  FFFF  FFFF
POST /api/sessions/{session_id}/representatives                 U  FFFF  CFFF  FFFF  FFFF
"""


@dataclass(frozen=True)
class Cell:
    role: str | None  # None: anonymous
    axis: str = "host"  # the principal's venue: S1's host (KM) or its away venue (QJ)
    obj: str = "own"  # what is asked about: S1's / own venue's, or S2's / 红河's

    @property
    def own(self) -> bool:
        return self.obj == "own"

    def venue(self) -> str:
        if not self.own:
            return "HH"
        return "KM" if self.axis == "host" else "QJ"

    def name(self) -> str:
        return "anonymous" if self.role is None else f"{self.role}@{self.axis}/{self.obj}"


CELLS = [Cell(None)] + [Cell(role, axis, obj) for role in ROLES for axis, obj in AXES]


def _table() -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in TABLE.strip().splitlines():
        *words, anon, va, ho, su, sa = line.split()
        key = " ".join(words)
        assert key not in rows, f"two rows for {key}"
        marks = anon + va + ho + su + sa
        assert len(marks) == len(CELLS) and set(marks) <= set(CLASSES.values()), line
        rows[key] = marks
    return rows


EXPECTED = _table()


def _key(op: Operation) -> str:
    return f"{op.method.upper()} {op.path}"


def test_every_route_has_a_row_and_every_row_a_route() -> None:
    routes = [_key(op) for op in API_OPERATIONS]
    assert len(routes) == len(set(routes))
    missing = sorted(set(routes) - set(EXPECTED))
    gone = sorted(set(EXPECTED) - set(routes))
    assert (missing, gone) == ([], []), "add (or remove) the matrix rows of these routes"


# --- how each cell's request is made ---------------------------------------------------------

Request = tuple[str, dict[str, Any] | None]  # path (with query), JSON body


class Requests:
    """Builds each operation's request for a cell from the world."""

    def __init__(self, world: World, day: date) -> None:
        self.w = world
        self.day = day.isoformat()  # S1's local day
        self.later = (day + timedelta(days=4)).isoformat()  # a day free for new sessions
        self.labels = 0
        self.nobodies = 0
        #: user ids by username (set by the test, from the database)
        self.users: dict[str, int] = {}

    def session(self, cell: Cell) -> int:
        return self.w.s1 if cell.own else self.w.s2

    def path_value(self, op: Operation, name: str, cell: Cell) -> int | str:
        w, own = self.w, cell.own
        path = op.path
        if name == "session_id":
            return self.session(cell)
        if name == "venue_id":
            return w.venue(cell.venue())
        if name == "seat_id":
            if path.startswith("/api/seats/"):
                return w.seat({"KM": "KM-02", "QJ": "QJ-06", "HH": "HH-02"}[cell.venue()])
            if "/live/" in path:
                return w.seat("QJ-01" if own else "DL-03")
            return w.seat("QJ-02" if own else "DL-03")  # a booking's seat
        if name == "booking_id":
            if not own:
                return w.s2_booking
            for action in ("confirm", "reject", "cancel", "change"):
                if path.endswith(f"/{action}"):
                    return w.s1_bookings[action]
            return w.s1_bookings["seated"]
        if name == "incident_id":
            if not own:
                return w.incidents["s2"]
            return w.incidents["s1-conclude" if path.endswith("/conclude") else "s1"]
        if name == "request_id":
            if "/evaluation/" in path:
                return 1  # no review request exists
            return w.assistance["s1" if own else "s2"]
        if name == "notice_id":
            return w.copy_notices["s1" if own else "s2"]
        if name == "handover_id":
            return w.handovers["s1" if own else "s2"]
        if name == "enrolment_id":
            return w.enrolments[cell.venue()]
        if name == "viewer_id":
            return 999_999  # viewers live in the media plane: tests/live asks about them
        if name == "talk_id":
            return 999_999  # turns live in the media plane: tests/talkback asks about them
        if name == "expert_code":
            return "E01"
        if name == "user_id":
            # Each venue's admin: enabling an active account or setting a too-short password
            # is refused by the use case, so no cell ends a token the later rows ask with.
            return self.users[f"{cell.venue().lower()}_admin"]
        raise AssertionError(f"no value for path parameter {name} of {path}")

    def body(self, op: Operation, cell: Cell) -> dict[str, Any] | None:
        w, own = self.w, cell.own
        key = _key(op)
        expert = w.expert("E06" if own else "E03")
        bodies: dict[str, Callable[[], dict[str, Any]]] = {
            # A different unknown user in every cell: the sign-in throttle counts failures per
            # user and address (tests/hub/test_signin.py), and this row is about credentials.
            "POST /api/auth/token": lambda: {"username": self._nobody(), "password": "wrong"},
            "POST /api/venues/{venue_id}/seats": lambda: {"label": self._label()},
            "PATCH /api/seats/{seat_id}": lambda: {"room": "矩阵测试室"},
            "POST /api/venues": lambda: {
                "code": f"MX{self._label()[3:]}",
                "name": "矩阵测试场地",
                "region_code": "530100",
                "supervising_department": "矩阵测试监督部门",
            },
            "PATCH /api/venues/{venue_id}": lambda: {"contact_name": "矩阵测试"},
            "POST /api/users": lambda: {
                "username": f"matrix-{self._label()}",
                "role": "supervisor",
                "venue_id": w.venue(cell.venue()),
                "password": "Matrix-2026!",
            },
            "PATCH /api/users/{user_id}": lambda: {"active": True},
            "POST /api/users/{user_id}/password": lambda: {"password": "short"},
            "POST /api/sessions": lambda: {
                "project_code": "MATRIX",
                "project_name": "矩阵测试",
                "section": "第 1 标段",
                "starts_at": f"{self.later}T09:00:00+08:00",
                "ends_at": f"{self.later}T12:00:00+08:00",
                "committee_size": 5,
                "host_venue_id": w.venue(cell.venue()),
            },
            "POST /api/sessions/{session_id}/experts": lambda: {"expert_id": w.expert("E01")},
            "POST /api/sessions/{session_id}/representatives": lambda: {
                "code": "R-MATRIX",
                "name": "矩阵代表",
                "employer": "矩阵采购人",
            },
            # The world's session is checking in, opened by the host operator: their repeat of
            # that latest move answers with the session's view (200), anyone else's is refused.
            "POST /api/sessions/{session_id}/actions": lambda: {"action": "open_check_in"},
            "POST /api/sessions/{session_id}/fault": lambda: {"fixed": True},
            "POST /api/bookings": lambda: {
                "session_id": self.session(cell),
                "venue_id": w.venue("HH" if own else "QJ"),
                "seat_count": 1,
            },
            "POST /api/bookings/{booking_id}/confirm": lambda: {
                "seat_ids": [w.seat("QJ-05" if own else "DL-03")]
            },
            "POST /api/bookings/{booking_id}/reject": lambda: {"reason": "矩阵测试"},
            "POST /api/bookings/{booking_id}/cancel": lambda: {"reason": "矩阵测试"},
            "POST /api/bookings/{booking_id}/change": lambda: {
                "reason": "矩阵测试",
                "seat_count": 1,
            },
            "POST /api/sessions/{session_id}/allocation": lambda: {"policy": "nearest"},
            "POST /api/bookings/{booking_id}/seats/{seat_id}/expert": lambda: {
                "expert_id": w.expert("E07" if own else "E03")
            },
            "POST /api/sessions/{session_id}/committee/members/{expert_code}/decision": lambda: {
                "decision": "confirmed"
            },
            # Typed in at the host only with a reason (代录): members at seats vote there.
            "POST /api/sessions/{session_id}/committee/chair-votes": lambda: {
                "ballots": [{"voter": "E01", "candidate": "E01"}],
                "reason": "矩阵测试",
            },
            "POST /api/sessions/{session_id}/host-seats": lambda: {
                "seats": [
                    {
                        "seat_id": w.seat("KM-02" if own else "HH-02"),
                        "expert_id": w.expert("E02"),
                    }
                ]
            },
            "POST /api/sessions/{session_id}/presence/{expert_code}/confirm": lambda: {
                "reason": "矩阵测试"
            },
            "POST /api/sessions/{session_id}/incidents": lambda: {
                "kind": "离开工位",
                "severity": "minor",
                "expert_id": expert,
                "description": "矩阵测试",
            },
            "POST /api/incidents/{incident_id}/handling": lambda: {"note": "矩阵测试"},
            "POST /api/incidents/{incident_id}/conclude": lambda: {"result": "矩阵测试"},
            "POST /api/sessions/{session_id}/assistance-requests": lambda: {
                "venue_id": w.venue("QJ" if own else "DL"),
                "content": "矩阵测试",
            },
            "POST /api/assistance-requests/{request_id}/respond": lambda: {"response": "矩阵测试"},
            "POST /api/copy-notices/{notice_id}/acknowledge": dict,
            "POST /api/sessions/{session_id}/handovers": dict,
            "POST /api/handovers/{handover_id}/handed-over": dict,
            "POST /api/sessions/{session_id}/live/seats/{seat_id}/viewers": lambda: {
                "type": "offer",
                "sdp": "v=0\r\n",
            },
            # The built-in forwarder's viewers have no answer to give (Janus's: tests/janus).
            "POST /api/live/viewers/{viewer_id}/answer": lambda: {
                "type": "answer",
                "sdp": "v=0\r\n",
                "token": "matrix",
            },
            # To 曲靖's seat of S1 (S2: 大理's): its away supervisor may, another venue's not.
            "POST /api/sessions/{session_id}/announcements": lambda: {
                "text": "矩阵测试通知",
                "seat_id": w.seat("QJ-01" if own else "DL-03"),
            },
            # Nobody's seat listens in the matrix's world: 409 where the caller may talk.
            "POST /api/sessions/{session_id}/talkback/voice": lambda: {
                "type": "offer",
                "sdp": "v=0\r\n",
                "seat_id": w.seat("QJ-01" if own else "DL-03"),
            },
            "POST /api/seat-enrolments/{enrolment_id}/approve": lambda: {
                "enrolment_code": w.enrolment_codes[cell.venue()]
            },
            "POST /api/sessions/{session_id}/evaluation/package": lambda: {
                "path": "/nonexistent/matrix-package"
            },
            "POST /api/sessions/{session_id}/evaluation/overrides": lambda: {
                "bidder_id": "b01",
                "chapter_id": "ch1",
                "reason": "矩阵测试",
            },
            # The host enters scores only with a written reason (代录), and records only a
            # refusal to sign (a signature comes from the expert's seat).
            "POST /api/sessions/{session_id}/evaluation/scores": lambda: {
                "expert": "E01",
                "part": "ch1",
                "entries": [],
                "reason": "矩阵测试",
            },
            "POST /api/sessions/{session_id}/evaluation/review-requests/{request_id}/answer": (
                lambda: {"answer": "keep", "reason": "矩阵测试"}
            ),
            "POST /api/sessions/{session_id}/evaluation/signatures": lambda: {
                "expert": "E01",
                "decision": "refuse",
                "reason": "矩阵测试",
            },
        }
        if op.body is None:
            assert key not in bodies, key
            return None
        return bodies[key]()

    def _nobody(self) -> str:
        self.nobodies += 1
        return f"nobody-{self.nobodies:02d}"

    def _label(self) -> str:
        self.labels += 1
        return f"MX-{self.labels:02d}"

    def query(self, op: Operation) -> str:
        if op.path.endswith("/timeline"):
            return f"?date={self.day}"
        if op.path.endswith("/evaluation/view"):
            return "?expert=E06"
        return ""

    def query_for(self, op: Operation, cell: Cell) -> str:
        if op.path in ("/api/users", "/api/admin/changes") and op.method == "get":
            return f"?venue_id={self.w.venue(cell.venue())}"
        return self.query(op)

    def make(self, op: Operation, cell: Cell) -> Request:
        path = op.path
        for name in ("session_id", "venue_id", "seat_id", "booking_id", "incident_id",
                     "request_id", "notice_id", "handover_id", "enrolment_id", "viewer_id",
                     "expert_code", "user_id", "talk_id"):  # fmt: skip
            if "{" + name + "}" in path:
                path = path.replace("{" + name + "}", str(self.path_value(op, name, cell)))
        assert "{" not in path, path
        return path + self.query_for(op, cell), self.body(op, cell)


async def _ask(client: Client, op: Operation, cell: Cell, request: Request, headers: Any) -> int:
    path, body = request
    resp = await client.request(op.method.upper(), path, json=body, headers=headers)
    try:
        if resp.status >= 400:
            assert resp.content_type == "application/problem+json", (path, await resp.text())
        return resp.status
    finally:
        resp.close()  # an event stream would run on


async def test_the_authorisation_matrix(
    client: Client, database: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    world = await build_world(database, clock)
    now = clock()
    requests = Requests(world, localtime.day_of(now + timedelta(days=1)))
    async with database.read() as s:
        requests.users = dict((await s.execute(select(User.username, User.id))).tuples().all())
    headers = {user: bearer(world.ids, user, now) for user in set(USERS.values())}
    # Every cell's failed sign-in comes from the one test client's address: all of them stay
    # under the per-address limit, so the row shows the credentials' answer, never a lockout.
    assert len(CELLS) < client.app[CONFIG].signin.per_address.attempts
    started = time.perf_counter()
    observed: dict[str, str] = {}
    surprises: list[str] = []
    count = 0
    for op in API_OPERATIONS:
        marks = []
        for cell in CELLS:
            asked = None if cell.role is None else headers[USERS[cell.role, cell.axis]]
            if cell.role is not None and _key(op) == "POST /api/auth/logout":
                # Signing out revokes the token it is sent with (admin.tokens): the cell signs
                # out a token of its own, not the one the later rows ask with.
                asked = bearer(world.ids, USERS[cell.role, cell.axis], now)
            status = await _ask(client, op, cell, requests.make(op, cell), asked)
            count += 1
            mark = CLASSES.get(2 if 200 <= status < 300 else status, f"<{status}>")
            marks.append(mark)
        observed[_key(op)] = "".join(marks)
        if observed[_key(op)] != EXPECTED.get(_key(op)):
            surprises.append(_row(_key(op), observed[_key(op)]))
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\nauthorisation matrix ({database.url.split(':')[0]}): {len(API_OPERATIONS)} "
            f"operations x {len(CELLS)} principals = {count} requests in {elapsed:.1f} s"
        )
    assert count == len(API_OPERATIONS) * len(CELLS)
    assert surprises == [], "cells answering otherwise than the table (observed):\n" + "\n".join(
        surprises
    )


def _row(key: str, marks: str) -> str:
    return f"{key:<63} {marks[0]}  {marks[1:5]}  {marks[5:9]}  {marks[9:13]}  {marks[13:17]}"


def test_no_refused_cell_tells_a_state() -> None:
    """Item 2 in the table itself: a principal who may not act on an object is answered 403 or
    404, never 409 or 422. Wherever a role is refused the object of the other session (which
    concerns neither venue of the principals), that column holds no C or V."""
    for key, marks in EXPECTED.items():
        for i, cell in enumerate(CELLS):
            if cell.role is not None and not cell.own and cell.role != "system_admin":
                # S: the readiness answer, the same to everybody (no object, no principal)
                assert marks[i] in "2FNUS", (key, cell.name(), marks[i])
