"""Exceptions of the audit package, all rooted at the hub's :class:`AuditError`.

    AuditError (evaluation_hub.errors)
    ├── InvalidAuditEvent        an event cannot be appended as given (empty kind, naive time…)
    │   └── CanonicalEncodingError   a value has no canonical encoding (a float, NaN, NUL…)
    ├── AuditKeyError            the hub key file is missing, unreadable, malformed or too open
    └── AuditStoreError          the chain cannot be appended to or read as asked

A chain that fails verification is not an exception: :func:`~evaluation_hub.audit.chain.verify`
returns a report naming the first problem, because finding one is an expected outcome.
"""

from __future__ import annotations

from evaluation_hub.errors import AuditError

__all__ = [
    "AuditError",
    "AuditKeyError",
    "AuditStoreError",
    "CanonicalEncodingError",
    "InvalidAuditEvent",
]


class InvalidAuditEvent(AuditError):
    """An event's fields cannot go into the chain as given; the message says which and why."""


class CanonicalEncodingError(InvalidAuditEvent):
    """A value cannot be encoded canonically; ``path`` says where it sits (``$.a[2].b``)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class AuditKeyError(AuditError):
    """The hub's Ed25519 key file cannot be used; ``path`` is the file."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"audit key {path}: {reason}")


class AuditStoreError(AuditError):
    """Appending to or reading the stored chain was asked in a way that cannot be honoured."""
