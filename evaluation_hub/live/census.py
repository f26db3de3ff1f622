"""What the operations side reads of a :class:`~evaluation_hub.live.hub.LiveHub`: whether its
stats loop runs (readiness: the media backend) and each published seat's status (metrics).

Kept beside the hub rather than in it (``hub.py`` is at its size limit); it reads the hub's
own registries, read-only, as the hub's ``status`` does.
"""

from __future__ import annotations

from evaluation_hub.live.hub import LiveHub
from evaluation_hub.live.status import SeatStatus

__all__ = ["forwarder_running", "seat_statuses"]


def forwarder_running(live: LiveHub) -> bool:
    """Whether the hub's stats and state loop runs: started, not closed, not crashed."""
    task = live._loop_task
    return not live._closed and task is not None and not task.done()


def seat_statuses(live: LiveHub) -> dict[str, SeatStatus]:
    """Every seat that has published to this process, by seat key."""
    return {key: live.status(key) for key in list(live._publishers)}
