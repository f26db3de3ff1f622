"""Registering a session's committee from the pool's draw record (按抽取记录登记评标专家).

Host business (``access.Action.FORM_COMMITTEE``, checked before the file is read). A record
with a bad row (a code not in the pool, twice, a bad place) registers nobody: the refusal
names every row (``PoolFileInvalid``). A record naming more experts than the committee has
places left registers nobody either. Otherwise each drawn expert is registered in file order
(``membership.add_member``, one unit of work each, audited there): automatic recusal may
refuse some (each refusal audited by ``add_member``); they are returned with their reasons,
the others are registered, and the host draws replacements for the refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from evaluation_hub import access
from evaluation_hub.db.models import Expert
from evaluation_hub.errors import Conflict
from evaluation_hub.pool.draw_file import parse_draw
from evaluation_hub.pool.errors import PoolFileInvalid, PoolFileTooLarge, RecusalRequired
from evaluation_hub.pool.importing import MAX_FILE_BYTES
from evaluation_hub.pool.source import FileSource, file_bytes
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.members import member_rows
from evaluation_hub.sessions.membership import MemberAdded, MembersFollow, add_member

__all__ = ["DrawRefusal", "DrawRegistered", "register_draw"]


@dataclass(frozen=True)
class DrawRefusal:
    code: str
    line: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class DrawRegistered:
    added: tuple[MemberAdded, ...]
    refused: tuple[DrawRefusal, ...]


async def register_draw(
    hub: Services,
    actor: Principal,
    session_id: int,
    source: FileSource,
    *,
    now: datetime,
    follow: MembersFollow,
) -> DrawRegistered:
    """Register every expert of the draw record, as ``add_member`` would one by one."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.FORM_COMMITTEE, loaded.target)
        data = await file_bytes(source)
        if len(data) > MAX_FILE_BYTES:
            raise PoolFileTooLarge(MAX_FILE_BYTES)
        pool = dict(
            (await s.execute(select(Expert.code, Expert.id).where(Expert.in_pool))).tuples().all()
        )
        parsed = parse_draw(data, pool_codes=pool)
        if parsed.problems:
            raise PoolFileInvalid("抽取记录", parsed.problems)
        serving = [m for m, _ in await member_rows(s, session_id) if m.decision != "recused"]
        free = loaded.session.committee_size - len(serving)
        if len(parsed.rows) > free:
            raise Conflict(
                "committee-full",
                f"抽取记录有 {len(parsed.rows)} 名专家，评标会 #{session_id} 的评标委员会"
                f"只剩 {free} 个席位",
            )
    added: list[MemberAdded] = []
    refused: list[DrawRefusal] = []
    for row in parsed.rows:
        try:
            added.append(
                await add_member(
                    hub,
                    actor,
                    session_id,
                    pool[row.code],
                    placement=row.placement,
                    now=now,
                    follow=follow,
                )
            )
        except RecusalRequired as exc:  # audited by add_member; the host draws a replacement
            refused.append(DrawRefusal(row.code, row.line, tuple(c.message for c in exc.conflicts)))
    return DrawRegistered(tuple(added), tuple(refused))
