"""The exception the session rules raise.

    HubError (evaluation_hub.errors)
    └── SessionRuleError   a session rule forbids the request; ``code`` is a stable slug and
                           ``http_status`` the status the API answers with (403, 409 or 422)

Messages are Simplified Chinese: they reach the host operator's page as they are.
"""

from __future__ import annotations

from evaluation_hub.errors import HubError

__all__ = ["SessionRuleError"]


class SessionRuleError(HubError):
    def __init__(self, code: str, message: str, http_status: int = 409) -> None:
        self.code = code
        self.message = message
        self.http_status = http_status
        super().__init__(message)
