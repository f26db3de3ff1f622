"""Importing the pool and the blacklist into the database: all rows or none, upserts by code
(or by name and employer), one audit event per import with the counts and the file's sha256
(the chain verifies), dry runs write nothing, only the system administrator imports."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from evaluation_hub.audit.chain import AuditEvent, verify
from evaluation_hub.audit.store import load_chain, load_checkpoints
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Expert
from evaluation_hub.errors import Forbidden
from evaluation_hub.pool.blacklist import import_blacklist, list_blacklist
from evaluation_hub.pool.errors import PoolFileInvalid
from evaluation_hub.pool.importing import import_experts, list_pool
from evaluation_hub.pool.recusal import BlacklistEntry, FormerEmployer
from evaluation_hub.principal import Principal
from tests.conftest import FakeClock
from tests.pool.files import GOOD, csv_bytes, xlsx_bytes
from tests.support.services import services_for

SYSADMIN = Principal("sysadmin", "system_admin", None)
BLACKLIST_HEADER = ("专家编号", "姓名", "工作单位", "事由", "截止日期")


async def chain(db: Database) -> list[AuditEvent]:
    async with db.read() as s:
        events = await load_chain(s)
        checkpoints = await load_checkpoints(s)
    report = verify(events, checkpoints, Ed25519PrivateKey.generate().public_key())
    assert report.ok, report.summary()
    return events


async def count_experts(db: Database) -> int:
    async with db.read() as s:
        return int((await s.execute(select(func.count(Expert.id)))).scalar_one())


async def test_an_import_adds_then_updates_and_is_audited_once(
    database: Database, clock: FakeClock
) -> None:
    hub = services_for(database)
    data = xlsx_bytes(GOOD)
    first = await import_experts(hub, SYSADMIN, data, now=clock())
    assert (first.format, first.rows, first.added, first.updated, first.unchanged) == (
        "XLSX",
        2,
        2,
        0,
        0,
    )
    changed = [
        GOOD[0],
        ("E102", "钱文华", "云南省建筑设计院有限公司", "", "530300", "建筑设计", "0871-12345678"),
    ]
    second_data = csv_bytes(changed)
    second = await import_experts(hub, SYSADMIN, second_data, now=clock())
    assert (second.format, second.added, second.updated, second.unchanged) == (
        "CSV (UTF-8)",
        0,
        1,
        1,
    )
    pool = await list_pool(hub, SYSADMIN)
    assert [(e.code, e.employer, e.former_employers, e.specialties, e.phone) for e in pool] == [
        (
            "E101",
            "昆明理工大学",
            (FormerEmployer("云南建工集团有限公司", 2024),),
            ("土木工程", "造价"),
            "13800000001",
        ),
        ("E102", "云南省建筑设计院有限公司", (), ("建筑设计",), "0871-12345678"),
    ]
    events = await chain(database)
    assert [(e.kind, e.subject, e.actor, dict(e.payload)) for e in events] == [
        (
            "pool.experts_imported",
            "pool:experts",
            "sysadmin",
            {
                "sha256": hashlib.sha256(data).hexdigest(),
                "format": "XLSX",
                "rows": 2,
                "added": 2,
                "updated": 0,
                "unchanged": 0,
            },
        ),
        (
            "pool.experts_imported",
            "pool:experts",
            "sysadmin",
            {
                "sha256": hashlib.sha256(second_data).hexdigest(),
                "format": "CSV (UTF-8)",
                "rows": 2,
                "added": 0,
                "updated": 1,
                "unchanged": 1,
            },
        ),
    ]


async def test_one_bad_row_imports_nothing(database: Database, clock: FakeClock) -> None:
    hub = services_for(database)
    rows = [GOOD[0], ("E102", "钱文华", "云南省建筑设计院", "", "530300", "建筑设计", "12")]
    with pytest.raises(PoolFileInvalid) as caught:
        await import_experts(hub, SYSADMIN, csv_bytes(rows), now=clock())
    assert caught.value.status == 422
    assert caught.value.detail == "专家库文件有 1 处问题，未导入任何记录；请全部改正后重新导入"
    assert caught.value.extra["problems"] == [
        {
            "line": 3,
            "column": "手机号码",
            "message": "手机号码「12」无效：须为 11 位手机号码（如 13800000000）或带区号的固定电话（如 0871-12345678）",
        }
    ]
    assert await count_experts(database) == 0
    assert await chain(database) == []


async def test_a_dry_run_counts_and_writes_nothing(database: Database, clock: FakeClock) -> None:
    hub = services_for(database)
    result = await import_experts(hub, SYSADMIN, csv_bytes(GOOD), dry_run=True, now=clock())
    assert (result.dry_run, result.added, result.updated) == (True, 2, 0)
    assert await count_experts(database) == 0
    assert await chain(database) == []


@pytest.mark.parametrize(
    ("role", "role_name"),
    [("host_operator", "主场业务人员"), ("venue_admin", "场地管理员"), ("supervisor", "监督人员")],
)
async def test_only_the_system_administrator_imports(
    database: Database, clock: FakeClock, role: str, role_name: str
) -> None:
    hub = services_for(database)
    who = Principal("someone", role, 1)
    with pytest.raises(Forbidden) as caught:
        await import_experts(hub, who, b"not even read", now=clock())
    assert (
        caught.value.detail
        == f"只有系统管理员可以管理专家库，当前用户 someone（{role_name}）无此权限"
    )
    with pytest.raises(Forbidden):
        await import_blacklist(hub, who, b"not even read", now=clock())


async def test_the_blacklist_imports_by_code_or_name_and_upserts(
    database: Database, clock: FakeClock
) -> None:
    hub = services_for(database)
    rows = [
        ("E9", "", "", "评审中违反纪律", "2027-06-30"),
        ("", "周海燕", "红河学院", "虚假承诺", "2026-12-31"),
    ]
    data = csv_bytes(rows, header=BLACKLIST_HEADER)
    first = await import_blacklist(hub, SYSADMIN, data, now=clock())
    assert (first.added, first.updated, first.unchanged) == (2, 0, 0)
    again = csv_bytes(
        [
            ("E9", "吴振华", "", "评审中违反纪律", "2027-12-31"),
            ("", "周海燕", "红河学院", "虚假承诺", "2026-12-31"),
        ],
        header=BLACKLIST_HEADER,
    )
    second = await import_blacklist(hub, SYSADMIN, again, now=clock())
    assert (second.added, second.updated, second.unchanged) == (0, 1, 1)
    assert await list_blacklist(hub, SYSADMIN) == [
        BlacklistEntry("E9", "吴振华", "", "评审中违反纪律", date(2027, 12, 31)),
        BlacklistEntry("", "周海燕", "红河学院", "虚假承诺", date(2026, 12, 31)),
    ]
    events = await chain(database)
    assert [(e.kind, e.subject, e.payload["sha256"], e.payload["updated"]) for e in events] == [
        ("pool.blacklist_imported", "pool:blacklist", hashlib.sha256(data).hexdigest(), 0),
        ("pool.blacklist_imported", "pool:blacklist", hashlib.sha256(again).hexdigest(), 1),
    ]


BLACKLIST_BAD: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = [
    (
        ("", "", "红河学院", "虚假承诺", "2026-12-31"),
        [{"line": 3, "column": "姓名", "message": "姓名不能为空"}],
    ),
    (
        ("", "周海燕", "", "虚假承诺", "2026-12-31"),
        [{"line": 3, "column": "工作单位", "message": "工作单位不能为空"}],
    ),
    (("E9", "", "", "", "2026-12-31"), [{"line": 3, "column": "事由", "message": "事由不能为空"}]),
    (
        ("E9", "", "", "x", "2026/12/31"),
        [
            {
                "line": 3,
                "column": "截止日期",
                "message": "截止日期「2026/12/31」无效：须为 YYYY-MM-DD 格式的日期，如 2027-06-30",
            }
        ],
    ),
    (
        ("E 9", "", "", "x", "2026-12-31"),
        [
            {
                "line": 3,
                "column": "专家编号",
                "message": "专家编号「E 9」不可用：须以字母或数字开头，只含字母、数字和 . _ -，最长 32 个字符",
            }
        ],
    ),
]


@pytest.mark.parametrize(("row", "problems"), BLACKLIST_BAD)
async def test_every_bad_blacklist_row_is_named_and_nothing_imported(
    database: Database, clock: FakeClock, row: tuple[str, ...], problems: list[dict[str, Any]]
) -> None:
    hub = services_for(database)
    rows = [("E1", "", "", "x", "2027-01-01"), row, ("E1", "", "", "y", "2027-01-01")]
    with pytest.raises(PoolFileInvalid) as caught:
        await import_blacklist(
            hub, SYSADMIN, xlsx_bytes(rows, header=BLACKLIST_HEADER), now=clock()
        )
    duplicate = {"line": 4, "column": "专家编号", "message": "与第 2 行为同一名单项"}
    assert caught.value.extra["problems"] == [*problems, duplicate]
    assert caught.value.detail == "信用黑名单文件有 2 处问题，未导入任何记录；请全部改正后重新导入"
    assert await list_blacklist(hub, SYSADMIN) == []
