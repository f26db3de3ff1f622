"""Who is acting: the authenticated principal and the pure access rules on it.

Rules (checked by the hub, never by a page): a venue admin manages only their own venue's seats
and bookings; a host operator requests and changes bookings only for sessions their venue hosts;
a system admin may do anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation_hub.errors import Forbidden

__all__ = ["ROLES", "ROLE_NAMES", "Principal"]

ROLES = ("venue_admin", "host_operator", "supervisor", "system_admin")
ROLE_NAMES = {
    "venue_admin": "场地管理员",
    "host_operator": "主场业务人员",
    "supervisor": "监督人员",
    "system_admin": "系统管理员",
}


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    venue_id: int | None

    @property
    def is_system(self) -> bool:
        return self.role == "system_admin"

    def require_venue_admin(self, venue_id: int, venue_name: str) -> None:
        if self.is_system or (self.role == "venue_admin" and self.venue_id == venue_id):
            return
        raise Forbidden(
            "not-venue-admin",
            f"只有场地「{venue_name}」的管理员可以执行此操作，当前用户 {self.username}"
            f"（{ROLE_NAMES.get(self.role, self.role)}）无此权限",
        )

    def require_host(self, host_venue_id: int, host_venue_name: str) -> None:
        if self.is_system or (self.role == "host_operator" and self.venue_id == host_venue_id):
            return
        raise Forbidden(
            "not-host",
            f"只有主场「{host_venue_name}」的业务人员可以为该评标会预约工位，当前用户 "
            f"{self.username}（{ROLE_NAMES.get(self.role, self.role)}）无此权限",
        )
