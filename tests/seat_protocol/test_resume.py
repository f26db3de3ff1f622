"""Resume after a dropped connection: every application message arrives exactly once, in order."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from seat_protocol.events import Connected, MessageReceived, SendText
from seat_protocol.hub_side import HubChannels
from seat_protocol.messages import CheckinRequest, SessionStateNotice
from seat_protocol.streams import Channel
from tests.seat_protocol.wire import SEAT_ID, Link, connect


def _hub_msg(i: int) -> SessionStateNotice:
    return SessionStateNotice(session_id="S1", state=f"h{i}", at=float(i))


def _seat_msg(i: int) -> CheckinRequest:
    return CheckinRequest(session_id="S1", expert_code=f"s{i}", pin="1")


def _received_by_seat(events: Sequence[object]) -> list[str]:
    return [
        e.message.state
        for e in events
        if isinstance(e, MessageReceived) and isinstance(e.message, SessionStateNotice)
    ]


def _received_by_hub(events: Sequence[object]) -> list[str]:
    return [
        e.message.expert_code
        for e in events
        if isinstance(e, MessageReceived) and isinstance(e.message, CheckinRequest)
    ]


class Network:
    """A connection whose frames are delivered one at a time, and can be cut at any point."""

    def __init__(self) -> None:
        self.channels = HubChannels()
        self.seat_channel = Channel()
        self.hub_events: list[object] = []
        self.seat_events: list[object] = []
        self.link: Link | None = None
        self.to_hub: list[str] = []
        self.to_seat: list[str] = []
        self.reconnect()

    def reconnect(self) -> None:
        self.link = connect(channels=self.channels, seat_channel=self.seat_channel, pump=False)
        self.to_hub, self.to_seat = [], []
        self.collect()

    def collect(self) -> None:
        assert self.link is not None
        for item in self.link.seat.data_to_send():
            if isinstance(item, SendText):
                self.to_hub.append(item.text)
        for item in self.link.hub.data_to_send():
            if isinstance(item, SendText):
                self.to_seat.append(item.text)
        self.hub_events += self.link.hub.events_received()
        self.seat_events += self.link.seat.events_received()

    def step(self, to_hub: bool) -> None:
        assert self.link is not None
        queue = self.to_hub if to_hub else self.to_seat
        if queue:
            target = self.link.hub if to_hub else self.link.seat
            target.receive_text(queue.pop(0), 0.0)
            self.collect()

    def drop(self) -> None:
        assert self.link is not None
        self.link.drop()
        self.collect()
        self.reconnect()

    def settle(self) -> None:
        while self.to_hub or self.to_seat:
            self.step(True)
            self.step(False)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(["hub", "seat", "to_hub", "to_seat", "settle", "settle", "drop"]),
        max_size=80,
    )
)
def test_every_message_arrives_exactly_once_despite_drops(ops: list[str]) -> None:
    net = Network()
    sent_hub = sent_seat = 0
    for op in ops:
        if op == "hub":
            net.channels.get(SEAT_ID).send(_hub_msg(sent_hub))
            sent_hub += 1
        elif op == "seat":
            net.seat_channel.send(_seat_msg(sent_seat))
            sent_seat += 1
        elif op == "drop":
            net.drop()
        elif op == "settle":
            net.settle()
        else:
            net.step(op == "to_hub")
        net.collect()
    net.drop()  # end with a fresh connection so nothing is left only in flight
    net.settle()
    assert _received_by_seat(net.seat_events) == [f"h{i}" for i in range(sent_hub)]
    assert _received_by_hub(net.hub_events) == [f"s{i}" for i in range(sent_seat)]
    assert net.channels.get(SEAT_ID).outgoing.unacked() == []
    assert net.seat_channel.outgoing.unacked() == []


def test_messages_sent_while_disconnected_follow_the_resume() -> None:
    net = Network()
    net.settle()
    assert net.link is not None
    net.link.drop()
    net.channels.get(SEAT_ID).send(_hub_msg(0))
    net.seat_channel.send(_seat_msg(0))
    net.reconnect()
    net.settle()
    assert _received_by_seat(net.seat_events) == ["h0"]
    assert _received_by_hub(net.hub_events) == ["s0"]


def test_hub_restart_loses_its_streams_and_says_so() -> None:
    channels = HubChannels()
    seat_channel = Channel()
    link = connect(channels=channels, seat_channel=seat_channel)
    for i in range(3):
        link.hub.send(_hub_msg(i))
        link.seat.send(_seat_msg(i))
    link.pump()
    link.drop()
    # A new hub process: empty channels. The seat still counts from where it was.
    restarted = connect(channels=HubChannels(), seat_channel=seat_channel)
    assert restarted.hub_events == [Connected(SEAT_ID, lost_incoming=True, peer_lost=False)]
    assert restarted.seat_events == [Connected(SEAT_ID, lost_incoming=False, peer_lost=True)]
    restarted.hub.send(_hub_msg(3))
    restarted.seat.send(_seat_msg(3))
    restarted.pump()
    assert _received_by_seat(restarted.seat_events) == ["h3"]
    assert _received_by_hub(restarted.hub_events) == ["s3"]
    assert restarted.hub.channel.outgoing.last_sent == 4  # continues the seat's numbering


def test_seat_restart_is_lined_up_and_reported() -> None:
    channels = HubChannels()
    link = connect(channels=channels, seat_channel=Channel())
    for i in range(3):
        link.hub.send(_hub_msg(i))
        link.seat.send(_seat_msg(i))
    link.pump()
    link.drop()
    fresh = Channel()
    fresh.send(_seat_msg(3))  # the restarted agent's outbox replays before the handshake
    again = connect(channels=channels, seat_channel=fresh)
    assert again.hub_events[0] == Connected(SEAT_ID, lost_incoming=False, peer_lost=True)
    assert again.seat_events[0] == Connected(SEAT_ID, lost_incoming=True, peer_lost=False)
    assert _received_by_hub(again.hub_events) == ["s3"]
    again.hub.send(_hub_msg(3))
    again.pump()
    assert _received_by_seat(again.seat_events) == ["h3"]
