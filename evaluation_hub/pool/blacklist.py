"""Importing the credit blacklist (信用黑名单导入) and reading it, as the pool is imported
(``pool.importing``): system administrator only, all rows or none, upserted on the entry's key
(the expert code, else the folded name and employer), a dry run writes nothing.

Audit event (one per import), subject ``pool:blacklist``:

    pool.blacklist_imported   sha256, format, rows, added, updated, unchanged
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.pool.blacklist_file import parse_blacklist
from evaluation_hub.pool.errors import PoolFileInvalid, PoolFileTooLarge
from evaluation_hub.pool.importing import MAX_FILE_BYTES, PoolImport
from evaluation_hub.pool.models import BlacklistEntryRow
from evaluation_hub.pool.recusal import BlacklistEntry
from evaluation_hub.pool.source import FileSource, file_bytes
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services

__all__ = ["import_blacklist", "list_blacklist"]


@dataclass(frozen=True)
class _Fields:
    expert_code: str
    name: str
    employer: str
    reason: str
    until: date


def _fields(r: BlacklistEntryRow) -> _Fields:
    return _Fields(r.expert_code, r.name, r.employer, r.reason, r.until)


async def import_blacklist(
    hub: Services, actor: Principal, source: FileSource, *, dry_run: bool = False, now: datetime
) -> PoolImport:
    """Import the blacklist's export (CSV or XLSX), all rows or none."""
    access.require(actor, access.Action.MANAGE_EXPERTS, access.Target())
    data = await file_bytes(source)
    if len(data) > MAX_FILE_BYTES:
        raise PoolFileTooLarge(MAX_FILE_BYTES)
    parsed = parse_blacklist(data)
    if parsed.problems:
        raise PoolFileInvalid("信用黑名单", parsed.problems)
    digest = hashlib.sha256(data).hexdigest()
    unit = hub.db.read() if dry_run else hub.db.write()
    async with unit as s:
        keys = [r.key for r in parsed.rows]
        existing = {
            e.entry_key: e
            for e in (
                await s.execute(
                    select(BlacklistEntryRow).where(BlacklistEntryRow.entry_key.in_(keys))
                )
            ).scalars()
        }
        added = updated = 0
        for row in parsed.rows:
            wanted = _Fields(row.expert_code, row.name, row.employer, row.reason, row.until)
            entry = existing.get(row.key)
            if entry is not None and _fields(entry) == wanted:
                continue
            if entry is None:
                added += 1
                entry = BlacklistEntryRow(entry_key=row.key)
                if not dry_run:
                    s.add(entry)
            else:
                updated += 1
            if not dry_run:
                entry.expert_code, entry.name, entry.employer = (
                    row.expert_code,
                    row.name,
                    row.employer,
                )
                entry.reason, entry.until, entry.imported_at = row.reason, row.until, now
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
            await s.flush()
            await append_event(
                s,
                kind="pool.blacklist_imported",
                subject="pool:blacklist",
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


def _entry(r: BlacklistEntryRow) -> BlacklistEntry:
    return BlacklistEntry(r.expert_code, r.name, r.employer, r.reason, r.until)


async def list_blacklist(hub: Services, actor: Principal) -> list[BlacklistEntry]:
    """Every entry, in force or not, in import order (``access.Action.MANAGE_EXPERTS``)."""
    access.require(actor, access.Action.MANAGE_EXPERTS, access.Target())
    async with hub.db.read() as s:
        found = await s.execute(select(BlacklistEntryRow).order_by(BlacklistEntryRow.id))
        return [_entry(r) for r in found.scalars()]
