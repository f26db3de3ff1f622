"""What the operations side reads of a :class:`~evaluation_hub.live.janus_plane.JanusPlane`
(``/metrics`` on ``media_backend = janus``): this process's publishers and viewers, the
recordings it converts and their outages, and whether each Janus instance answers.

Kept beside the plane rather than in it, as ``live.census`` is beside the built-in hub; it
reads the plane's own registries, read-only, as the plane's ``status`` does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from evaluation_hub.live.janus_plane import JanusPlane
from evaluation_hub.live.recording import RecordingState
from evaluation_hub.live.status import SeatStatus
from media.errors import JanusError
from media.janus.client import server_info

__all__ = ["JanusFigures", "janus_figures", "plane_recordings", "plane_running", "plane_seats"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JanusFigures:
    """What only the Janus plane has, read at scrape time."""

    #: segments converted (and handed to the audit chain) by this process since it started
    segments: int
    #: recording outages begun in this process since it started, by reason
    outages: Mapping[str, int]
    #: each configured Janus instance (its URL): whether it answered ``info`` just now
    instances: Mapping[str, bool]


def plane_running(plane: JanusPlane) -> bool:
    """Whether the plane's state loop runs: started, not closed, not crashed."""
    task = plane._loop
    return not plane._closed and task is not None and not task.done()


def plane_seats(plane: JanusPlane) -> dict[str, SeatStatus]:
    """Every seat publishing through this process, by seat key."""
    return {key: plane.status(key) for key in list(plane._publishers)}


def plane_recordings(plane: JanusPlane) -> dict[str, RecordingState]:
    return {} if plane.recordings is None else plane.recordings.states()


async def _answers(url: str, timeout_s: float) -> bool:
    try:
        await server_info(url, timeout=timeout_s)
    except JanusError as exc:
        logger.warning("janus %s does not answer: %s", url, exc)
        return False
    return True


async def janus_figures(plane: JanusPlane, *, timeout_s: float) -> JanusFigures:
    urls = plane.settings.urls
    answered = await asyncio.gather(*(_answers(url, timeout_s) for url in urls))
    recordings = plane.recordings
    return JanusFigures(
        segments=0 if recordings is None else recordings.segments,
        outages={} if recordings is None else dict(recordings.outages),
        instances=dict(zip(urls, answered, strict=True)),
    )
