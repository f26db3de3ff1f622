"""The event bus and seat presence: in-process for the embedded default, Redis in production.

Use :func:`open_bus` to get the one the configuration asks for; the hub only ever sees the
:class:`Bus` interface. See :mod:`.base` for the promises every implementation keeps.
"""

from __future__ import annotations

from typing import Any

from evaluation_hub.bus.base import Bus, Event, Subscription
from evaluation_hub.bus.memory import MemoryBus
from evaluation_hub.errors import BusError

__all__ = ["Bus", "BusError", "Event", "MemoryBus", "Subscription", "open_bus"]


async def open_bus(url: str | None, **options: Any) -> Bus:
    """``None`` or ``memory://`` → :class:`MemoryBus`; ``redis://`` / ``rediss://`` → RedisBus."""
    if url is None or url == "memory://":
        return MemoryBus(**options)
    if url.startswith(("redis://", "rediss://", "unix://")):
        # Imported here so the embedded default never loads the Redis client.
        from evaluation_hub.bus.redis import RedisBus

        return await RedisBus.connect(url, **options)
    scheme = url.split(":", 1)[0]
    raise BusError(f"unsupported bus URL scheme {scheme!r}: use memory:// or redis://host:port/db")
