"""Helpers for media tests over real loopback peer connections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiortc import MediaStreamTrack, RTCPeerConnection


async def connect(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    """Exchange offer and answer in-process (aiortc gathers candidates before returning)."""
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


def collect_tracks(pc: RTCPeerConnection) -> dict[str, MediaStreamTrack]:
    """Remote tracks of ``pc`` by kind, filled in as they are announced."""
    tracks: dict[str, MediaStreamTrack] = {}

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        tracks[track.kind] = track

    return tracks


async def eventually(condition: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    """Wait for ``condition``; the limit only stops a broken test from hanging."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)
