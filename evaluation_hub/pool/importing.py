"""Importing the expert pool's export (专家库导入) and reading the pool.

The system administrator imports (``access.Action.MANAGE_EXPERTS``); the principal is checked
before the file is read. A file with any bad row imports nothing (``PoolFileInvalid`` lists
every problem). Otherwise every expert is upserted by code: added, updated (name, employer,
former employers, region, specialties, phone) or left as it was. A dry run reports the same
counts and writes nothing.

Audit event (one per import), subject ``pool:experts``, actor the administrator:

    pool.experts_imported   sha256, format, rows, added, updated, unchanged
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.models import Expert
from evaluation_hub.localtime import day_of
from evaluation_hub.pool.errors import PoolFileInvalid, PoolFileTooLarge
from evaluation_hub.pool.expert_file import ExpertRow, parse_experts
from evaluation_hub.pool.models import FormerEmployerRow
from evaluation_hub.pool.recusal import FormerEmployer
from evaluation_hub.pool.source import FileSource, file_bytes
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services

__all__ = ["MAX_FILE_BYTES", "PoolExpert", "PoolImport", "import_experts", "list_pool"]

#: the largest export accepted (a pool of tens of thousands of experts is a few MB)
MAX_FILE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class PoolImport:
    format: str
    sha256: str
    rows: int
    added: int
    updated: int
    unchanged: int
    dry_run: bool


@dataclass(frozen=True)
class PoolExpert:
    id: int
    code: str
    name: str
    employer: str
    former_employers: tuple[FormerEmployer, ...]
    home_region: str
    specialties: tuple[str, ...]
    phone: str


async def _former_of(s: AsyncSession, expert_ids: list[int]) -> dict[int, list[FormerEmployer]]:
    found: dict[int, list[FormerEmployer]] = {i: [] for i in expert_ids}
    if not expert_ids:
        return found
    rows = await s.execute(
        select(FormerEmployerRow)
        .where(FormerEmployerRow.expert_id.in_(expert_ids))
        .order_by(FormerEmployerRow.id)
    )
    for r in rows.scalars():
        found[r.expert_id].append(FormerEmployer(r.employer, r.left_year))
    return found


def _same(e: Expert, former: list[FormerEmployer], row: ExpertRow) -> bool:
    return (
        e.name == row.name
        and e.employer == row.employer
        and e.home_region == row.home_region
        and list(e.specialties or []) == list(row.specialties)
        and e.phone == row.phone
        and e.in_pool
        and tuple(former) == row.former_employers
    )


async def _upsert(s: AsyncSession, rows: tuple[ExpertRow, ...], *, write: bool) -> tuple[int, int]:
    codes = [r.code for r in rows]
    existing = {
        e.code: e for e in (await s.execute(select(Expert).where(Expert.code.in_(codes)))).scalars()
    }
    former = await _former_of(s, [e.id for e in existing.values()])
    added = updated = 0
    for row in rows:
        expert = existing.get(row.code)
        if expert is not None and _same(expert, former[expert.id], row):
            continue
        if expert is None:
            added += 1
            if not write:
                continue
            expert = Expert(code=row.code, home_region=row.home_region, employer=row.employer)
            s.add(expert)
        else:
            updated += 1
            if not write:
                continue
            await s.execute(
                delete(FormerEmployerRow).where(FormerEmployerRow.expert_id == expert.id)
            )
        expert.name, expert.employer, expert.home_region = row.name, row.employer, row.home_region
        expert.specialties, expert.phone, expert.in_pool = list(row.specialties), row.phone, True
        await s.flush()
        s.add_all(
            FormerEmployerRow(expert_id=expert.id, employer=f.employer, left_year=f.left_year)
            for f in row.former_employers
        )
    return added, updated


async def import_experts(
    hub: Services, actor: Principal, source: FileSource, *, dry_run: bool = False, now: datetime
) -> PoolImport:
    """Import the pool's export (CSV or XLSX), all rows or none."""
    access.require(actor, access.Action.MANAGE_EXPERTS, access.Target())
    data = await file_bytes(source)
    if len(data) > MAX_FILE_BYTES:
        raise PoolFileTooLarge(MAX_FILE_BYTES)
    parsed = parse_experts(
        data, known_regions=frozenset(hub.distances.codes), this_year=day_of(now).year
    )
    if parsed.problems:
        raise PoolFileInvalid("专家库", parsed.problems)
    digest = hashlib.sha256(data).hexdigest()
    unit = hub.db.read() if dry_run else hub.db.write()
    async with unit as s:
        added, updated = await _upsert(s, parsed.rows, write=not dry_run)
        result = PoolImport(
            parsed.format,
            digest,
            len(parsed.rows),
            added,
            updated,
            len(parsed.rows) - added - updated,
            dry_run,
        )
        if not dry_run:
            await append_event(
                s,
                kind="pool.experts_imported",
                subject="pool:experts",
                actor=actor.username,
                payload={
                    "sha256": digest,
                    "format": result.format,
                    "rows": result.rows,
                    "added": added,
                    "updated": updated,
                    "unchanged": result.unchanged,
                },
                at=now,
            )
        return result


async def list_pool(hub: Services, actor: Principal) -> list[PoolExpert]:
    """The experts of the pool, by code (``access.Action.LIST_EXPERTS``)."""
    access.require(actor, access.Action.LIST_EXPERTS, access.Target())
    async with hub.db.read() as s:
        experts = list(
            (await s.execute(select(Expert).where(Expert.in_pool).order_by(Expert.code))).scalars()
        )
        former = await _former_of(s, [e.id for e in experts])
    return [
        PoolExpert(
            e.id,
            e.code,
            e.name,
            e.employer,
            tuple(former[e.id]),
            e.home_region,
            tuple(e.specialties or ()),
            e.phone,
        )
        for e in experts
    ]
