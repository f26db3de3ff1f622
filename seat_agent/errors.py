"""The seat agent's exception tree. Every error the agent raises on purpose derives from
:class:`SeatAgentError`.

    SeatAgentError
    ├── StateDirError      the state directory is missing, incomplete or already initialised
    ├── HubRefused         the hub closed with a code after which retrying cannot help
    │                      (unknown seat, revoked, bad signature, another instance running)
    ├── OutboxError        the local score outbox cannot be used (corrupt or wrong file)
    ├── ChapterNotReady    a chapter is not (or no longer) fully downloaded and checked
    └── ChapterUnreadable  a complete chapter does not open with this seat's key

Messages say what the operator at the venue should do next. Foreign errors (``OSError``,
``sqlite3.Error``, ``websockets`` exceptions) are translated at the module that meets them.
"""

from __future__ import annotations

__all__ = [
    "ChapterNotReady",
    "ChapterUnreadable",
    "HubRefused",
    "OutboxError",
    "SeatAgentError",
    "StateDirError",
]


class SeatAgentError(Exception):
    """Root of every error the seat agent raises on purpose."""


class StateDirError(SeatAgentError):
    """The state directory cannot be used as asked."""


class HubRefused(SeatAgentError):
    """The hub refused this terminal for good; a person must act before it reconnects."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"hub closed the connection with {code} ({reason})")


class OutboxError(SeatAgentError):
    """The score outbox file cannot be used."""


class ChapterNotReady(SeatAgentError):
    """The chapter is still downloading (or a damaged chunk is being fetched again); the
    message, in Chinese, is shown to the expert as it is."""


class ChapterUnreadable(SeatAgentError):
    """Every chunk is here and intact, yet the chapter does not open with this seat's key."""
