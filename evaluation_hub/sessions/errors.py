"""The exception the session rules raise.

    HubError (evaluation_hub.errors)
    └── ProblemError
        └── SessionRuleError   a session rule forbids the request; ``code`` is a stable slug and
                               ``status`` the HTTP status it is answered with (403, 409 or 422)

It is a ``ProblemError`` like every refusal of the hub, so it reaches HTTP through the one
problem middleware (``evaluation_hub.api.problems``) without being translated on the way.
Messages are Simplified Chinese: they reach the host operator's page as they are.
"""

from __future__ import annotations

from evaluation_hub.errors import Conflict, Forbidden, InvalidInput, NotFound, ProblemError

__all__ = ["SessionRuleError"]

_TITLES = {cls.status: cls.title for cls in (Conflict, Forbidden, InvalidInput, NotFound)}


class SessionRuleError(ProblemError):
    def __init__(self, code: str, message: str, http_status: int = 409) -> None:
        super().__init__(code, message)
        self.message = message
        self.http_status = http_status
        # Instance attributes: the rule chooses the status, the middleware reads it.
        self.status = http_status
        self.title = _TITLES.get(http_status, Conflict.title)
