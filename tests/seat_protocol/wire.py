"""Two protocol machines wired back to back in memory: no sockets, time is a plain number."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from seat_protocol._endpoint import Endpoint
from seat_protocol.auth import public_key_bytes
from seat_protocol.chunk_frames import SUPPORTED_FRAMINGS
from seat_protocol.events import CloseConnection, Event, SendBytes, SendText
from seat_protocol.hub_side import EnrolledSeat, HubChannels, HubConnection, Timing
from seat_protocol.messages import PROTOCOL_VERSION
from seat_protocol.seat_side import ChunkCheck, SeatConnection, sha256_matches
from seat_protocol.streams import Channel

HUB_ID = "hub-1"
SEAT_ID = "seat-a1"
# Deterministic keys: tests must not depend on randomness they do not control.
SEAT_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
NONCE = bytes(range(100, 132))


def seat_directory(**extra: EnrolledSeat) -> dict[str, EnrolledSeat]:
    seats = {SEAT_ID: EnrolledSeat(SEAT_ID, public_key_bytes(SEAT_KEY), "active")}
    seats.update(extra)
    return seats


@dataclass
class Link:
    """One connection: the hub end, the seat end, and what each has said and heard."""

    hub: HubConnection
    seat: SeatConnection
    hub_events: list[Event] = field(default_factory=list)
    seat_events: list[Event] = field(default_factory=list)
    hub_closes: list[CloseConnection] = field(default_factory=list)
    seat_closes: list[CloseConnection] = field(default_factory=list)
    sent_by_seat: list[str] = field(default_factory=list)
    sent_by_hub: list[str] = field(default_factory=list)
    # Binary frames (chunks in a binary framing), kept apart from the JSON texts.
    binary_by_hub: list[bytes] = field(default_factory=list)

    def pump(self, now: float = 0.0) -> None:
        """Deliver everything queued, both ways, until both ends are quiet."""
        while True:
            moved = self._move(self.seat, self.hub, now, self.sent_by_seat, self.seat_closes)
            moved |= self._move(
                self.hub, self.seat, now, self.sent_by_hub, self.hub_closes, self.binary_by_hub
            )
            self.hub_events += self.hub.events_received()
            self.seat_events += self.seat.events_received()
            if not moved:
                return

    def _move(
        self,
        src: Endpoint,
        dst: Endpoint,
        now: float,
        log: list[str],
        closes: list[CloseConnection],
        binary: list[bytes] | None = None,
    ) -> bool:
        out = src.data_to_send()
        for item in out:
            if isinstance(item, SendText):
                log.append(item.text)
                dst.receive_text(item.text, now)
            elif isinstance(item, SendBytes):
                if binary is not None:
                    binary.append(item.data)
                dst.receive_bytes(item.data, now)
            else:
                closes.append(item)
                # The close frame reaches the peer, which then loses the transport too.
                dst.connection_lost(item.code, item.reason)
                src.connection_lost()
        return bool(out)

    def drop(self) -> None:
        """The network fails: neither end gets a close frame; queued output is lost."""
        self.hub.data_to_send()
        self.seat.data_to_send()
        self.hub.connection_lost()
        self.seat.connection_lost()
        self.hub_events += self.hub.events_received()
        self.seat_events += self.seat.events_received()


def connect(
    *,
    channels: HubChannels,
    seat_channel: Channel,
    seats: dict[str, EnrolledSeat] | None = None,
    now: float = 0.0,
    key: Ed25519PrivateKey = SEAT_KEY,
    timing: Timing | None = None,
    pump: bool = True,
    protocol_version: int = PROTOCOL_VERSION,
    chunk_framings: tuple[int, ...] = SUPPORTED_FRAMINGS,
    chunk_check: ChunkCheck = sha256_matches,
) -> Link:
    directory = seats if seats is not None else seat_directory()
    hub = HubConnection(
        hub_id=HUB_ID,
        seats=directory.get,
        channels=channels,
        nonce=NONCE,
        now=now,
        timing=timing,
    )
    seat = SeatConnection(
        seat_id=SEAT_ID,
        hub_id=HUB_ID,
        key=key,
        channel=seat_channel,
        now=now,
        protocol_version=protocol_version,
        chunk_framings=chunk_framings,
        chunk_check=chunk_check,
    )
    link = Link(hub, seat)
    if pump:
        link.pump(now)
    return link
