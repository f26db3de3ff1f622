"""Local time (北京时间 by default): the one place that turns instants into the dates and clock
times people read, and a calendar day back into instants.

The hub stores and compares aware UTC instants everywhere; local time matters only where a
person reads a time (every Chinese message and page), where a rule counts calendar or working
days (copy notices, handovers), and where a window must start and end on the same day. All of
those call this module, and its zone is the deployment's ``HubConfig.timezone``: the hub and
the CLI call :func:`use_zone` once at start-up (``Asia/Shanghai`` until then). The zone is a
property of the deployment, like its locale, so it is process-wide rather than threaded through
every pure rule's arguments; it is read, never decided, by the rules.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evaluation_hub.errors import ConfigError

__all__ = [
    "DEFAULT_ZONE",
    "day_of",
    "format_minutes",
    "format_seconds",
    "midnight",
    "use_zone",
    "zone",
]

DEFAULT_ZONE = "Asia/Shanghai"


class _Local:
    zone: tzinfo = ZoneInfo(DEFAULT_ZONE)


_local = _Local()


def use_zone(name: str) -> tzinfo:
    """Make ``name`` (an IANA zone such as ``Asia/Shanghai``) the local zone; ``ConfigError``
    if the zone is unknown."""
    try:
        _local.zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {name!r} (EVALHUB_TIMEZONE)") from exc
    return _local.zone


def zone() -> tzinfo:
    return _local.zone


def format_minutes(at: datetime) -> str:
    """``2026-12-01 09:00``: how a time appears in messages and on pages."""
    return at.astimezone(_local.zone).strftime("%Y-%m-%d %H:%M")


def format_seconds(at: datetime) -> str:
    """``2026-12-01 09:00:05``: for records where seconds matter (signatures, the report)."""
    return at.astimezone(_local.zone).strftime("%Y-%m-%d %H:%M:%S")


def day_of(at: datetime) -> date:
    """The local calendar day of an instant (working-day counts start from it)."""
    return at.astimezone(_local.zone).date()


def midnight(day: date) -> datetime:
    """The instant a local calendar day begins."""
    return datetime.combine(day, time(0), _local.zone)


def at_local(day: date, clock: time) -> datetime:
    """The instant of a local clock time on a local day."""
    return datetime.combine(day, clock, _local.zone)


__all__ += ["at_local"]
