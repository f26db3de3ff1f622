"""Exceptions of the archive package.

    HubError (evaluation_hub.errors)
    └── ArchiveError          a bundle cannot be written as asked (unknown session, output exists,
                              a recording that does not match its audit event, …)

A bundle that fails verification is not an exception: ``verify.verify_bundle`` returns a report
naming the first problem, because finding one is an expected outcome.
"""

from __future__ import annotations

from evaluation_hub.errors import HubError

__all__ = ["ArchiveError"]


class ArchiveError(HubError):
    """A bundle cannot be written; the message says why and what to do."""
