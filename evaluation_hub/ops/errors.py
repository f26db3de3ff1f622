"""The operations package's errors; ``OpsError`` is its root."""

from __future__ import annotations

from typing import Any

from evaluation_hub.errors import HubError, ProblemError

__all__ = ["BackupError", "NotReady", "OpsError", "RestoreRefused"]


class OpsError(HubError):
    """A backup or restore could not be done; the message says why and what to do."""


class BackupError(OpsError):
    """The backup was not written (nothing usable is left in the target directory)."""


class RestoreRefused(OpsError):
    """The backup was not restored (the target database is left as empty as it was)."""


class NotReady(ProblemError):
    """``/api/ready``: one or more readiness checks failed; ``checks`` lists them all."""

    status = 503
    title = "服务未就绪"

    def __init__(self, failing: tuple[str, ...], checks: list[dict[str, Any]]) -> None:
        super().__init__("not-ready", f"未通过的就绪检查：{'、'.join(failing)}", checks=checks)
