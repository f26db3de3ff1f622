"""User administration: a system administrator adds, disables, re-enables users and resets
their passwords; every change is on the audit chain (which still verifies), every refusal says
exactly what is wrong and leaves nothing behind, and the password is nowhere but in its hash."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from evaluation_hub.admin.errors import (
    AccountUnchanged,
    BadDisplayName,
    BadUsername,
    OwnAccount,
    PasswordTooLong,
    UnknownRole,
    UnknownUser,
    UnknownVenue,
    UsernameTaken,
    VenueNotAllowed,
    VenueRequired,
    WeakPassword,
)
from evaluation_hub.admin.passwords import verify_password
from evaluation_hub.admin.users import UserAccount, add_user, reset_password, set_active
from evaluation_hub.api.keys import SERVICES
from evaluation_hub.audit.chain import AuditEvent, verify
from evaluation_hub.audit.store import load_chain, load_checkpoints
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import User, Venue
from evaluation_hub.errors import Forbidden, ProblemError
from evaluation_hub.principal import Principal
from tests.conftest import FakeClock
from tests.hub.helpers import login, problem

Client = TestClient[Any, Any]
SYSADMIN = Principal("sysadmin", "system_admin", None)
PASSWORD = "Kunming-2026!"


async def chain(db: Database) -> list[AuditEvent]:
    async with db.read() as s:
        events = await load_chain(s)
        checkpoints = await load_checkpoints(s)
    report = verify(events, checkpoints, Ed25519PrivateKey.generate().public_key())
    assert report.ok, report.summary()
    return events


async def user_count(db: Database) -> int:
    async with db.read() as s:
        return int((await s.execute(select(func.count(User.id)))).scalar_one())


async def sign_in(client: Client, username: str, password: str) -> Any:
    return await client.post("/api/auth/token", json={"username": username, "password": password})


async def test_a_system_administrator_adds_a_user_who_then_signs_in(
    client: Client,
    database: Database,
    seeded: dict[str, Any],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        account = await add_user(
            database,
            SYSADMIN,
            "km_op2",
            "host_operator",
            "KM",
            PASSWORD,
            "主场业务员 王五",
            now=clock(),
        )
    km = seeded["venues"]["KM"]
    assert account == UserAccount(
        id=account.id,
        username="km_op2",
        display_name="主场业务员 王五",
        role="host_operator",
        venue_id=km,
        venue_code="KM",
        venue_name="云南省公共资源交易中心（昆明）",
        active=True,
    )
    assert account.role_name == "主场业务人员"

    [event] = await chain(database)
    assert (event.kind, event.subject, event.actor, event.at) == (
        "admin.user_added",
        "user:km_op2",
        "sysadmin",
        clock(),
    )
    assert event.payload == {
        "user_id": account.id,
        "username": "km_op2",
        "display_name": "主场业务员 王五",
        "role": "host_operator",
        "venue_id": km,
        "venue_code": "KM",
        "active": True,
    }

    # The password is only in its hash: not in the result, the event, the row or a log line.
    async with database.read() as s:
        stored = (await s.execute(select(User).where(User.username == "km_op2"))).scalar_one()
    assert verify_password(PASSWORD, stored.password_hash)
    for text in (repr(account), repr(event), stored.password_hash, repr(logs), caplog.text):
        assert PASSWORD not in text

    resp = await sign_in(client, "km_op2", PASSWORD)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["user"] == {
        "username": "km_op2",
        "display_name": "主场业务员 王五",
        "role": "host_operator",
        "role_name": "主场业务人员",
        "venue_id": km,
    }


async def test_the_venue_is_a_code_or_an_id_and_a_system_administrator_has_none(
    client: Client, database: Database, seeded: dict[str, Any], clock: FakeClock
) -> None:
    dali = seeded["venues"]["DL"]
    # The HTTP shell hands the use cases its Services; the CLI a Database: both work.
    services = client.app[SERVICES]
    supervisor = await add_user(
        services, SYSADMIN, "dl_supervisor2", "supervisor", dali, PASSWORD, now=clock()
    )
    assert (supervisor.venue_id, supervisor.venue_code, supervisor.display_name) == (
        dali,
        "DL",
        "",
    )
    admin = await add_user(
        database, SYSADMIN, "ops.admin-2", "system_admin", None, PASSWORD, "运维", now=clock()
    )
    assert (admin.venue_id, admin.venue_code, admin.venue_name) == (None, None, None)
    assert [(e.kind, e.subject, e.payload["venue_code"]) for e in await chain(database)] == [
        ("admin.user_added", "user:dl_supervisor2", "DL"),
        ("admin.user_added", "user:ops.admin-2", None),
    ]


ROLES_TEXT = (
    "venue_admin（场地管理员）、host_operator（主场业务人员）、supervisor（监督人员）、"
    "system_admin（系统管理员）"
)
REFUSALS: list[tuple[str, dict[str, Any], type[ProblemError], int, str, str]] = [
    (
        "unknown role",
        {"role": "auditor"},
        UnknownRole,
        422,
        "unknown-role",
        f"角色「auditor」不存在，用户角色只能是：{ROLES_TEXT}",
    ),
    (
        "the hub's own role",
        {"role": "system"},
        UnknownRole,
        422,
        "unknown-role",
        f"角色「system」不存在，用户角色只能是：{ROLES_TEXT}",
    ),
    (
        "unknown venue code",
        {"venue": "XX"},
        UnknownVenue,
        404,
        "venue-not-found",
        "场地代码「XX」不存在，请核对场地代码",
    ),
    (
        "unknown venue id",
        {"venue": 9999},
        UnknownVenue,
        404,
        "venue-not-found",
        "场地 #9999 不存在",
    ),
    (
        "duplicate username",
        {"username": "km_operator"},
        UsernameTaken,
        409,
        "username-taken",
        "用户名「km_operator」已被使用，请换一个用户名",
    ),
    (
        "username with a space",
        {"username": "km op"},
        BadUsername,
        422,
        "bad-username",
        "用户名「km op」不可用：用户名须以字母或数字开头，只含字母、数字和 . _ -，最长 64 个字符",
    ),
    (
        "empty username",
        {"username": ""},
        BadUsername,
        422,
        "bad-username",
        "用户名「」不可用：用户名须以字母或数字开头，只含字母、数字和 . _ -，最长 64 个字符",
    ),
    (
        "username too long",
        {"username": "a" * 65},
        BadUsername,
        422,
        "bad-username",
        f"用户名「{'a' * 65}」不可用：用户名须以字母或数字开头，只含字母、数字和 . _ -，"
        "最长 64 个字符",
    ),
    (
        "short password",
        {"password": "short"},
        WeakPassword,
        422,
        "weak-password",
        "密码太短：至少需要 8 个字符，请换一个更长的密码",
    ),
    (
        "password longer than sign-in takes",
        {"password": "p" * 201},
        PasswordTooLong,
        422,
        "password-too-long",
        "密码太长：最多 200 个字符（登录时无法输入更长的密码）",
    ),
    (
        "display name too long",
        {"display_name": "名" * 101},
        BadDisplayName,
        422,
        "bad-display-name",
        "显示名称太长：最多 100 个字符，请缩短后再提交",
    ),
    (
        "venue role without a venue",
        {"role": "supervisor", "venue": None},
        VenueRequired,
        422,
        "venue-required",
        "监督人员必须属于一个场地：请指定其所在场地的代码",
    ),
    (
        "system administrator with a venue",
        {"role": "system_admin", "venue": "KM"},
        VenueNotAllowed,
        422,
        "venue-not-allowed",
        "系统管理员不属于任何场地：请不要为其指定场地",
    ),
]


@pytest.mark.parametrize(
    ("change", "error", "status", "code", "message"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
async def test_add_user_refuses_with_a_message_and_writes_nothing(
    database: Database,
    seeded: dict[str, Any],
    clock: FakeClock,
    change: dict[str, Any],
    error: type[ProblemError],
    status: int,
    code: str,
    message: str,
) -> None:
    before = await user_count(database)
    args: dict[str, Any] = {
        "username": "km_op2",
        "role": "host_operator",
        "venue": "KM",
        "password": PASSWORD,
        "display_name": "",
    } | change
    with pytest.raises(error) as refused:
        await add_user(database, SYSADMIN, now=clock(), **args)
    assert (refused.value.status, refused.value.code, refused.value.detail) == (
        status,
        code,
        message,
    )
    assert await user_count(database) == before
    assert await chain(database) == []


@pytest.mark.parametrize(
    ("actor", "who"),
    [
        (Principal("km_operator", "host_operator", 1), "km_operator（主场业务人员）"),
        (Principal("km_supervisor", "supervisor", 1), "km_supervisor（监督人员）"),
        # A venue admin administers their own venue's accounts only (venue 1 is not DL's).
        (Principal("km_admin", "venue_admin", 1), "km_admin（场地管理员）"),
    ],
)
async def test_only_an_administrator_of_the_venue_administers_its_users(
    database: Database, seeded: dict[str, Any], clock: FakeClock, actor: Principal, who: str
) -> None:
    async with database.read() as s:
        names = dict((await s.execute(select(Venue.code, Venue.name))).tuples().all())
    dali = names["DL"]
    refusal = (
        f"只有场地「{dali}」的管理员或系统管理员可以管理场地「{dali}」的用户账号，"
        f"当前用户 {who}无此权限"
    )
    # The principal is checked first: even a request that would be refused for its role
    # tells a non-administrator only that they may not administer the venue's users.
    for role in ("host_operator", "auditor"):
        with pytest.raises(Forbidden) as refused:
            await add_user(database, actor, "dl_op2", role, "DL", PASSWORD, now=clock())
        assert (refused.value.code, refused.value.detail) == ("not-venue-admin", refusal)
    with pytest.raises(Forbidden) as refused:
        await set_active(database, actor, "dl_admin", False, now=clock())
    assert refused.value.detail == refusal
    with pytest.raises(Forbidden) as refused:
        await reset_password(database, actor, "dl_admin", PASSWORD, now=clock())
    assert refused.value.detail == refusal
    # System administrators' accounts are the system administrators' alone.
    system = f"只有系统管理员可以新增或管理系统管理员账号，当前用户 {who}无此权限"
    for venue in (None, "KM"):
        with pytest.raises(Forbidden) as refused:
            await add_user(database, actor, "root2", "system_admin", venue, PASSWORD, now=clock())
        assert (refused.value.code, refused.value.detail) == ("not-system-admin", system)
    with pytest.raises(Forbidden) as refused:
        await set_active(database, actor, "sysadmin", False, now=clock())
    assert refused.value.detail == system
    assert await chain(database) == []


async def test_a_disabled_user_is_shut_out_at_once_and_can_be_enabled_again(
    client: Client, database: Database, seeded: dict[str, Any], clock: FakeClock
) -> None:
    headers = await login(client, "dl_admin")
    account = await set_active(database, SYSADMIN, "dl_admin", False, now=clock())
    assert (account.username, account.venue_code, account.active) == ("dl_admin", "DL", False)
    # Neither the token issued before nor a new sign-in works.
    got = await problem(await client.get("/api/me", headers=headers), 401)
    assert got["detail"] == "登录凭证无效，请重新登录"
    got = await problem(await sign_in(client, "dl_admin", seeded["password"]), 401)
    assert got["detail"] == "用户名或密码错误"

    with pytest.raises(AccountUnchanged) as refused:
        await set_active(database, SYSADMIN, "dl_admin", False, now=clock())
    assert (refused.value.status, refused.value.code, refused.value.detail) == (
        409,
        "user-already-disabled",
        "用户「dl_admin」已是停用状态，无需再停用",
    )
    clock.advance(minutes=5)
    assert (await set_active(database, SYSADMIN, "dl_admin", True, now=clock())).active
    assert (await sign_in(client, "dl_admin", seeded["password"])).status == 200
    with pytest.raises(AccountUnchanged) as refused:
        await set_active(database, SYSADMIN, "dl_admin", True, now=clock())
    assert (refused.value.code, refused.value.detail) == (
        "user-already-active",
        "用户「dl_admin」已是启用状态，无需再启用",
    )
    with pytest.raises(OwnAccount) as refused:
        await set_active(database, SYSADMIN, "sysadmin", False, now=clock())
    assert (refused.value.status, refused.value.code, refused.value.detail) == (
        409,
        "own-account",
        "不能停用自己的账号「sysadmin」：请由另一位系统管理员操作",
    )
    with pytest.raises(UnknownUser) as refused:
        await set_active(database, SYSADMIN, "nobody", False, now=clock())
    assert (refused.value.status, refused.value.code, refused.value.detail) == (
        404,
        "user-not-found",
        "用户「nobody」不存在",
    )

    events = await chain(database)
    assert [(e.kind, e.subject, e.actor, e.payload) for e in events] == [
        (
            "admin.user_disabled",
            "user:dl_admin",
            "sysadmin",
            {"user_id": account.id, "username": "dl_admin"},
        ),
        (
            "admin.user_enabled",
            "user:dl_admin",
            "sysadmin",
            {"user_id": account.id, "username": "dl_admin"},
        ),
    ]
    assert events[1].at == clock()


async def test_a_reset_password_replaces_the_old_one_and_is_audited_without_it(
    client: Client, database: Database, seeded: dict[str, Any], clock: FakeClock
) -> None:
    account = await reset_password(database, SYSADMIN, "km_operator", PASSWORD, now=clock())
    assert (account.username, account.role, account.active) == (
        "km_operator",
        "host_operator",
        True,
    )
    got = await problem(await sign_in(client, "km_operator", seeded["password"]), 401)
    assert got["detail"] == "用户名或密码错误"
    assert (await sign_in(client, "km_operator", PASSWORD)).status == 200

    with pytest.raises(WeakPassword):
        await reset_password(database, SYSADMIN, "km_operator", "1234567", now=clock())
    with pytest.raises(UnknownUser) as refused:
        await reset_password(database, SYSADMIN, "nobody", PASSWORD, now=clock())
    assert refused.value.detail == "用户「nobody」不存在"

    [event] = await chain(database)
    assert (event.kind, event.subject, event.actor, event.payload) == (
        "admin.password_reset",
        "user:km_operator",
        "sysadmin",
        {"user_id": account.id, "username": "km_operator"},
    )
    assert PASSWORD not in repr(event) and seeded["password"] not in repr(event)
