"""Zero 500s (issue 12, item 7): each request that used to crash the hub is refused with a
problem+json naming what is wrong, and changes nothing. Before issue 12 every one of these was
a 500 (or, for the token, a 500 from ``int("soon")``)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from evaluation_hub.api.schema import INT64_MAX, MAX_DEPTH, MAX_ID, validate
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Seat
from tests.conftest import FakeClock
from tests.hub.helpers import problem
from tests.security.story import SECRET, bearer

Client = TestClient[Any, Any]
JSON = {"Content-Type": "application/json"}


async def _post_raw(client: Client, path: str, raw: str, headers: dict[str, str]) -> Any:
    return await client.post(
        path, data=raw.encode("utf-8", "surrogatepass"), headers={**JSON, **headers}
    )


async def _seat_count(database: Database) -> int:
    async with database.read() as s:
        return int((await s.execute(select(func.count(Seat.id)))).scalar_one())


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 30_000])
async def test_json_nested_too_deep_is_refused(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database, depth: int
) -> None:
    venue = seeded["venues"]["DL"]
    before = await _seat_count(database)
    raw = '{"label": "X-01", "room": ' + "[" * depth + "]" * depth + "}"
    resp = await _post_raw(
        client, f"/api/venues/{venue}/seats", raw, bearer(seeded, "dl_admin", clock())
    )
    body = await problem(resp, 422)
    assert body["detail"] == f"请求体嵌套超过 {MAX_DEPTH} 层"
    assert await _seat_count(database) == before


async def test_nesting_within_the_limit_reaches_validation(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    raw = '{"label": "X-01", "room": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    resp = await _post_raw(
        client,
        f"/api/venues/{seeded['venues']['DL']}/seats",
        raw,
        bearer(seeded, "dl_admin", clock()),
    )
    assert (await problem(resp, 422))["detail"] == "字段 room 必须是字符串"


@pytest.mark.parametrize(
    ("literal", "detail"),
    [
        ("9" * 4_301, "请求体中的整数超出 64 位整数范围"),
        (str(INT64_MAX + 1), "请求体中的整数超出 64 位整数范围"),
        (str(-(2**63) - 1), "请求体中的整数超出 64 位整数范围"),
        ("1e400", "请求体中的数值超出范围"),
        ("NaN", "请求体不是合法的 JSON：不支持 NaN"),
        ("-Infinity", "请求体不是合法的 JSON：不支持 -Infinity"),
    ],
)
async def test_numbers_out_of_range_are_refused(
    client: Client, seeded: dict[str, Any], clock: FakeClock, literal: str, detail: str
) -> None:
    raw = f'{{"session_id": {literal}, "venue_id": 2, "seat_count": 1}}'
    resp = await _post_raw(client, "/api/bookings", raw, bearer(seeded, "km_operator", clock()))
    assert (await problem(resp, 422))["detail"] == detail


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (INT64_MAX, f"字段 session_id 不能大于 {MAX_ID}"),
        (MAX_ID + 1, f"字段 session_id 不能大于 {MAX_ID}"),
        (2**62, f"字段 session_id 不能大于 {MAX_ID}"),
    ],
)
async def test_ids_in_a_body_stay_within_the_databases_range(
    client: Client, seeded: dict[str, Any], clock: FakeClock, value: int, detail: str
) -> None:
    resp = await client.post(
        "/api/bookings",
        json={"session_id": value, "venue_id": 2, "seat_count": 1},
        headers=bearer(seeded, "km_operator", clock()),
    )
    assert (await problem(resp, 422))["detail"] == detail


async def test_the_largest_id_is_looked_up_and_not_found(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    resp = await client.post(
        "/api/bookings",
        json={"session_id": MAX_ID, "venue_id": 2, "seat_count": 1},
        headers=bearer(seeded, "km_operator", clock()),
    )
    assert (await problem(resp, 404))["detail"] == f"评标会 #{MAX_ID} 不存在"


@pytest.mark.parametrize(
    "raw",
    [str(MAX_ID + 1), str(2**63), str(INT64_MAX), "9" * 5_000, "١٢", "1_0", "+1", " 1"],
)
async def test_a_path_id_out_of_range_is_an_address_that_does_not_exist(
    client: Client, seeded: dict[str, Any], clock: FakeClock, raw: str
) -> None:
    headers = bearer(seeded, "km_operator", clock())
    for path in (f"/api/sessions/{raw}", f"/api/bookings/{raw}", f"/api/incidents/{raw}"):
        resp = await client.get(path, headers=headers)
        assert (await problem(resp, 404))["detail"] == "请求的地址不存在", path


@pytest.mark.parametrize("raw", [str(MAX_ID + 1), str(2**63), "9" * 5_000, "x"])
async def test_a_query_id_out_of_range_is_refused(
    client: Client, seeded: dict[str, Any], clock: FakeClock, raw: str
) -> None:
    resp = await client.get(
        f"/api/bookings?session_id={raw}", headers=bearer(seeded, "km_operator", clock())
    )
    assert (await problem(resp, 422))[
        "detail"
    ] == f"查询参数 session_id 必须是不超过 {MAX_ID} 的整数"


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("free_from=9999-12-31T23:00:00%2B08:00&free_to=9999-12-31T23:30:00%2B08:00",
         "查询参数 free_from 必须在 1970 年至 2999 年之间"),
        ("free_from=0001-01-01T00:00:00%2B08:00&free_to=0001-01-01T01:00:00%2B08:00",
         "查询参数 free_from 必须在 1970 年至 2999 年之间"),
    ],
)  # fmt: skip
async def test_times_out_of_the_calendar_are_refused(
    client: Client, seeded: dict[str, Any], clock: FakeClock, query: str, detail: str
) -> None:
    resp = await client.get(f"/api/seats?{query}", headers=bearer(seeded, "km_operator", clock()))
    assert (await problem(resp, 422))["detail"] == detail
    resp = await client.get(
        f"/api/venues/{seeded['venues']['DL']}/timeline?date=9999-12-31",
        headers=bearer(seeded, "dl_admin", clock()),
    )
    assert (await problem(resp, 422))["detail"] == "查询参数 date 必须在 1970 年至 2999 年之间"


async def test_a_time_in_a_body_out_of_the_calendar_is_refused(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    resp = await client.post(
        "/api/sessions",
        json={
            "project_code": "P",
            "project_name": "N",
            "section": "S",
            "starts_at": "9999-12-31T20:00:00+08:00",
            "ends_at": "9999-12-31T22:00:00+08:00",
            "committee_size": 5,
        },
        headers=bearer(seeded, "km_operator", clock()),
    )
    assert (await problem(resp, 422))["errors"] == [
        "字段 starts_at 必须在 1970 年至 2999 年之间",
        "字段 ends_at 必须在 1970 年至 2999 年之间",
    ]


async def test_null_in_a_required_field_is_refused(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    before = await _seat_count(database)
    resp = await client.post(
        f"/api/venues/{seeded['venues']['DL']}/seats",
        json={"label": None},
        headers=bearer(seeded, "dl_admin", clock()),
    )
    assert (await problem(resp, 422))["detail"] == "字段 label 不能为 null"
    resp = await client.post(
        "/api/bookings",
        json={"session_id": seeded["session"], "venue_id": None, "seat_count": None},
        headers=bearer(seeded, "km_operator", clock()),
    )
    assert (await problem(resp, 422))["errors"] == [
        "字段 venue_id 不能为 null",
        "字段 seat_count 不能为 null",
    ]
    assert await _seat_count(database) == before


async def test_null_in_an_optional_field_counts_as_absent(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    resp = await client.post(
        f"/api/venues/{seeded['venues']['DL']}/seats",
        json={"label": "DL-99", "room": None, "capabilities": None, "shared": None},
        headers=bearer(seeded, "dl_admin", clock()),
    )
    assert resp.status == 201, await resp.text()
    seat = await resp.json()
    assert (seat["room"], seat["capabilities"], seat["shared"]) == ("", [], True)


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ('{"label": "\\ud800"}', "字段 label 含有无效的 Unicode 字符（孤立的代理项）"),
        (
            '{"label": "X", "room": "a\\udfffb"}',
            "字段 room 含有无效的 Unicode 字符（孤立的代理项）",
        ),
        ('{"label": "X", "\\ud83d": 1}', "字段名含有无效的 Unicode 字符（孤立的代理项）"),
        ('{"label": "X\\u0000"}', "字段 label 不能包含 NUL 字符"),
    ],
)
async def test_text_the_database_cannot_hold_is_refused(
    client: Client,
    seeded: dict[str, Any],
    clock: FakeClock,
    database: Database,
    raw: str,
    detail: str,
) -> None:
    before = await _seat_count(database)
    resp = await _post_raw(
        client,
        f"/api/venues/{seeded['venues']['DL']}/seats",
        raw,
        bearer(seeded, "dl_admin", clock()),
    )
    assert (await problem(resp, 422))["detail"] == detail
    assert await _seat_count(database) == before


async def test_nul_in_a_query_or_path_is_refused(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    headers = bearer(seeded, "km_operator", clock())
    resp = await client.get("/api/seats?region=53%00", headers=headers)
    assert (await problem(resp, 422))["detail"] == "查询参数不能包含 NUL 字符"
    resp = await client.post(
        f"/api/sessions/{seeded['session']}/committee/members/E0%001/decision",
        json={"decision": "confirmed"},
        headers=headers,
    )
    assert (await problem(resp, 404))["detail"] == "请求的地址不存在"


async def test_a_duplicate_seat_label_is_a_conflict(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    dali, headers = seeded["venues"]["DL"], bearer(seeded, "dl_admin", clock())
    before = await _seat_count(database)
    for label in ("DL-01", " DL-01 ", "DL-01\t"):
        resp = await client.post(
            f"/api/venues/{dali}/seats", json={"label": label}, headers=headers
        )
        assert (await problem(resp, 409))[
            "detail"
        ] == "场地「大理州公共资源交易中心」已有编号为 DL-01 的工位"
    resp = await client.patch(
        f"/api/seats/{seeded['seats']['DL-02']}", json={"label": " DL-01"}, headers=headers
    )
    assert (await problem(resp, 409))[
        "detail"
    ] == "场地「大理州公共资源交易中心」已有编号为 DL-01 的工位"
    assert await _seat_count(database) == before
    # Another venue may use the same label; a seat may keep its own.
    resp = await client.patch(
        f"/api/seats/{seeded['seats']['DL-02']}", json={"label": "DL-02"}, headers=headers
    )
    assert resp.status == 200, await resp.text()


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "2100-01-01", "iat": 0},
        {"exp": "soon", "iat": 0},
        {"exp": None, "iat": 0},
        {"exp": [1], "iat": 0},
        {"exp": True, "iat": 0},
        {"exp": 1e400, "iat": 0},
        {"exp": 4_102_444_800, "iat": "yesterday"},
    ],
)
async def test_a_signed_token_whose_times_are_not_numbers_is_refused(
    client: Client, seeded: dict[str, Any], claims: dict[str, Any]
) -> None:
    payload = {"sub": "km_operator", "role": "host_operator", "venue": 1, **claims}
    token = jwt.encode(payload, SECRET, algorithm="HS256", json_encoder=_Lenient)
    resp = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert (await problem(resp, 401))["detail"] == "登录凭证无效，请重新登录"


async def test_a_signed_token_whose_subject_is_not_a_name_is_refused(
    client: Client, seeded: dict[str, Any]
) -> None:
    token = jwt.encode({"sub": 1, "exp": 4_102_444_800, "iat": 0}, SECRET, algorithm="HS256")
    resp = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert (await problem(resp, 401))["detail"] == "登录凭证无效，请重新登录"


class _Lenient(json.JSONEncoder):
    """Writes ``1e400`` as JSON's ``Infinity``-free large number a forger would send."""

    def iterencode(self, o: Any, _one_shot: bool = False) -> Any:
        text = super().iterencode(o, _one_shot)
        return (part.replace("Infinity", "1e400") for part in text)


async def test_a_wrong_method_is_405_with_allow(client: Client, seeded: dict[str, Any]) -> None:
    resp = await client.put("/api/sessions")
    body = await problem(resp, 405)
    assert body["detail"] == "该地址不支持此请求方法"
    assert set(resp.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}
    resp = await client.delete(f"/api/bookings/{seeded['session']}")
    await problem(resp, 405)
    assert set(resp.headers["Allow"].split(",")) == {"GET", "HEAD"}


async def test_an_expired_token_is_still_told_apart(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    headers = bearer(seeded, "km_operator", clock() - timedelta(days=1))
    resp = await client.get("/api/me", headers=headers)
    assert (await problem(resp, 401))["detail"] == "登录已过期，请重新登录"


def test_only_declared_optional_fields_given_null_count_as_absent() -> None:
    schema = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "room": {"type": "string"},
            "totals": {"type": "object"},
            "rows": {"type": "array", "items": {"type": "object", "properties": {"x": {}}}},
        },
    }
    body = {"name": "a", "room": None, "totals": {"b01": None}, "rows": [{"x": None, "y": None}]}
    assert validate(body, schema) == {"name": "a", "totals": {"b01": None}, "rows": [{"y": None}]}
