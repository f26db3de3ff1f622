"""The expert pool (专家库): adding an evaluation expert whom committees may then be drawn from.

Only a system administrator adds experts (``access.Action.MANAGE_EXPERTS``); a host operator
then registers drawn experts on a session's committee (``sessions.membership.add_member``). An
expert's home region (常住地行政区划) is what seat allocation places them near. The addition
and its audit event commit in one unit of work.

Audit event, subject ``expert:<code>``, actor the administrator's username:

    admin.expert_added   expert_id, code, name, home_region, employer
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evaluation_hub import access
from evaluation_hub.admin.errors import BadExpertCode, BadRegionCode, ExpertCodeTaken
from evaluation_hub.admin.venues import REGION_CODE, checked_text
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Expert
from evaluation_hub.principal import Principal
from evaluation_hub.sessions.records import ExpertRecord, expert_record

if TYPE_CHECKING:
    from evaluation_hub.services import Services

__all__ = ["ExpertDraft", "add_expert"]

# The expert code is what the seat, the PIN and the signatures name: no spaces, no dots first.
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


@dataclass(frozen=True)
class ExpertDraft:
    """An expert to add to the pool."""

    code: str
    name: str
    #: the administrative division the expert lives in (常住地行政区划代码)
    home_region: str
    #: the expert's employer (工作单位): experts of one employer are spread apart
    employer: str


async def add_expert(
    hub: Services | Database, actor: Principal, draft: ExpertDraft, *, now: datetime
) -> ExpertRecord:
    """Add an expert to the pool (专家入库).

    Refused (before anything is written) with ``BadExpertCode``, ``BadRegionCode``,
    ``FieldRequired``, ``FieldTooLong`` or ``ExpertCodeTaken``; ``Forbidden`` unless ``actor``
    is a system administrator.
    """
    access.require(actor, access.Action.MANAGE_EXPERTS, access.Target())
    if not _CODE.fullmatch(draft.code):
        raise BadExpertCode(draft.code)
    name = checked_text(draft.name, "专家姓名", 100)
    if not REGION_CODE.fullmatch(draft.home_region):
        raise BadRegionCode("常住地行政区划代码", draft.home_region)
    employer = checked_text(draft.employer, "工作单位", 200)
    db = hub if isinstance(hub, Database) else hub.db
    async with db.write() as s:
        taken = (await s.execute(select(Expert.id).where(Expert.code == draft.code))).first()
        if taken is not None:
            raise ExpertCodeTaken(draft.code)
        row = Expert(code=draft.code, name=name, home_region=draft.home_region, employer=employer)
        s.add(row)
        try:
            await s.flush()
        except IntegrityError as exc:  # added by someone else since the check above
            raise ExpertCodeTaken(draft.code) from exc
        record = expert_record(row)
        await append_event(
            s,
            kind="admin.expert_added",
            subject=f"expert:{record.code}",
            actor=actor.username,
            payload={
                "expert_id": record.id,
                "code": record.code,
                "name": record.name,
                "home_region": record.home_region,
                "employer": record.employer,
            },
            at=now,
        )
        return record
