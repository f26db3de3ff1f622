"""The directory's venues and the expert pool: a system administrator registers a venue (whose
own admin then publishes its seats) and adds an expert (whom a host operator may then seat on a
committee); each addition is on the audit chain, which still verifies; every refusal says
exactly what is wrong and leaves nothing behind; nobody but a system administrator may."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from evaluation_hub.admin.errors import (
    BadExpertCode,
    BadRegionCode,
    BadVenueCode,
    ExpertCodeTaken,
    FieldRequired,
    FieldTooLong,
    VenueCodeTaken,
)
from evaluation_hub.admin.experts import ExpertDraft, add_expert
from evaluation_hub.admin.venues import VenueDraft, add_venue
from evaluation_hub.audit.chain import AuditEvent, verify
from evaluation_hub.audit.store import load_chain, load_checkpoints
from evaluation_hub.booking.directory import SeatQuery, VenueRecord, create_seat, list_seats
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Expert, Venue
from evaluation_hub.errors import Forbidden, ProblemError
from evaluation_hub.principal import Principal
from evaluation_hub.sessions.records import ExpertRecord
from tests.conftest import FakeClock
from tests.support.services import services_for

SYSADMIN = Principal("sysadmin", "system_admin", None)
KUNMING = VenueDraft(
    code="KM",
    name="云南省公共资源交易中心（昆明）",
    region_code="530100",
    supervising_department="云南省发展和改革委员会",
    contact_name="李明",
    contact_phone="0871-0000001",
)
ZHAO = ExpertDraft(code="E01", name="赵建国", home_region="530100", employer="昆明理工大学")


async def chain(db: Database) -> list[AuditEvent]:
    async with db.read() as s:
        events = await load_chain(s)
        checkpoints = await load_checkpoints(s)
    report = verify(events, checkpoints, Ed25519PrivateKey.generate().public_key())
    assert report.ok, report.summary()
    return events


async def count(db: Database, column: Any) -> int:
    async with db.read() as s:
        return int((await s.execute(select(func.count(column)))).scalar_one())


async def test_a_system_administrator_registers_a_venue_whose_admin_then_publishes_seats(
    database: Database, clock: FakeClock
) -> None:
    venue = await add_venue(database, SYSADMIN, KUNMING, now=clock())
    assert venue == VenueRecord(
        venue.id,
        "KM",
        "云南省公共资源交易中心（昆明）",
        "530100",
        "云南省发展和改革委员会",
        "李明",
        "0871-0000001",
    )
    [event] = await chain(database)
    assert (event.kind, event.subject, event.actor, event.at) == (
        "admin.venue_added",
        "venue:KM",
        "sysadmin",
        clock(),
    )
    assert event.payload == {
        "venue_id": venue.id,
        "code": "KM",
        "name": "云南省公共资源交易中心（昆明）",
        "region_code": "530100",
        "supervising_department": "云南省发展和改革委员会",
        "contact_name": "李明",
        "contact_phone": "0871-0000001",
        "latitude": None,
        "longitude": None,
        "enabled": True,
    }
    hub = services_for(database)
    admin = Principal("km_admin", "venue_admin", venue.id)
    seat = await create_seat(
        hub, admin, venue.id, label="KM-01", room="第一评标室", capabilities=["camera"], now=clock()
    )
    listed = await list_seats(hub, admin, SeatQuery(venue_id=venue.id), now=clock())
    assert [s.id for s in listed] == [seat.id]


async def test_a_venue_is_stored_without_surrounding_blanks(
    database: Database, clock: FakeClock
) -> None:
    venue = await add_venue(
        database,
        SYSADMIN,
        VenueDraft("QJ", " 曲靖市公共资源交易中心 ", "530300", "曲靖市发展和改革委员会 "),
        now=clock(),
    )
    assert (venue.name, venue.supervising_department, venue.contact_name) == (
        "曲靖市公共资源交易中心",
        "曲靖市发展和改革委员会",
        "",
    )


VENUE_REFUSALS: list[tuple[str, dict[str, str], type[ProblemError], int, str, str]] = [
    (
        "lower-case code",
        {"code": "km"},
        BadVenueCode,
        422,
        "bad-venue-code",
        "场地代码「km」不可用：场地代码须以大写字母开头，只含大写字母和数字，最长 16 个字符"
        "（工位标识写作「场地代码.工位编号」）",
    ),
    (
        "a dot in the code",
        {"code": "K.M"},
        BadVenueCode,
        422,
        "bad-venue-code",
        "场地代码「K.M」不可用：场地代码须以大写字母开头，只含大写字母和数字，最长 16 个字符"
        "（工位标识写作「场地代码.工位编号」）",
    ),
    (
        "short region code",
        {"region_code": "5301"},
        BadRegionCode,
        422,
        "bad-region-code",
        "行政区划代码「5301」无效：须为 6 位行政区划代码，例如 530100（昆明市）",
    ),
    ("blank name", {"name": "  "}, FieldRequired, 422, "field-required", "场地名称不能为空"),
    (
        "no supervising department",
        {"supervising_department": ""},
        FieldRequired,
        422,
        "field-required",
        "监督部门不能为空",
    ),
    (
        "long phone",
        {"contact_phone": "0" * 41},
        FieldTooLong,
        422,
        "field-too-long",
        "联系电话太长：最多 40 个字符，请缩短后再提交",
    ),
    (
        "code taken",
        {"name": "另一个昆明中心"},
        VenueCodeTaken,
        409,
        "venue-code-taken",
        "场地代码「KM」已被使用，请换一个场地代码",
    ),
]


@pytest.mark.parametrize(
    ("case", "change", "error", "status", "code", "detail"),
    VENUE_REFUSALS,
    ids=[c[0] for c in VENUE_REFUSALS],
)
async def test_a_venue_refused_says_why_and_adds_nothing(
    database: Database,
    clock: FakeClock,
    case: str,
    change: dict[str, str],
    error: type[ProblemError],
    status: int,
    code: str,
    detail: str,
) -> None:
    await add_venue(database, SYSADMIN, KUNMING, now=clock())
    draft = dataclasses.replace(KUNMING, **change)
    with pytest.raises(error) as refused:
        await add_venue(database, SYSADMIN, draft, now=clock())
    assert (refused.value.status, refused.value.code, refused.value.detail) == (
        status,
        code,
        detail,
    )
    assert await count(database, Venue.id) == 1
    assert len(await chain(database)) == 1


@pytest.mark.parametrize(
    "who",
    [
        Principal("km_admin", "venue_admin", 1),
        Principal("km_operator", "host_operator", 1),
        Principal("km_supervisor", "supervisor", 1),
    ],
    ids=lambda p: p.role,
)
async def test_only_a_system_administrator_registers_venues_and_adds_experts(
    database: Database, clock: FakeClock, who: Principal
) -> None:
    with pytest.raises(Forbidden) as refused:
        await add_venue(database, who, KUNMING, now=clock())
    assert (refused.value.code, refused.value.detail) == (
        "not-system-admin",
        f"只有系统管理员可以登记场地，当前用户 {who.username}（{_role_name(who)}）无此权限",
    )
    with pytest.raises(Forbidden) as refused:
        await add_expert(database, who, ZHAO, now=clock())
    assert (refused.value.code, refused.value.detail) == (
        "not-system-admin",
        f"只有系统管理员可以管理专家库，当前用户 {who.username}（{_role_name(who)}）无此权限",
    )
    assert await count(database, Venue.id) == 0
    assert await count(database, Expert.id) == 0
    assert await chain(database) == []


def _role_name(who: Principal) -> str:
    return {"venue_admin": "场地管理员", "host_operator": "主场业务人员", "supervisor": "监督人员"}[
        who.role
    ]


async def test_a_system_administrator_adds_an_expert_to_the_pool(
    database: Database, clock: FakeClock
) -> None:
    expert = await add_expert(database, SYSADMIN, ZHAO, now=clock())
    assert expert == ExpertRecord(expert.id, "E01", "赵建国", "530100", "昆明理工大学")
    [event] = await chain(database)
    assert (event.kind, event.subject, event.actor, event.at) == (
        "admin.expert_added",
        "expert:E01",
        "sysadmin",
        clock(),
    )
    assert event.payload == {
        "expert_id": expert.id,
        "code": "E01",
        "name": "赵建国",
        "home_region": "530100",
        "employer": "昆明理工大学",
    }


EXPERT_REFUSALS: list[tuple[str, dict[str, str], type[ProblemError], int, str, str]] = [
    (
        "space in the code",
        {"code": "E 01"},
        BadExpertCode,
        422,
        "bad-expert-code",
        "专家编号「E 01」不可用：专家编号须以字母或数字开头，只含字母、数字和 . _ -，"
        "最长 32 个字符",
    ),
    (
        "home region not a division code",
        {"home_region": "kunming"},
        BadRegionCode,
        422,
        "bad-region-code",
        "常住地行政区划代码「kunming」无效：须为 6 位行政区划代码，例如 530100（昆明市）",
    ),
    ("no name", {"name": ""}, FieldRequired, 422, "field-required", "专家姓名不能为空"),
    (
        "long employer",
        {"employer": "单" * 201},
        FieldTooLong,
        422,
        "field-too-long",
        "工作单位太长：最多 200 个字符，请缩短后再提交",
    ),
    (
        "code in the pool",
        {"name": "赵建民"},
        ExpertCodeTaken,
        409,
        "expert-code-taken",
        "专家编号「E01」已在专家库中，请核对专家编号",
    ),
]


@pytest.mark.parametrize(
    ("case", "change", "error", "status", "code", "detail"),
    EXPERT_REFUSALS,
    ids=[c[0] for c in EXPERT_REFUSALS],
)
async def test_an_expert_refused_says_why_and_adds_nothing(
    database: Database,
    clock: FakeClock,
    case: str,
    change: dict[str, str],
    error: type[ProblemError],
    status: int,
    code: str,
    detail: str,
) -> None:
    await add_expert(database, SYSADMIN, ZHAO, now=clock())
    draft = dataclasses.replace(ZHAO, **change)
    with pytest.raises(error) as refused:
        await add_expert(database, SYSADMIN, draft, now=clock())
    assert (refused.value.status, refused.value.code, refused.value.detail) == (
        status,
        code,
        detail,
    )
    assert await count(database, Expert.id) == 1
    assert len(await chain(database)) == 1
