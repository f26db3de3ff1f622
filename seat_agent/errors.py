"""The seat agent's exception tree. Every error the agent raises on purpose derives from
:class:`SeatAgentError`.

    SeatAgentError
    ├── StateDirError      the state directory is missing, incomplete or already initialised
    ├── HubRefused         the hub closed with a code after which retrying cannot help
    │                      (unknown seat, revoked, bad signature, another instance running)
    ├── HubKeyChanged      the hub's TLS key is not the one pinned at enrolment
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
    "HubKeyChanged",
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


class HubKeyChanged(SeatAgentError):
    """The hub presented a TLS key other than the one this terminal pinned when it enrolled:
    somebody may be impersonating the hub, or the hub's key was replaced. Never retried."""

    def __init__(self, expected: str, seen: str | None) -> None:
        from seat_protocol.auth import format_pin

        self.expected = expected
        self.seen = seen
        shown = "无" if seen is None else format_pin(seen)
        super().__init__(
            f"主场服务器的 TLS 公钥与本终端登记时记录的不一致（记录：{format_pin(expected)}；"
            f"实际：{shown}）。可能有人冒充主场，也可能主场更换了证书密钥。本终端已停止连接，"
            "请联系主场核实新的公钥指纹，确认无误后执行 seat-agent enroll --hub-pin <新指纹> 重新记录"
        )
