"""Who may do or see what in the hub (权限规则): every access rule, in one pure module.

The rules, by role (主场为主、客场为辅; the system administrator administers, never acts):

* **Host operator** (主场业务人员, role ``host_operator``) of the session's host venue runs the
  session: books seats, forms the committee, seats experts and issues their PINs, drives the
  lifecycle, attaches the bid package, releases chapters, runs the review, seals, reveals and
  records what the committee decides. Only the host venue's operators, and nobody else.
* **Venue admin** (场地管理员) manages their own venue: its seats, its seat terminals, and the
  booking requests addressed to it (confirm, reject, check in, release, cancel).
* **Supervisor** (监督人员) of the host venue sees everything about the session and acts for
  supervision (incidents, 函告, handovers); a supervisor of an away venue where an expert of the
  session is seated sees only what concerns that venue and acts only for it. Live pictures of
  experts are for supervisors only.
* **System administrator** (系统管理员) administers: every venue's seats, terminals and
  bookings as if venue admin, creating sessions for any host, users, the directory's venues
  and the expert pool; reads every session and supervision record. Separation of duties
  (三员分立): a system administrator never acts in an evaluation or for a supervising
  department, and watches no live picture.
* Anyone else is refused; refusals are ``Forbidden`` with a message saying who may act.

Each rule takes the principal and the facts about the target (``Target``), never a database
row, so it is tested as a table (``tests/hub/test_access.py``: role × venue × action). Use
cases load the facts, call :func:`require` first (before reading files, evaluating state or
revealing it) and then do their work. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from evaluation_hub.errors import Forbidden
from evaluation_hub.principal import Principal

__all__ = [
    "ROLE_NAMES",
    "USER_ROLES",
    "Action",
    "Relation",
    "Role",
    "Scope",
    "Target",
    "allowed",
    "booking_venue_visible",
    "event_channels",
    "relations",
    "require",
    "scope",
    "who",
]


class Role(StrEnum):
    VENUE_ADMIN = "venue_admin"
    HOST_OPERATOR = "host_operator"
    SUPERVISOR = "supervisor"
    SYSTEM_ADMIN = "system_admin"
    #: The hub itself, for the lifecycle steps that follow from facts (all sheets in …).
    SYSTEM = "system"


#: The roles a user account may hold (every role but the hub itself).
USER_ROLES: tuple[str, ...] = tuple(r.value for r in Role if r is not Role.SYSTEM)

ROLE_NAMES: dict[str, str] = {
    Role.VENUE_ADMIN: "场地管理员",
    Role.HOST_OPERATOR: "主场业务人员",
    Role.SUPERVISOR: "监督人员",
    Role.SYSTEM_ADMIN: "系统管理员",
    Role.SYSTEM: "系统自动",
}


class Relation(StrEnum):
    """How the principal's venue stands to the target."""

    HOST = "host"  # hosts the session (主场)
    AWAY = "away"  # seats an expert of the session (客场)
    VENUE = "venue"  # is the target's own venue (a seat's, a booking's, an enrolment's)
    ANY = "any"  # whatever the venue (the system administrator)


@dataclass(frozen=True)
class Target:
    """The facts a rule needs about what is acted on; unknown facts stay ``None``/empty."""

    session_id: int | None = None
    host_venue_id: int | None = None
    host_venue_name: str = ""
    #: the venue the object belongs to (a seat, a booking's venue, a supervised away venue)
    venue_id: int | None = None
    venue_name: str = ""
    #: venues where an expert of the session is seated now (live seatings)
    seated_venue_ids: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Rule:
    grants: frozenset[tuple[Role, Relation]]
    code: str
    #: who may act, as the refusal names them; formatted with the target's fields
    needed: str
    #: what is done, as the refusal names it; formatted with the target's fields
    verb: str
    #: a refusal worded for the case, instead of "只有{needed}可以{verb}，当前用户 …无此权限"
    refusal: str | None = None


def _rule(
    code: str, needed: str, verb: str, *grants: tuple[Role, Relation], refusal: str | None = None
) -> Rule:
    return Rule(frozenset(grants), code, needed, verb, refusal)


_HOST_OPERATOR = (Role.HOST_OPERATOR, Relation.HOST)
_VENUE_ADMIN = (Role.VENUE_ADMIN, Relation.VENUE)
_SYSTEM_ADMIN = (Role.SYSTEM_ADMIN, Relation.ANY)
_HOST_SUPERVISOR = (Role.SUPERVISOR, Relation.HOST)
_AWAY_SUPERVISOR = (Role.SUPERVISOR, Relation.AWAY)
_VENUE_SUPERVISOR = (Role.SUPERVISOR, Relation.VENUE)

_HOST_OPERATORS = "主场「{host_venue_name}」的业务人员"
_VENUE_ADMINS = "场地「{venue_name}」的管理员"
_HOST_SUPERVISORS = "主场「{host_venue_name}」的监督人员"


class Action(Enum):
    """Everything the hub guards, with who may do it."""

    # --- the session, read by the host site's staff and the system administrator ---
    SEE_SESSION = _rule(
        "session-not-visible",
        "主办该评标会的场地人员",
        "查看评标会 #{session_id}",
        (Role.HOST_OPERATOR, Relation.HOST),
        (Role.SUPERVISOR, Relation.HOST),
        (Role.VENUE_ADMIN, Relation.HOST),
        _SYSTEM_ADMIN,
        refusal="评标会 #{session_id} 不由本场地主办，无权查看",
    )
    CREATE_SESSION = _rule(
        "not-host",
        "主场「{host_venue_name}」的业务人员或系统管理员",
        "以「{host_venue_name}」为主场创建评标会",
        (Role.HOST_OPERATOR, Relation.HOST),
        _SYSTEM_ADMIN,
    )
    # --- host business (主场业务): the host venue's operators only ---
    BOOK_SEATS = _rule(
        "not-host", _HOST_OPERATORS, "为评标会 #{session_id} 预约工位", _HOST_OPERATOR
    )
    FORM_COMMITTEE = _rule(
        "not-host", _HOST_OPERATORS, "办理评标会 #{session_id} 的评标委员会组建", _HOST_OPERATOR
    )
    SEAT_EXPERTS = _rule(
        "not-host",
        _HOST_OPERATORS,
        "安排评标会 #{session_id} 的专家工位并发放签到码",
        _HOST_OPERATOR,
    )
    RUN_EVALUATION = _rule(
        "not-host", _HOST_OPERATORS, "操作评标会 #{session_id} 的评审", _HOST_OPERATOR
    )
    RELEASE_CHAPTERS = _rule(
        "not-host", _HOST_OPERATORS, "向工位发放评标会 #{session_id} 的章节", _HOST_OPERATOR
    )
    REPORT_FAULT = _rule(
        "not-host",
        "主场业务人员或主场监督人员",
        "登记或解除评标会 #{session_id} 的故障",
        _HOST_OPERATOR,
        _HOST_SUPERVISOR,
    )
    # --- a venue's own administration (the system administrator as any venue's admin) ---
    ADMINISTER_VENUE = _rule(
        "not-venue-admin", _VENUE_ADMINS, "管理场地「{venue_name}」", _VENUE_ADMIN, _SYSTEM_ADMIN
    )
    ANSWER_BOOKING = _rule(
        "not-venue-admin",
        _VENUE_ADMINS,
        "处理发往场地「{venue_name}」的预约",
        _VENUE_ADMIN,
        _SYSTEM_ADMIN,
    )
    CANCEL_BOOKING = _rule(
        "not-booking-party",
        "主场「{host_venue_name}」的业务人员或场地「{venue_name}」的管理员",
        "取消该预约",
        _HOST_OPERATOR,
        _VENUE_ADMIN,
        _SYSTEM_ADMIN,
    )
    SEE_BOOKING = _rule(
        "booking-not-visible",
        "预约所在场地或主办该评标会的场地人员",
        "查看该预约",
        _HOST_OPERATOR,
        _VENUE_ADMIN,
        _SYSTEM_ADMIN,
    )
    # --- supervision (主场为主、客场为辅) ---
    SEE_SUPERVISION = _rule(
        "supervision-not-visible",
        "评标会 #{session_id} 主场或客场的监督人员",
        "查看其监督记录",
        _HOST_SUPERVISOR,
        _AWAY_SUPERVISOR,
        _SYSTEM_ADMIN,
    )
    SUPERVISE_AS_HOST = _rule("not-host-supervisor", _HOST_SUPERVISORS, "{doing}", _HOST_SUPERVISOR)
    SUPERVISE_AS_VENUE = _rule(
        "not-venue-supervisor", "「{venue_name}」的监督人员", "{doing}", _VENUE_SUPERVISOR
    )
    WATCH_LIVE = _rule(
        "live-supervisors-only",
        "评标会 #{session_id} 主场或客场的监督人员",
        "观看工位音视频",
        _HOST_SUPERVISOR,
        _AWAY_SUPERVISOR,
    )
    # --- administration (users) ---
    MANAGE_USERS = _rule("not-system-admin", "系统管理员", "管理用户账号", _SYSTEM_ADMIN)
    # --- supervision (issue 10, supervision area) ---
    #: the list of sessions one supervises (each session's record is ``SEE_SUPERVISION``)
    LIST_SUPERVISED_SESSIONS = _rule(
        "not-supervisor", "监督人员", "查看监督记录", (Role.SUPERVISOR, Relation.ANY), _SYSTEM_ADMIN
    )
    # --- administration (issue 11, demo area: the directory's venues and the expert pool) ---
    #: register a venue (场地) in the directory; its seats are then its admin's
    ADD_VENUE = _rule("not-system-admin", "系统管理员", "登记场地", _SYSTEM_ADMIN)
    #: add an expert to the pool (专家库) committees are drawn from
    MANAGE_EXPERTS = _rule("not-system-admin", "系统管理员", "管理专家库", _SYSTEM_ADMIN)
    # --- security (issue 12) ---
    #: the expert pool (专家库): for those who form committees, and the system administrator
    LIST_EXPERTS = _rule(
        "experts-not-visible",
        "主场业务人员或系统管理员",
        "查看专家库",
        (Role.HOST_OPERATOR, Relation.ANY),
        _SYSTEM_ADMIN,
    )
    # --- administration (issue 13, admin area) ---
    #: change a venue's particulars, or disable (停用) / re-enable it
    EDIT_VENUE = _rule("not-system-admin", "系统管理员", "修改场地「{venue_name}」", _SYSTEM_ADMIN)
    #: the accounts of one venue: its own admin, or the system administrator
    MANAGE_VENUE_USERS = _rule(
        "not-venue-admin",
        "场地「{venue_name}」的管理员或系统管理员",
        "管理场地「{venue_name}」的用户账号",
        _VENUE_ADMIN,
        _SYSTEM_ADMIN,
    )
    #: system administrators' accounts (they belong to no venue)
    MANAGE_SYSTEM_ADMINS = _rule(
        "not-system-admin", "系统管理员", "新增或管理系统管理员账号", _SYSTEM_ADMIN
    )
    #: the administrative changes (操作日志) concerning one venue
    SEE_VENUE_CHANGES = _rule(
        "not-venue-admin",
        "场地「{venue_name}」的管理员或系统管理员",
        "查看场地「{venue_name}」的操作日志",
        _VENUE_ADMIN,
        _SYSTEM_ADMIN,
    )
    #: every administrative change, whatever the venue
    SEE_ALL_CHANGES = _rule("not-system-admin", "系统管理员", "查看全部操作日志", _SYSTEM_ADMIN)
    # --- operations (issue 17: backups and restore, from the hub's host) ---
    BACKUP_DATABASE = _rule("not-system-admin", "系统管理员", "备份数据库", _SYSTEM_ADMIN)
    RESTORE_DATABASE = _rule("not-system-admin", "系统管理员", "恢复数据库", _SYSTEM_ADMIN)
    # --- talk-back (issue 14, talk-back area) ---
    #: text announcements and push-to-talk to a session's seats: the host operator and host
    #: supervisors to any seat (or all), a supervisor of the seat's own venue to that seat
    #: (the target's ``venue_id`` is the addressed seat's venue; none when all are addressed)
    TALK_TO_SEATS = _rule(
        "talkback-not-allowed",
        "主场「{host_venue_name}」的业务人员或监督人员，或该工位所在场地的监督人员",
        "向评标会 #{session_id} 的工位发送通知或喊话",
        _HOST_OPERATOR,
        _HOST_SUPERVISOR,
        _VENUE_SUPERVISOR,
    )

    @property
    def rule(self) -> Rule:
        value: Rule = self.value
        return value


def who(principal: Principal) -> str:
    """``km_operator（主场业务人员）``: how a refusal names the caller."""
    return f"{principal.username}（{ROLE_NAMES.get(principal.role, principal.role)}）"


def relations(principal: Principal, target: Target) -> frozenset[Relation]:
    """How the principal's venue stands to the target (several at once is possible: a host
    venue may also seat experts of its own session)."""
    found = {Relation.ANY}
    venue = principal.venue_id
    if venue is None:
        return frozenset(found)
    if venue == target.host_venue_id:
        found.add(Relation.HOST)
    if venue in target.seated_venue_ids and venue != target.host_venue_id:
        found.add(Relation.AWAY)
    if venue == target.venue_id:
        found.add(Relation.VENUE)
    return frozenset(found)


def allowed(principal: Principal, action: Action, target: Target) -> bool:
    rels = relations(principal, target)
    return any(role == principal.role and rel in rels for role, rel in action.rule.grants)


def require(principal: Principal, action: Action, target: Target, *, doing: str = "") -> None:
    """Return if ``principal`` may take ``action`` on ``target``; otherwise ``Forbidden`` naming
    who may (``doing`` completes the verb of the supervision actions)."""
    if allowed(principal, action, target):
        return
    rule = action.rule
    facts = {
        "session_id": target.session_id,
        "host_venue_name": target.host_venue_name,
        "venue_name": target.venue_name,
        "doing": doing,
        "who": who(principal),
    }
    if rule.refusal is not None:
        raise Forbidden(rule.code, rule.refusal.format(**facts))
    raise Forbidden(
        rule.code,
        f"只有{rule.needed.format(**facts)}可以{rule.verb.format(**facts)}，"
        f"当前用户 {who(principal)}无此权限",
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """What a caller may see of one session: everything, or one away venue's part."""

    venue_id: int | None  # None: everything

    @property
    def everything(self) -> bool:
        return self.venue_id is None

    def sees(self, venue_id: int | None) -> bool:
        """Whether something about an expert seated at ``venue_id`` is visible."""
        return self.venue_id is None or self.venue_id == venue_id


def scope(principal: Principal, action: Action, target: Target) -> Scope:
    """The part of the session ``principal`` may see under ``action`` (``SEE_SUPERVISION`` or
    ``WATCH_LIVE``): everything at the host, one venue away; ``Forbidden`` otherwise."""
    require(principal, action, target)
    rels = relations(principal, target)
    if principal.role == Role.SYSTEM_ADMIN or Relation.HOST in rels:
        return Scope(None)
    return Scope(principal.venue_id)


def booking_venue_visible(
    principal: Principal, target: Target, *, drawn: bool, started: bool
) -> bool:
    """Whether the caller may learn which venue a booking is at (``target.venue_id``), or
    anything that names it: its seats, whether they are busy, who sits there, their pictures.
    A random draw's venues stay hidden from the host site, and from everyone else, until the
    session starts (两随机、四不知); the booked venue's own admin (who answers the booking) and
    supervisors (who watch their own seats), and the system administrator, always see them.
    The one rule for every view and message of a drawn booking."""
    if not (drawn and not started):
        return True
    rels = relations(principal, target)
    return principal.role == Role.SYSTEM_ADMIN or (
        principal.role in (Role.VENUE_ADMIN, Role.SUPERVISOR) and Relation.VENUE in rels
    )


def event_channels(principal: Principal) -> tuple[str, ...]:
    """The bus channels of booking changes a caller's event stream carries."""
    if principal.role == Role.SYSTEM_ADMIN:
        return ("all",)
    if principal.role == Role.VENUE_ADMIN:
        return (f"venue:{principal.venue_id}",)
    if principal.role == Role.HOST_OPERATOR:
        return (f"host:{principal.venue_id}",)
    return ()


def seated_target(
    session_id: int,
    host_venue_id: int,
    host_venue_name: str,
    seated_venue_ids: Collection[int],
) -> Target:
    """A session target with the venues seating its experts (for supervision and live)."""
    return Target(
        session_id=session_id,
        host_venue_id=host_venue_id,
        host_venue_name=host_venue_name,
        seated_venue_ids=frozenset(seated_venue_ids),
    )


__all__ += ["seated_target"]
