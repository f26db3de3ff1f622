"""Who is acting (操作人): the authenticated principal, an identity and nothing more.

A principal is a user's name, role (``evaluation_hub.access.Role``) and venue, as the shells
authenticate it. What a principal may do or see is decided in one place, the pure rules of
``evaluation_hub.access``; this module holds no rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Principal"]


@dataclass(frozen=True)
class Principal:
    username: str
    #: an ``access.Role`` value (stored as its string)
    role: str
    #: the venue the user belongs to; None for the system administrator and the hub itself
    venue_id: int | None


def __getattr__(name: str) -> Any:
    # TODO(merge): remove once api.session_auth and admin/ take
    # the role vocabulary from ``evaluation_hub.access`` (``Role``, ``ROLE_NAMES``), its home.
    if name == "ROLE_NAMES":
        from evaluation_hub.access import ROLE_NAMES

        return ROLE_NAMES
    if name == "ROLES":  # the roles a user may hold: every role but the hub itself
        from evaluation_hub.access import Role

        return tuple(r.value for r in Role if r is not Role.SYSTEM)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
