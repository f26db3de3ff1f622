"""JSON for the calendar's coverage warning (``/api/health``'s ``warnings``; the admin page's
banner reads the same list)."""

from __future__ import annotations

from typing import Any

from evaluation_hub.supervision.workdays import CoverageWarning

__all__ = ["health_warnings"]


def health_warnings(calendar: CoverageWarning | None) -> list[dict[str, Any]]:
    """The warnings list of ``/api/health``: empty when nothing needs an operator."""
    if calendar is None:
        return []
    return [
        {
            "code": "calendar-coverage-ending",
            "detail": calendar.message,
            "covered_until": calendar.covered_until.isoformat(),
            "days_left": calendar.days_left,
            "file": calendar.file,
        }
    ]
