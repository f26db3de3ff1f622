"""The refusals of administration (users, venues, the expert pool). Each is a ``ProblemError``
of the hub's tree, so the problem middleware answers it over HTTP and the CLI prints its
message::

    ProblemError
    ├── InvalidInput (422)
    │   ├── UnknownRole        not a role a user may hold
    │   ├── BadUsername        not a usable sign-in name
    │   ├── WeakPassword       shorter than ``MIN_PASSWORD_LENGTH``
    │   ├── PasswordTooLong    longer than ``MAX_PASSWORD_LENGTH`` (the sign-in form's limit)
    │   ├── BadDisplayName     longer than ``MAX_DISPLAY_NAME``
    │   ├── VenueRequired      a venue's role (venue admin, host operator, supervisor) without one
    │   ├── VenueNotAllowed    a system administrator given a venue
    │   ├── BadVenueCode       not a usable venue code (it prefixes every seat key)
    │   ├── BadExpertCode      not a usable expert code
    │   ├── BadRegionCode      not a 6-digit administrative division code
    │   ├── FieldRequired      a venue's or expert's field left empty
    │   ├── FieldTooLong       a venue's or expert's field longer than its column
    │   ├── UnknownRegion      a region code the region table (configs/regions) does not hold
    │   ├── BadCoordinates     a latitude or longitude out of range, or only one of the two
    │   └── BadImport          a CSV import with bad rows (each named by line and column)
    ├── NotFound (404)
    │   ├── UnknownVenue       no venue with that code or id
    │   └── UnknownUser        no user with that username
    ├── Conflict (409)
    │   ├── UsernameTaken      another user already has the username
    │   ├── VenueCodeTaken     another venue already has the code
    │   ├── ExpertCodeTaken    another expert already has the code
    │   ├── AccountUnchanged   disabling a disabled account, enabling an active one
    │   ├── OwnAccount         a system administrator disabling their own account
    │   └── AdministratorExists  ``init`` on a database that already has a system administrator
    ├── SigninLocked (429)     too many failed sign-ins: locked until a stated time
    └── SigninBusy (503)       too many password checks waiting: try again in a moment

No message ever carries a password.
"""

from __future__ import annotations

from datetime import datetime
from math import ceil

from evaluation_hub import localtime
from evaluation_hub.access import ROLE_NAMES
from evaluation_hub.access import USER_ROLES as ROLES
from evaluation_hub.errors import Conflict, InvalidInput, NotFound, ProblemError

__all__ = [
    "MAX_DISPLAY_NAME",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "AccountUnchanged",
    "AdministratorExists",
    "BadCoordinates",
    "BadDisplayName",
    "BadExpertCode",
    "BadImport",
    "BadRegionCode",
    "BadUsername",
    "BadVenueCode",
    "ExpertCodeTaken",
    "FieldRequired",
    "FieldTooLong",
    "OwnAccount",
    "PasswordTooLong",
    "SigninBusy",
    "SigninLocked",
    "UnknownRegion",
    "UnknownRole",
    "UnknownUser",
    "UnknownVenue",
    "UsernameTaken",
    "VenueCodeTaken",
    "VenueNotAllowed",
    "VenueRequired",
    "WeakPassword",
]

#: the shortest password the hub accepts for an account
MIN_PASSWORD_LENGTH = 8
#: the longest password the sign-in form (``POST /api/auth/token``) takes
MAX_PASSWORD_LENGTH = 200
#: the longest display name the ``users`` table holds
MAX_DISPLAY_NAME = 100


class UnknownRole(InvalidInput):
    def __init__(self, role: str) -> None:
        self.role = role
        choices = "、".join(f"{r}（{ROLE_NAMES[r]}）" for r in ROLES)
        super().__init__("unknown-role", f"角色「{role}」不存在，用户角色只能是：{choices}")


class BadUsername(InvalidInput):
    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(
            "bad-username",
            f"用户名「{username}」不可用：用户名须以字母或数字开头，只含字母、数字和 . _ -，"
            "最长 64 个字符",
        )


class WeakPassword(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "weak-password", f"密码太短：至少需要 {MIN_PASSWORD_LENGTH} 个字符，请换一个更长的密码"
        )


class PasswordTooLong(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "password-too-long",
            f"密码太长：最多 {MAX_PASSWORD_LENGTH} 个字符（登录时无法输入更长的密码）",
        )


class BadDisplayName(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "bad-display-name", f"显示名称太长：最多 {MAX_DISPLAY_NAME} 个字符，请缩短后再提交"
        )


class VenueRequired(InvalidInput):
    def __init__(self, role: str) -> None:
        self.role = role
        super().__init__(
            "venue-required", f"{ROLE_NAMES[role]}必须属于一个场地：请指定其所在场地的代码"
        )


class VenueNotAllowed(InvalidInput):
    def __init__(self) -> None:
        super().__init__("venue-not-allowed", "系统管理员不属于任何场地：请不要为其指定场地")


class UnknownVenue(NotFound):
    def __init__(self, venue: str | int) -> None:
        self.venue = venue
        detail = (
            f"场地 #{venue} 不存在"
            if isinstance(venue, int)
            else f"场地代码「{venue}」不存在，请核对场地代码"
        )
        super().__init__("venue-not-found", detail)


class UnknownUser(NotFound):
    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__("user-not-found", f"用户「{username}」不存在")


class UsernameTaken(Conflict):
    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__("username-taken", f"用户名「{username}」已被使用，请换一个用户名")


class AccountUnchanged(Conflict):
    def __init__(self, username: str, *, active: bool) -> None:
        self.username = username
        self.active = active
        if active:
            super().__init__("user-already-active", f"用户「{username}」已是启用状态，无需再启用")
        else:
            super().__init__("user-already-disabled", f"用户「{username}」已是停用状态，无需再停用")


class OwnAccount(Conflict):
    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(
            "own-account", f"不能停用自己的账号「{username}」：请由另一位系统管理员操作"
        )


class SigninLocked(ProblemError):
    """Sign-in refused without checking the password: too many failed attempts (the rule is
    ``throttling.SigninPolicy``). ``retry_after`` (seconds) is in the problem too."""

    status = 429
    title = "尝试过于频繁"

    def __init__(self, until: datetime, now: datetime) -> None:
        self.until = until
        super().__init__(
            "signin-locked",
            f"登录失败次数过多，已暂时锁定：请于 {localtime.format_minutes(until)} 后再试，"
            "或联系系统管理员",
            retry_after=max(1, ceil((until - now).total_seconds())),
        )


class SigninBusy(ProblemError):
    """Too many sign-ins are waiting for their password check: refused at once, not queued."""

    status = 503
    title = "服务暂时繁忙"

    def __init__(self) -> None:
        super().__init__("signin-busy", "登录请求过多，请稍后再试", retry_after=1)


class BadVenueCode(InvalidInput):
    def __init__(self, code: str) -> None:
        self.code_given = code
        super().__init__(
            "bad-venue-code",
            f"场地代码「{code}」不可用：场地代码须以大写字母开头，只含大写字母和数字，"
            "最长 16 个字符（工位标识写作「场地代码.工位编号」）",
        )


class BadExpertCode(InvalidInput):
    def __init__(self, code: str) -> None:
        self.code_given = code
        super().__init__(
            "bad-expert-code",
            f"专家编号「{code}」不可用：专家编号须以字母或数字开头，只含字母、数字和 . _ -，"
            "最长 32 个字符",
        )


class BadRegionCode(InvalidInput):
    def __init__(self, label: str, code: str) -> None:
        self.code_given = code
        super().__init__(
            "bad-region-code",
            f"{label}「{code}」无效：须为 6 位行政区划代码，例如 530100（昆明市）",
        )


class FieldRequired(InvalidInput):
    def __init__(self, label: str) -> None:
        self.label = label
        super().__init__("field-required", f"{label}不能为空")


class FieldTooLong(InvalidInput):
    def __init__(self, label: str, limit: int) -> None:
        self.label = label
        super().__init__("field-too-long", f"{label}太长：最多 {limit} 个字符，请缩短后再提交")


class VenueCodeTaken(Conflict):
    def __init__(self, code: str) -> None:
        self.code_given = code
        super().__init__("venue-code-taken", f"场地代码「{code}」已被使用，请换一个场地代码")


class ExpertCodeTaken(Conflict):
    def __init__(self, code: str) -> None:
        self.code_given = code
        super().__init__("expert-code-taken", f"专家编号「{code}」已在专家库中，请核对专家编号")


class UnknownRegion(InvalidInput):
    def __init__(self, code: str) -> None:
        self.code_given = code
        super().__init__(
            "unknown-region",
            f"行政区划代码「{code}」不在地区配置（configs/regions）中：请核对代码，"
            "或先在地区配置中补充该地区",
        )


class BadCoordinates(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "bad-coordinates",
            "坐标无效：纬度须在 -90 到 90 之间、经度须在 -180 到 180 之间，且两者须同时填写或同时留空",
        )


class BadImport(InvalidInput):
    """A CSV import refused as a whole: ``problems`` names every bad row by line and column."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "bad-import",
            f"{what}导入文件有 {len(problems)} 处错误，未导入任何记录：" + "；".join(problems),
            problems=problems,
        )


class AdministratorExists(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "administrator-exists",
            "系统管理员已存在，不能再次初始化：请由现有系统管理员在「用户管理」中新增账号",
        )
