"""The booking API end to end over HTTP, on SQLite and on PostgreSQL, with exact messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from evaluation_hub.api.auth import PAGE_HEADER
from evaluation_hub.booking import answers, reading
from evaluation_hub.booking.records import BookingRecord
from evaluation_hub.db.engine import Database
from evaluation_hub.principal import Principal
from tests.conftest import FakeClock
from tests.hub.helpers import login, problem, services_for

Client = TestClient[Any, Any]
# Reads every booking whole, wherever it is and whatever was drawn.
SYSADMIN = Principal("sysadmin", "system_admin", None)


async def _request(
    client: Client, headers: dict[str, str], ids: dict[str, Any], **body: Any
) -> Any:
    payload = {"session_id": ids["session"], "venue_id": ids["venues"]["DL"], "seat_count": 2}
    payload.update(body)
    return await client.post("/api/bookings", json=payload, headers=headers)


async def _count_bookings(database: Database) -> int:
    hub = services_for(database)
    return len(await reading.list_bookings(hub, SYSADMIN, now=datetime.now(UTC)))


async def _booking(database: Database, booking_id: int) -> BookingRecord:
    hub = services_for(database)
    return await reading.get_booking(hub, SYSADMIN, booking_id, now=datetime.now(UTC))


async def test_request_confirm_cancel_rebook(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    host = await login(client, "km_operator")
    dali = await login(client, "dl_admin")
    seats = seeded["seats"]
    resp = await _request(client, host, seeded, seat_ids=[seats["DL-01"], seats["DL-02"]])
    assert resp.status == 201, await resp.text()
    booking = await resp.json()
    assert booking["state"] == "requested"
    assert [s["label"] for s in booking["seats"]] == ["DL-01", "DL-02"]
    assert booking["expires_at"] == "2026-12-01T01:00:00+00:00"  # the window start caps the TTL
    assert booking["events"][0]["to_state"] == "requested"
    assert booking["events"][0]["actor"] == "km_operator"

    # A second request for one of those seats in the same window names the holder.
    resp = await _request(client, host, seeded, seat_count=1, seat_ids=[seats["DL-02"]])
    body = await problem(resp, 409)
    assert (
        body["detail"]
        == f"工位 DL-02（#{seats['DL-02']}）在 2026-12-01 09:00–17:30 已被预约 #{booking['id']} 占用"
    )
    assert body["conflicting_booking_id"] == booking["id"]

    resp = await client.post(f"/api/bookings/{booking['id']}/confirm", json={}, headers=dali)
    assert resp.status == 200, await resp.text()
    confirmed = await resp.json()
    assert confirmed["state"] == "confirmed"
    assert [e["actor"] for e in confirmed["events"]] == ["km_operator", "dl_admin"]

    resp = await client.post(f"/api/bookings/{booking['id']}/confirm", json={}, headers=dali)
    assert (await problem(resp, 409))["detail"] == (
        f"预约 #{booking['id']} 当前状态为「已确认」，只有「待确认」的预约可以确认"
    )

    resp = await client.post(f"/api/bookings/{booking['id']}/cancel", json={}, headers=host)
    assert (await problem(resp, 422))["detail"] == "缺少字段 reason"
    resp = await client.post(
        f"/api/bookings/{booking['id']}/cancel", json={"reason": "  "}, headers=host
    )
    assert (await problem(resp, 422))["detail"] == "字段 reason 不能为空"

    resp = await client.post(
        f"/api/bookings/{booking['id']}/cancel", json={"reason": "项目延期"}, headers=host
    )
    assert resp.status == 200
    cancelled = await resp.json()
    assert cancelled["state"] == "cancelled"
    assert cancelled["reason"] == "项目延期"
    assert cancelled["events"][-1] == {
        "from_state": "confirmed",
        "to_state": "cancelled",
        "actor": "km_operator",
        "at": clock().isoformat(),
        "reason": "项目延期",
    }
    # The seats are free again.
    resp = await _request(client, host, seeded, seat_ids=[seats["DL-01"], seats["DL-02"]])
    assert resp.status == 201, await resp.text()


async def test_confirmation_assigns_exactly_the_requested_seats(
    client: Client, seeded: dict[str, Any]
) -> None:
    host = await login(client, "km_operator")
    honghe = await login(client, "hh_admin")
    seats = seeded["seats"]
    resp = await _request(client, host, seeded, venue_id=seeded["venues"]["HH"], seat_count=2)
    booking = await resp.json()
    url = f"/api/bookings/{booking['id']}/confirm"

    resp = await client.post(url, json={}, headers=honghe)
    assert (await problem(resp, 422))["detail"] == (
        f"预约 #{booking['id']} 申请了 2 个工位，确认时必须指定恰好 2 个不同的工位，实际指定了 0 个"
    )
    resp = await client.post(url, json={"seat_ids": [seats["HH-01"]]}, headers=honghe)
    assert (await problem(resp, 422))["detail"] == (
        f"预约 #{booking['id']} 申请了 2 个工位，确认时必须指定恰好 2 个不同的工位，实际指定了 1 个"
    )
    resp = await client.post(
        url, json={"seat_ids": [seats["HH-01"], seats["HH-01"]]}, headers=honghe
    )
    assert (await problem(resp, 422))[
        "detail"
    ] == f"确认的工位不能重复：工位 #{seats['HH-01']} 出现了多次"
    resp = await client.post(
        url, json={"seat_ids": [seats["HH-01"], seats["DL-01"]]}, headers=honghe
    )
    assert (await problem(resp, 422))[
        "detail"
    ] == f"工位 #{seats['DL-01']} 不属于场地「红河州公共资源交易中心」"
    resp = await client.post(
        url, json={"seat_ids": [seats["HH-01"], seats["HH-06"]]}, headers=honghe
    )
    assert (await problem(resp, 409))["detail"] == (
        f"工位 HH-06（#{seats['HH-06']}）未开放共享或不在可用状态，不能预约"
    )
    resp = await client.post(url, json={"seat_ids": [seats["HH-01"], 99999]}, headers=honghe)
    assert (await problem(resp, 404))["detail"] == "工位 #99999 不存在"

    resp = await client.post(
        url, json={"seat_ids": [seats["HH-03"], seats["HH-01"]]}, headers=honghe
    )
    assert resp.status == 200, await resp.text()
    assert [s["label"] for s in (await resp.json())["seats"]] == ["HH-01", "HH-03"]


async def test_admin_of_another_venue_is_refused(
    client: Client, seeded: dict[str, Any], database: Database
) -> None:
    host = await login(client, "km_operator")
    honghe = await login(client, "hh_admin")
    resp = await _request(
        client, host, seeded, seat_ids=[seeded["seats"]["DL-01"], seeded["seats"]["DL-02"]]
    )
    booking = await resp.json()
    before = await _booking(database, booking["id"])

    resp = await client.post(f"/api/bookings/{booking['id']}/confirm", json={}, headers=honghe)
    assert (await problem(resp, 403))["detail"] == (
        "只有场地「大理州公共资源交易中心」的管理员可以处理发往场地「大理州公共资源交易中心」的预约，当前用户 hh_admin（场地管理员）无此权限"
    )
    resp = await client.post(f"/api/bookings/{booking['id']}/reject", json={}, headers=honghe)
    await problem(resp, 403)
    resp = await client.get(f"/api/bookings/{booking['id']}", headers=honghe)
    assert (await problem(resp, 403))["detail"] == (
        "只有预约所在场地或主办该评标会的场地人员可以查看该预约，当前用户 hh_admin（场地管理员）无此权限"
    )
    # A venue admin is not the host: they cannot request bookings for the session.
    resp = await _request(client, honghe, seeded, seat_count=1)
    assert (await problem(resp, 403))["detail"] == (
        f"只有主场「云南省公共资源交易中心（昆明）」的业务人员可以为评标会 #{seeded['session']} 预约工位，当前用户 hh_admin（场地管理员）无此权限"
    )
    # Other venues' bookings do not appear in their list.
    resp = await client.get("/api/bookings", headers=honghe)
    assert await resp.json() == []
    after = await _booking(database, booking["id"])
    assert (after.state, len(after.events)) == (before.state, len(before.events))


async def test_reject_and_only_pending_can_be_rejected(
    client: Client, seeded: dict[str, Any]
) -> None:
    host = await login(client, "km_operator")
    dali = await login(client, "dl_admin")
    resp = await _request(client, host, seeded, seat_count=1, seat_ids=[seeded["seats"]["DL-03"]])
    booking = await resp.json()
    resp = await client.post(
        f"/api/bookings/{booking['id']}/reject", json={"reason": "当日场地检修"}, headers=dali
    )
    rejected = await resp.json()
    assert (rejected["state"], rejected["reason"]) == ("rejected", "当日场地检修")
    resp = await client.post(f"/api/bookings/{booking['id']}/reject", json={}, headers=dali)
    assert (await problem(resp, 409))["detail"] == (
        f"预约 #{booking['id']} 当前状态为「已拒绝」，只有「待确认」的预约可以拒绝"
    )
    resp = await client.post(
        f"/api/bookings/{booking['id']}/cancel", json={"reason": "x"}, headers=host
    )
    assert (await problem(resp, 409))["detail"] == (
        f"预约 #{booking['id']} 当前状态为「已拒绝」，只有「已确认」的预约可以取消"
    )


async def test_unconfirmed_requests_expire(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    host = await login(client, "km_operator")
    dali = await login(client, "dl_admin")
    seat = seeded["seats"]["DL-04"]
    resp = await _request(client, host, seeded, seat_count=1, seat_ids=[seat])
    booking = await resp.json()
    clock.advance(hours=24)  # past the window start, which caps the request's life
    dali = await login(client, "dl_admin")  # the earlier sign-in has lapsed too
    # Before the sweeper runs, a lapsed request still cannot be confirmed.
    resp = await client.post(f"/api/bookings/{booking['id']}/confirm", json={}, headers=dali)
    assert (await problem(resp, 409))["detail"] == (
        f"预约 #{booking['id']} 已于 2026-12-01 09:00 超时失效，请主场重新提交预约申请"
    )
    hub = services_for(database)
    assert await answers.expire_due(hub, now=clock()) == [booking["id"]]
    assert await answers.expire_due(hub, now=clock()) == []
    expired = await _booking(database, booking["id"])
    assert expired.state == "expired"
    assert expired.events[-1].actor == "system"
    assert [h.live for h in expired.seats] == [False]


async def test_change_links_to_the_booking_it_replaces(
    client: Client, seeded: dict[str, Any]
) -> None:
    host = await login(client, "km_operator")
    qujing = await login(client, "qj_admin")
    seats = seeded["seats"]
    resp = await _request(
        client,
        host,
        seeded,
        venue_id=seeded["venues"]["QJ"],
        seat_count=1,
        seat_ids=[seats["QJ-01"]],
    )
    booking = await resp.json()
    resp = await client.post(
        f"/api/bookings/{booking['id']}/change",
        json={"reason": "加一名专家", "seat_count": 2},
        headers=host,
    )
    assert (await problem(resp, 409))["detail"] == (
        f"预约 #{booking['id']} 当前状态为「待确认」，只有「已确认」的预约可以变更"
    )
    await client.post(f"/api/bookings/{booking['id']}/confirm", json={}, headers=qujing)
    resp = await client.post(
        f"/api/bookings/{booking['id']}/change",
        json={
            "reason": "加一名专家",
            "seat_count": 2,
            "seat_ids": [seats["QJ-01"], seats["QJ-02"]],
        },
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    new = await resp.json()
    assert (new["state"], new["replaces_id"], new["seat_count"]) == ("requested", booking["id"], 2)
    old = await (await client.get(f"/api/bookings/{booking['id']}", headers=host)).json()
    assert (old["state"], old["reason"]) == ("changed", "加一名专家")


async def test_bad_input_is_refused_and_changes_nothing(
    client: Client, seeded: dict[str, Any], database: Database
) -> None:
    host = await login(client, "km_operator")
    before = await _count_bookings(database)
    cases: list[tuple[Any, int, str]] = [
        (b"{not json", 422, "请求体不是合法的 JSON"),
        (b"[1, 2]", 422, "请求体必须是 JSON 对象"),
        (b'{"session_id": 1}', 422, "缺少字段 venue_id；缺少字段 seat_count"),
        (
            b'{"session_id": "1", "venue_id": 2, "seat_count": true}',
            422,
            "字段 session_id 必须是整数；字段 seat_count 必须是整数",
        ),
        (b'{"session_id": 1, "venue_id": 2, "seat_count": 0}', 422, "字段 seat_count 不能小于 1"),
        (
            b'{"session_id": 1, "venue_id": 2, "seat_count": 1, "seat_ids": [1, "x"]}',
            422,
            "字段 seat_ids[1] 必须是整数",
        ),
        (
            b'{"session_id": 1, "venue_id": 2, "seat_count": 1, "colour": "red"}',
            422,
            "不支持的字段：colour",
        ),
        (b'{"session_id": 99, "venue_id": 2, "seat_count": 1}', 404, "评标会 #99 不存在"),
        (b'{"session_id": 1, "venue_id": 99, "seat_count": 1}', 404, "场地 #99 不存在"),
    ]
    for raw, status, detail in cases:
        resp = await client.post(
            "/api/bookings", data=raw, headers={**host, "Content-Type": "application/json"}
        )
        assert (await problem(resp, status))["detail"] == detail, raw
    resp = await client.post(
        "/api/bookings", data=b"x" * 70_000, headers={**host, "Content-Type": "application/json"}
    )
    assert (await problem(resp, 413))["detail"] == "请求体超过 65536 字节上限"
    resp = await client.post("/api/bookings/999/confirm", json={}, headers=host)
    assert (await problem(resp, 404))["detail"] == "预约 #999 不存在"
    resp = await client.post("/api/bookings/abc/confirm", json={}, headers=host)
    assert (await problem(resp, 404))["detail"] == "请求的地址不存在"
    resp = await client.delete("/api/bookings", headers=host)
    assert (await problem(resp, 405))["detail"] == "该地址不支持此请求方法"
    resp = await client.get("/api/nothing-here", headers=host)
    await problem(resp, 404)
    assert await _count_bookings(database) == before


async def test_seat_directory_filters(client: Client, seeded: dict[str, Any]) -> None:
    host = await login(client, "km_operator")
    dali = await login(client, "dl_admin")
    seats = seeded["seats"]

    async def labels(query: str) -> list[str]:
        resp = await client.get(f"/api/seats{query}", headers=host)
        assert resp.status == 200, await resp.text()
        return [s["label"] for s in await resp.json()]

    assert await labels(f"?venue_id={seeded['venues']['DL']}") == [f"DL-0{n}" for n in range(1, 7)]
    assert (await labels("?region=5329")) == [f"DL-0{n}" for n in range(1, 7)]
    assert await labels("?region=5325&capability=dual_screen") == [
        "HH-01",
        "HH-02",
        "HH-04",
        "HH-05",
    ]
    window = "free_from=2026-12-01T12:00:00%2B08:00&free_to=2026-12-01T18:00:00%2B08:00"
    assert await labels(f"?region=5329&{window}") == [f"DL-0{n}" for n in range(1, 6)]
    await _request(client, host, seeded, seat_ids=[seats["DL-01"], seats["DL-02"]])
    assert await labels(f"?region=5329&{window}") == ["DL-03", "DL-04", "DL-05"]
    # Touching windows do not overlap: after the session ends at 17:30 the seats are free.
    later = "free_from=2026-12-01T17:30:00%2B08:00&free_to=2026-12-01T19:00:00%2B08:00"
    assert await labels(f"?region=5329&{later}") == [f"DL-0{n}" for n in range(1, 6)]

    resp = await client.get("/api/seats?capability=hologram", headers=host)
    assert (await problem(resp, 422))["detail"] == (
        "未知的设备能力：hologram（可选：camera, microphone, dual_screen, speaker, id_reader）"
    )
    resp = await client.get("/api/seats?free_from=2026-12-01T12:00:00%2B08:00", headers=host)
    assert (await problem(resp, 422))["detail"] == "查询空闲工位时必须同时给出 free_from 和 free_to"
    resp = await client.get("/api/seats?free_from=yesterday&free_to=today", headers=host)
    assert (await problem(resp, 422))["detail"] == (
        "查询参数 free_from 必须是带时区的 ISO 8601 时间，例如 2026-12-01T09:00:00+08:00"
    )

    # Publishing and withdrawing a seat is the venue admin's alone.
    resp = await client.post(
        f"/api/venues/{seeded['venues']['DL']}/seats",
        json={"label": "DL-07", "room": "远程评标室 B", "capabilities": ["camera", "microphone"]},
        headers=dali,
    )
    assert resp.status == 201, await resp.text()
    new_seat = await resp.json()
    resp = await client.post(
        f"/api/venues/{seeded['venues']['DL']}/seats", json={"label": "DL-07"}, headers=dali
    )
    assert (await problem(resp, 409))[
        "detail"
    ] == "场地「大理州公共资源交易中心」已有编号为 DL-07 的工位"
    resp = await client.post(
        f"/api/venues/{seeded['venues']['DL']}/seats", json={"label": "DL-08"}, headers=host
    )
    await problem(resp, 403)
    resp = await client.patch(f"/api/seats/{new_seat['id']}", json={"shared": False}, headers=dali)
    assert (await resp.json())["shared"] is False
    assert "DL-07" not in await labels("?region=5329")
    resp = await client.patch(
        f"/api/seats/{new_seat['id']}", json={"status": "broken"}, headers=dali
    )
    assert (await problem(resp, 422))[
        "detail"
    ] == "字段 status 必须是 available、maintenance、retired 之一"


async def test_credentials(client: Client, seeded: dict[str, Any], clock: FakeClock) -> None:
    resp = await client.get("/api/bookings")
    assert (await problem(resp, 401))["detail"] == "未登录：请先登录后再操作"
    resp = await client.get("/api/bookings", headers={"Authorization": "Basic abc"})
    assert (await problem(resp, 401))["detail"] == "Authorization 头格式应为：Bearer <令牌>"
    resp = await client.get("/api/bookings", headers={"Authorization": "Bearer not.a.token"})
    assert (await problem(resp, 401))["detail"] == "登录凭证无效，请重新登录"
    host = await login(client, "km_operator")
    header, payload, signature = host["Authorization"].removeprefix("Bearer ").split(".")
    forged = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    resp = await client.get("/api/bookings", headers={"Authorization": f"Bearer {forged}"})
    assert (await problem(resp, 401))["detail"] == "登录凭证无效，请重新登录"
    resp = await client.post(
        "/api/auth/token", json={"username": "km_operator", "password": "wrong"}
    )
    assert (await problem(resp, 401))["detail"] == "用户名或密码错误"
    resp = await client.post(
        "/api/auth/token", json={"username": "nobody", "password": "demo-2026"}
    )
    assert (await problem(resp, 401))["detail"] == "用户名或密码错误"
    resp = await client.get("/api/bookings", headers=host)
    assert resp.status == 200
    clock.advance(hours=8)
    resp = await client.get("/api/bookings", headers=host)
    assert (await problem(resp, 401))["detail"] == "登录已过期，请重新登录"


async def test_cookie_sign_in_and_out(client: Client, seeded: dict[str, Any]) -> None:
    resp = await client.post(
        "/api/auth/token", json={"username": "dl_admin", "password": "demo-2026"}
    )
    assert resp.status == 200
    cookie = resp.cookies["evalhub_token"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    resp = await client.get("/api/me")
    assert (await resp.json())["role_name"] == "场地管理员"
    # Signing out is a cookie-signed write: it comes from the hub's pages (their header).
    resp = await client.post("/api/auth/logout", headers={PAGE_HEADER: "page"})
    assert resp.status == 204
    resp = await client.get("/api/me")
    await problem(resp, 401)


async def test_every_booking_change_is_on_the_audit_chain(
    client: Client, seeded: dict[str, Any], database: Database
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from evaluation_hub.audit.chain import verify
    from evaluation_hub.audit.store import load_chain, load_checkpoints

    host = await login(client, "km_operator")
    dali = await login(client, "dl_admin")
    seats = seeded["seats"]
    booking = await (
        await _request(client, host, seeded, seat_ids=[seats["DL-01"], seats["DL-02"]])
    ).json()
    await client.post(f"/api/bookings/{booking['id']}/confirm", json={}, headers=dali)
    await client.post(
        f"/api/bookings/{booking['id']}/cancel", json={"reason": "项目延期"}, headers=host
    )
    # A refused request leaves no trace on the chain.
    await _request(client, host, seeded, seat_ids=[seats["DL-01"], 99999])
    async with database.read() as s:
        events = await load_chain(s)
        checkpoints = await load_checkpoints(s)
    assert [(e.kind, e.subject, e.actor) for e in events] == [
        ("booking.requested", f"booking:{booking['id']}", "km_operator"),
        ("booking.confirmed", f"booking:{booking['id']}", "dl_admin"),
        ("booking.cancelled", f"booking:{booking['id']}", "km_operator"),
    ]
    assert events[2].payload["reason"] == "项目延期"
    report = verify(events, checkpoints, Ed25519PrivateKey.generate().public_key())
    assert report.problem is None
    assert report.events == 3


async def test_publishing_and_changing_a_seat_is_audited(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    from evaluation_hub.audit.store import load_chain

    dali = await login(client, "dl_admin")
    root = await login(client, "sysadmin")
    resp = await client.post(
        f"/api/venues/{seeded['venues']['DL']}/seats",
        json={"label": "DL-07", "room": "远程评标室 B", "capabilities": ["microphone", "camera"]},
        headers=dali,
    )
    seat = await resp.json()
    # The system administrator administers every venue's seats, as their admin would.
    resp = await client.patch(
        f"/api/seats/{seat['id']}", json={"shared": False, "room": "远程评标室 B"}, headers=root
    )
    assert (await resp.json())["shared"] is False
    # A change that changes nothing leaves nothing on the chain.
    resp = await client.patch(f"/api/seats/{seat['id']}", json={"shared": False}, headers=dali)
    assert resp.status == 200, await resp.text()
    async with database.read() as s:
        events = [e for e in await load_chain(s) if e.kind.startswith("directory.")]
    assert [(e.kind, e.subject, e.actor, e.payload) for e in events] == [
        (
            "directory.seat_created",
            f"seat:{seat['id']}",
            "dl_admin",
            {
                "venue": "DL",
                "label": "DL-07",
                "room": "远程评标室 B",
                "capabilities": ["camera", "microphone"],
                "status": "available",
                "shared": True,
            },
        ),
        (
            "directory.seat_changed",
            f"seat:{seat['id']}",
            "sysadmin",
            {"venue": "DL", "changed": {"shared": {"from": True, "to": False}}},
        ),
    ]
    assert all(e.at == clock() for e in events)


async def test_the_system_administrator_answers_for_any_venue_but_requests_for_no_host(
    client: Client, seeded: dict[str, Any]
) -> None:
    """三员分立: the system administrator administers every venue's bookings, and books no
    seats for a session (host business)."""
    host = await login(client, "km_operator")
    root = await login(client, "sysadmin")
    seats = seeded["seats"]
    resp = await _request(client, root, seeded, seat_count=1)
    assert (await problem(resp, 403))["detail"] == (
        f"只有主场「云南省公共资源交易中心（昆明）」的业务人员可以为评标会 #{seeded['session']} "
        "预约工位，当前用户 sysadmin（系统管理员）无此权限"
    )
    booking = await (
        await _request(client, host, seeded, seat_ids=[seats["DL-01"], seats["DL-02"]])
    ).json()
    resp = await client.post(
        f"/api/bookings/{booking['id']}/change", json={"reason": "x"}, headers=root
    )
    assert (await problem(resp, 403))["detail"] == (
        f"只有主场「云南省公共资源交易中心（昆明）」的业务人员可以为评标会 #{seeded['session']} "
        "预约工位，当前用户 sysadmin（系统管理员）无此权限"
    )
    resp = await client.post(f"/api/bookings/{booking['id']}/confirm", json={}, headers=root)
    assert resp.status == 200, await resp.text()
    confirmed = await resp.json()
    assert [e["actor"] for e in confirmed["events"]] == ["km_operator", "sysadmin"]
    resp = await client.post(
        f"/api/bookings/{booking['id']}/cancel", json={"reason": "场地检修"}, headers=root
    )
    assert (await resp.json())["state"] == "cancelled"
    assert [b["id"] for b in await (await client.get("/api/bookings", headers=root)).json()] == [
        booking["id"]
    ]
    resp = await client.post(
        f"/api/sessions/{seeded['session']}/allocation", json={"policy": "nearest"}, headers=root
    )
    assert (await problem(resp, 403))["detail"] == (
        f"只有主场「云南省公共资源交易中心（昆明）」的业务人员可以为评标会 #{seeded['session']} "
        "预约工位，当前用户 sysadmin（系统管理员）无此权限"
    )
