"""Sign-in throttling and token revocation against the real app on loopback.

Clients sign in from distinct loopback addresses (127.0.0.x, bound on the client side), so the
per-address rule meets real peer addresses. Limits are small here: 3 wrong passwords for one
user from one address lock that pair, 6 from one address lock the address, 5 for one user
from anywhere lock the user. The rule (``admin.signin``): the right password from another
address is not affected by a pair's lock; a user's lock applies everywhere.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import structlog
from aiohttp.test_utils import TestServer

from evaluation_hub.admin.users import reset_password, set_active
from evaluation_hub.api.app import create_app
from evaluation_hub.api.session_auth import PASSWORD_CHECKS
from evaluation_hub.audit.store import load_chain
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.principal import Principal
from evaluation_hub.throttling import Limit, SigninPolicy
from tests.conftest import FakeClock

SECRET = "s" * 40
SYSADMIN = Principal("sysadmin", "system_admin", None)
WINDOW = timedelta(minutes=15)
POLICY = SigninPolicy(
    per_user_address=Limit(3, WINDOW, timedelta(minutes=15)),
    per_address=Limit(6, WINDOW, timedelta(minutes=30)),
    per_user=Limit(5, WINDOW, timedelta(minutes=15)),
    hash_workers=1,
    max_waiting=16,
)
BAD = "用户名或密码错误"


@dataclass
class Hub:
    server: TestServer
    database: Database
    clock: FakeClock

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"

    async def sign_in(
        self, username: str, password: str, *, source: str = "127.0.0.1"
    ) -> tuple[int, dict[str, Any]]:
        """POST the sign-in from the loopback address ``source``."""
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.post(
                self.url("/api/auth/token"), json={"username": username, "password": password}
            ) as resp,
        ):
            return resp.status, await resp.json(content_type=None)

    async def get(self, path: str, token: str) -> tuple[int, dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.url(path), headers={"Authorization": f"Bearer {token}"}) as resp,
        ):
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def hub(
    database: Database, seeded: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Hub]:
    config = HubConfig(
        database_url=database.url,
        token_secret=SECRET,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_enabled=False,
        signin=POLICY,
        trusted_proxies=("127.0.0.9",),
    )
    app = create_app(config, db=database, clock=clock, sweep=False)
    async with TestServer(app, host="127.0.0.1") as server:
        yield Hub(server, database, clock)


async def _lockouts(database: Database) -> list[tuple[str, str, dict[str, Any]]]:
    async with database.read() as s:
        return [
            (e.subject, e.actor, e.payload)
            for e in await load_chain(s)
            if e.kind == "auth.locked_out"
        ]


def _locked(until: str, retry_after: int) -> dict[str, Any]:
    return {
        "type": "https://evaluation-hub.invalid/problems/signin-locked",
        "title": "尝试过于频繁",
        "status": 429,
        "detail": f"登录失败次数过多，已暂时锁定：请于 {until} 后再试，或联系系统管理员",
        "instance": "/api/auth/token",
        "retry_after": retry_after,
    }


async def test_wrong_passwords_lock_the_user_at_that_address_only(
    hub: Hub, seeded: dict[str, Any]
) -> None:
    password = seeded["password"]
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            assert await hub.sign_in("km_operator", "wrong-1") == (401, _bad())
    # The fourth attempt is refused before the password is looked at, even the right one.
    status, body = await hub.sign_in("km_operator", password)
    assert (status, body) == (429, _locked("2026-11-30 09:15", 900))
    # Its audit event: who, from where, until when.
    assert await _lockouts(hub.database) == [
        (
            "user:km_operator",
            "hub",
            {
                "rule": "user_address",
                "username": "km_operator",
                "address": "127.0.0.1",
                "attempts": 3,
                "window_minutes": 15,
                "locked_until": "2026-11-30T01:15:00+00:00",
                "locked_until_local": "2026-11-30 09:15",
            },
        )
    ]
    # Every failure was logged with username and address, never the password.
    failed = [e for e in logs if e["event"] == "auth.signin_failed"]
    assert [(e["username"], e["address"], e["cause"]) for e in failed] == [
        ("km_operator", "127.0.0.1", "wrong-password")
    ] * 3
    assert "wrong-1" not in repr(logs)
    assert [e["event"] for e in logs if e["log_level"] == "warning"].count("auth.locked_out") == 1

    # The same user at another machine signs in as usual: a guesser cannot lock them out.
    status, body = await hub.sign_in("km_operator", password, source="127.0.0.2")
    assert status == 200, body
    # Another user at the locked machine is not affected either (the address is under its limit).
    assert (await hub.sign_in("dl_admin", password))[0] == 200

    # After the lock, the right password works there again, and the pair starts afresh.
    hub.clock.advance(minutes=15)
    assert (await hub.sign_in("km_operator", password))[0] == 200
    assert await hub.sign_in("km_operator", "wrong-2") == (401, _bad())
    assert (await hub.sign_in("km_operator", password))[0] == 200


def _bad() -> dict[str, Any]:
    return {
        "type": "https://evaluation-hub.invalid/problems/bad-login",
        "title": "未登录或凭证无效",
        "status": 401,
        "detail": BAD,
        "instance": "/api/auth/token",
    }


async def test_guessing_from_many_addresses_locks_the_user_everywhere(
    hub: Hub, seeded: dict[str, Any]
) -> None:
    password = seeded["password"]
    for n, source in enumerate(["127.0.0.3", "127.0.0.3", "127.0.0.4", "127.0.0.5"]):
        assert await hub.sign_in("dl_admin", f"guess-{n}", source=source) == (401, _bad())
    # The fifth failure for dl_admin, from a fourth address, reaches the per-user limit.
    assert await hub.sign_in("dl_admin", "guess-4", source="127.0.0.6") == (401, _bad())
    status, body = await hub.sign_in("dl_admin", password, source="127.0.0.7")
    assert (status, body) == (429, _locked("2026-11-30 09:15", 900))
    [event] = await _lockouts(hub.database)
    assert event[0] == "user:dl_admin" and event[2]["rule"] == "user"
    assert (event[2]["address"], event[2]["attempts"]) == ("127.0.0.6", 5)


async def test_spraying_many_usernames_from_one_address_locks_the_address(
    hub: Hub, seeded: dict[str, Any]
) -> None:
    names = ["km_operator", "dl_admin", "qj_admin", "nobody", "root", "admin"]
    for name in names:  # one guess each: no pair and no user reaches its limit
        assert await hub.sign_in(name, "Passw0rd!", source="127.0.0.8") == (401, _bad())
    status, body = await hub.sign_in("km_supervisor", seeded["password"], source="127.0.0.8")
    assert (status, body) == (429, _locked("2026-11-30 09:30", 1800))
    [event] = await _lockouts(hub.database)
    assert (event[0], event[2]["rule"], event[2]["username"]) == (
        "address:127.0.0.8",
        "address",
        "admin",
    )
    assert (await hub.sign_in("km_supervisor", seeded["password"], source="127.0.0.2"))[0] == 200


async def test_behind_a_trusted_proxy_the_forwarded_address_counts(
    hub: Hub, seeded: dict[str, Any]
) -> None:
    async def via_proxy(forwarded: str, password: str) -> int:
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.9", 0))
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.post(
                hub.url("/api/auth/token"),
                json={"username": "km_operator", "password": password},
                headers={"X-Forwarded-For": forwarded},
            ) as resp,
        ):
            return resp.status

    # A client may put anything first in X-Forwarded-For; the proxy appends the real address.
    for n in range(3):
        assert await via_proxy(f"10.9.9.{n}, 203.0.113.7", "wrong") == 401
    assert await via_proxy("203.0.113.7", seeded["password"]) == 429
    assert await via_proxy("203.0.113.8", seeded["password"]) == 200
    [event] = await _lockouts(hub.database)
    assert event[2]["address"] == "203.0.113.7"
    # An untrusted peer's X-Forwarded-For is ignored: it is judged by its own address.
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.10", 0))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(
            hub.url("/api/auth/token"),
            json={"username": "km_operator", "password": seeded["password"]},
            headers={"X-Forwarded-For": "203.0.113.7"},
        ) as resp,
    ):
        assert resp.status == 200


async def test_sign_out_revokes_the_token_everywhere(hub: Hub, seeded: dict[str, Any]) -> None:
    status, body = await hub.sign_in("km_operator", seeded["password"])
    token = body["token"]
    assert (await hub.get("/api/me", token))[0] == 200
    async with (
        aiohttp.ClientSession() as http,
        http.post(hub.url("/api/auth/logout"), headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        assert r.status == 204
    # A copy of the token kept elsewhere (another tab, a script) is refused from now on.
    status, problem_body = await hub.get("/api/me", token)
    assert (status, problem_body["detail"]) == (
        401,
        "登录已失效（已退出登录、账号已停用或密码已重置），请重新登录",
    )
    # Signing in again gives a new token that works.
    _, again = await hub.sign_in("km_operator", seeded["password"])
    assert (await hub.get("/api/me", again["token"]))[0] == 200


async def test_disabling_a_user_or_resetting_the_password_ends_their_tokens(
    hub: Hub, seeded: dict[str, Any]
) -> None:
    password = seeded["password"]
    _, before = await hub.sign_in("dl_admin", password)
    await set_active(hub.database, SYSADMIN, "dl_admin", False, now=hub.clock())
    await set_active(hub.database, SYSADMIN, "dl_admin", True, now=hub.clock())
    # Enabled again, the user signs in afresh; the token from before the disabling stays dead.
    status, body = await hub.get("/api/me", before["token"])
    assert (status, body["detail"]) == (
        401,
        "登录已失效（已退出登录、账号已停用或密码已重置），请重新登录",
    )
    _, fresh = await hub.sign_in("dl_admin", password)
    assert (await hub.get("/api/me", fresh["token"]))[0] == 200

    await reset_password(hub.database, SYSADMIN, "dl_admin", "New-pass-2026", now=hub.clock())
    status, body = await hub.get("/api/me", fresh["token"])
    assert (status, body["detail"]) == (
        401,
        "登录已失效（已退出登录、账号已停用或密码已重置），请重新登录",
    )
    _, renewed = await hub.sign_in("dl_admin", "New-pass-2026")
    assert (await hub.get("/api/me", renewed["token"]))[0] == 200


def _forged(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


async def test_a_token_living_past_the_maximum_lifetime_is_refused(
    hub: Hub, seeded: dict[str, Any]
) -> None:
    _, body = await hub.sign_in("km_operator", seeded["password"])
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"], options={"verify_exp": False})
    now = int(hub.clock().timestamp())
    # Signed with the hub's own secret, claiming to expire in 2100: refused all the same.
    in_2100 = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())
    status, problem_body = await hub.get("/api/me", _forged({**claims, "exp": in_2100}))
    assert (status, problem_body["detail"]) == (401, "登录凭证的有效期超过系统上限，请重新登录")
    assert problem_body["type"].endswith("/token-lifetime")
    # An old token whose exp was stretched to stay inside the limit still ages out: 12 hours
    # after it was issued it is refused, whatever exp says.
    stretched = _forged({**claims, "iat": now, "exp": now + 12 * 3600})
    assert (await hub.get("/api/me", stretched))[0] == 200
    hub.clock.advance(hours=12)
    status, problem_body = await hub.get("/api/me", stretched)
    assert (status, problem_body["detail"]) == (401, "登录已过期，请重新登录")
    # Malformed time claims are refused as invalid, never a 500.
    for bad in ({"exp": "2100"}, {"exp": True}, {"iat": 1e300}, {"ver": "0"}, {"jti": ""}):
        status, problem_body = await hub.get("/api/me", _forged({**claims, **bad}))
        assert (status, problem_body["detail"]) == (401, "登录凭证无效，请重新登录"), bad


async def test_password_checks_leave_the_event_loop_free_and_a_full_queue_answers_busy(
    hub: Hub, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password check that never ends (held here on purpose) does not hold up the hub: other
    requests are answered while it runs in its thread. With the one thread busy and the queue
    full (16 waiting), the next sign-in is answered 503 at once instead of queueing."""
    from evaluation_hub.admin import signin

    release = threading.Event()
    started = threading.Event()

    def held(password: str, stored: str) -> bool:
        started.set()
        release.wait(30)
        return False

    monkeypatch.setattr(signin, "verify_password", held)
    first = asyncio.create_task(hub.sign_in("km_operator", "wrong", source="127.0.2.1"))
    await asyncio.to_thread(started.wait, 30)
    async with aiohttp.ClientSession() as http, http.get(hub.url("/api/health")) as resp:
        assert resp.status == 200
    waiting = [
        asyncio.create_task(hub.sign_in("nobody", "wrong", source=f"127.0.2.{n + 2}"))
        for n in range(16)
    ]
    checks = hub.server.app[PASSWORD_CHECKS]
    for _ in range(1000):
        if checks.taken == 17:
            break
        await asyncio.sleep(0.01)
    assert checks.taken == 17
    status, body = await hub.sign_in("dl_admin", seeded["password"], source="127.0.3.1")
    assert (status, body["detail"], body["retry_after"]) == (503, "登录请求过多，请稍后再试", 1)
    assert not first.done()
    release.set()
    assert (await first)[0] == 401
    assert [(await w)[0] for w in waiting] == [401] * 16
    assert checks.taken == 0


async def test_a_lock_made_through_one_hub_process_holds_in_another(
    hub: Hub, seeded: dict[str, Any], tmp_path: Path
) -> None:
    for _ in range(3):
        assert (await hub.sign_in("km_operator", "wrong"))[0] == 401
    # A second hub process on the same database (as behind a load balancer) knows nothing of
    # the lock in its memory, and finds it in the database.
    config = HubConfig(
        database_url=hub.database.url,
        token_secret=SECRET,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_enabled=False,
        signin=POLICY,
    )
    other = create_app(config, db=hub.database, clock=hub.clock, sweep=False)
    async with TestServer(other, host="127.0.0.1") as server:
        second = Hub(server, hub.database, hub.clock)
        status, body = await second.sign_in("km_operator", seeded["password"])
        assert (status, body) == (429, _locked("2026-11-30 09:15", 900))
        assert (await second.sign_in("km_operator", seeded["password"], source="127.0.0.2"))[
            0
        ] == 200
