"""Who may see and do what under joint supervision (主场为主、客场为辅). Pure rules.

* A **host supervisor** (role ``supervisor`` at the session's host venue) sees everything about
  the session and is the only one who raises and handles incidents, sends 函告 and opens
  handovers: the primary site owns supervision.
* An **away supervisor** (role ``supervisor`` at a venue where an expert of the session is
  seated) sees only what concerns experts seated at their venue, answers 函告 sent to their
  venue, acknowledges copy notices and marks their venue's handover done.
* A system admin may read everything but acts for no supervising department, so may change
  nothing here. Everyone else is refused.

Pure: no I/O; callers pass the facts (host venue, venues seating the session's experts).
Refusals are ``Forbidden`` with Simplified Chinese details.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from evaluation_hub.errors import Forbidden
from evaluation_hub.principal import ROLE_NAMES, Principal

__all__ = [
    "SupervisionScope",
    "require_host_supervisor",
    "require_venue_supervisor",
    "scope_for",
]


def _who(who: Principal) -> str:
    return f"{who.username}（{ROLE_NAMES.get(who.role, who.role)}）"


@dataclass(frozen=True, slots=True)
class SupervisionScope:
    """What a caller may see of one session: everything, or one away venue's part."""

    venue_id: int | None  # None: everything

    @property
    def everything(self) -> bool:
        return self.venue_id is None

    def sees(self, venue_id: int | None) -> bool:
        """Whether something about an expert seated at ``venue_id`` is visible."""
        return self.venue_id is None or self.venue_id == venue_id


def scope_for(
    who: Principal, session_id: int, host_venue_id: int, seated_venue_ids: Collection[int]
) -> SupervisionScope:
    """The caller's view of session ``session_id``, or ``Forbidden``."""
    if who.is_system or (who.role == "supervisor" and who.venue_id == host_venue_id):
        return SupervisionScope(None)
    if who.role == "supervisor" and who.venue_id in seated_venue_ids:
        return SupervisionScope(who.venue_id)
    raise Forbidden(
        "supervision-not-visible",
        f"当前用户 {_who(who)}不是评标会 #{session_id} 主场或客场的监督人员，无权查看其监督记录",
    )


def require_host_supervisor(
    who: Principal, host_venue_id: int, host_venue_name: str, action: str
) -> None:
    if who.role == "supervisor" and who.venue_id == host_venue_id:
        return
    raise Forbidden(
        "not-host-supervisor",
        f"只有主场「{host_venue_name}」的监督人员可以{action}，当前用户 {_who(who)}无此权限",
    )


def require_venue_supervisor(who: Principal, venue_id: int, venue_name: str, action: str) -> None:
    if who.role == "supervisor" and who.venue_id == venue_id:
        return
    raise Forbidden(
        "not-venue-supervisor",
        f"只有「{venue_name}」的监督人员可以{action}，当前用户 {_who(who)}无此权限",
    )
