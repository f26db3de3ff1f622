"""/api/health lists the calendar's coverage warning from 60 days before it ends (fake clock)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import FakeClock


async def test_health_warns_from_sixty_days_before_the_calendar_ends(
    client: TestClient[Any, Any], clock: FakeClock
) -> None:
    clock.now = datetime(2026, 10, 31, 15, 59, tzinfo=UTC)  # 2026-10-31 23:59 Beijing: 61 days
    resp = await client.get("/api/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "warnings": []}
    clock.advance(minutes=1)  # 2026-11-01 00:00 Beijing: 60 days left
    resp = await client.get("/api/health")
    assert await resp.json() == {
        "status": "ok",
        "warnings": [
            {
                "code": "calendar-coverage-ending",
                "detail": "节假日日历只覆盖到 2026-12-31（还剩 60 天），跨入 2027 年的工作日期限"
                "届时将无法计算；请在国务院公布 2027 年节假日安排后，按通知添加 "
                "configs/holidays/2027.yaml",
                "covered_until": "2026-12-31",
                "days_left": 60,
                "file": "configs/holidays/2027.yaml",
            }
        ],
    }
