"""Who is acting (操作人): the authenticated principal, an identity and nothing more.

A principal is a user's name, role (``evaluation_hub.access.Role``) and venue, as the shells
authenticate it. What a principal may do or see is decided in one place, the pure rules of
``evaluation_hub.access``; this module holds no rule.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Principal"]


@dataclass(frozen=True)
class Principal:
    username: str
    #: an ``access.Role`` value (stored as its string)
    role: str
    #: the venue the user belongs to; None for the system administrator and the hub itself
    venue_id: int | None
