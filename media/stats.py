"""Media statistics per stream: frame rate, bitrate, loss, jitter and round-trip time.

aiortc's ``getStats`` gives cumulative RTP counters per stream; rates need two readings.
:func:`read_report` turns one report (plus the frame counts the forwarder keeps) into
:class:`RtpCounters`; :func:`between` turns two readings of the same stream into
:class:`StreamStats`, the plain figures the wall and the API show. :func:`collect` is the
one I/O step: it awaits ``RTCPeerConnection.getStats``.

aiortc files remote reports (RTT, loss seen by the far end) per sender, not per media
SSRC, so they are matched to streams by kind: one stream per kind per connection, which
is how the hub connects publishers and viewers. Inbound byte counts come from the
publisher's sender reports. Apart from :func:`collect`, this module does no I/O and
takes time as a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiortc import RTCPeerConnection

__all__ = ["RtpCounters", "StreamStats", "between", "collect", "read_report"]

Direction = Literal["inbound", "outbound"]

_CLOCK_RATES = {"video": 90_000, "audio": 48_000}


@dataclass(frozen=True, slots=True)
class RtpCounters:
    """Cumulative counters of one RTP stream at one moment."""

    at: float
    kind: str
    direction: Direction
    ssrc: int
    packets: int
    bytes: int | None
    packets_lost: int | None
    jitter_s: float | None
    round_trip_time_s: float | None
    frames: int | None


@dataclass(frozen=True, slots=True)
class StreamStats:
    """One stream's figures over the interval between two readings."""

    kind: str
    direction: Direction
    ssrc: int
    fps: float | None
    bitrate_bps: float | None
    packets_lost: int | None  # cumulative
    loss_fraction: float | None  # over the interval, 0..1
    jitter_ms: float | None
    round_trip_time_ms: float | None


def read_report(
    report: Mapping[str, Any], at: float, frames: Mapping[str, int] | None = None
) -> list[RtpCounters]:
    """The RTP streams of one ``getStats`` report; ``frames`` are frame counts by kind."""
    by_type: dict[str, dict[str, Any]] = {}
    for entry in report.values():
        kind = getattr(entry, "kind", None)  # transport stats have none
        if kind is not None:
            by_type.setdefault(str(entry.type), {})[str(kind)] = entry
    remote_in = by_type.get("remote-inbound-rtp", {})
    remote_out = by_type.get("remote-outbound-rtp", {})
    counters = []
    for entry in by_type.get("outbound-rtp", {}).values():
        if not entry.packetsSent:
            # aiortc reports a sender of a receive-only transceiver too; it sends nothing.
            continue
        far = remote_in.get(entry.kind)
        counters.append(
            RtpCounters(
                at=at,
                kind=entry.kind,
                direction="outbound",
                ssrc=entry.ssrc,
                packets=entry.packetsSent,
                bytes=entry.bytesSent,
                packets_lost=None if far is None else far.packetsLost,
                jitter_s=None if far is None else _jitter_seconds(entry.kind, far.jitter),
                round_trip_time_s=None if far is None else far.roundTripTime,
                frames=None if frames is None else frames.get(entry.kind),
            )
        )
    for entry in by_type.get("inbound-rtp", {}).values():
        near = remote_out.get(entry.kind)
        counters.append(
            RtpCounters(
                at=at,
                kind=entry.kind,
                direction="inbound",
                ssrc=entry.ssrc,
                packets=entry.packetsReceived,
                bytes=None if near is None else near.bytesSent,
                packets_lost=entry.packetsLost,
                jitter_s=_jitter_seconds(entry.kind, entry.jitter),
                round_trip_time_s=None,
                frames=None if frames is None else frames.get(entry.kind),
            )
        )
    return counters


def between(previous: RtpCounters | None, current: RtpCounters) -> StreamStats:
    """Rates over the interval from ``previous`` to ``current`` (None: rates unknown)."""
    fps = bitrate = loss = None
    same = previous is not None and (previous.ssrc, previous.direction) == (
        current.ssrc,
        current.direction,
    )
    if previous is not None and same and current.at > previous.at:
        span = current.at - previous.at
        if current.frames is not None and previous.frames is not None:
            fps = (current.frames - previous.frames) / span
        if current.bytes is not None and previous.bytes is not None:
            bitrate = (current.bytes - previous.bytes) * 8 / span
        if current.packets_lost is not None and previous.packets_lost is not None:
            lost = max(0, current.packets_lost - previous.packets_lost)
            arrived = max(0, current.packets - previous.packets)
            if current.direction == "outbound":
                # Sent packets include the lost ones.
                arrived = max(0, arrived - lost)
            loss = lost / (lost + arrived) if lost + arrived else 0.0
    return StreamStats(
        kind=current.kind,
        direction=current.direction,
        ssrc=current.ssrc,
        fps=fps,
        bitrate_bps=bitrate,
        packets_lost=current.packets_lost,
        loss_fraction=loss,
        jitter_ms=None if current.jitter_s is None else current.jitter_s * 1000,
        round_trip_time_ms=(
            None if current.round_trip_time_s is None else current.round_trip_time_s * 1000
        ),
    )


async def collect(
    pc: RTCPeerConnection, at: float, frames: Mapping[str, int] | None = None
) -> list[RtpCounters]:
    """Read ``pc``'s RTP counters now (``at`` is the caller's clock)."""
    return read_report(await pc.getStats(), at, frames)


def _jitter_seconds(kind: str, jitter: int | None) -> float | None:
    if jitter is None:
        return None
    return jitter / _CLOCK_RATES.get(kind, 90_000)
