"""Where a session's room is and how it is guarded: the same instance and the same secrets
for every hub process, spread over the instances, underivable without the hub's secret."""

from __future__ import annotations

from evaluation_hub.live.janus_rooms import instance_for, room_for

URLS = ("http://10.0.0.1:8088/janus", "http://10.0.0.2:8088/janus", "http://10.0.0.3:8088/janus")


def test_a_sessions_room_is_on_one_instance_chosen_by_its_id() -> None:
    chosen = [instance_for(session_id, URLS) for session_id in range(1, 10)]
    assert chosen == [URLS[i % 3] for i in range(1, 10)]
    assert {instance_for(7, URLS) for _ in range(3)} == {URLS[1]}  # the same for any process
    assert instance_for(7, URLS[:1]) == URLS[0]


def test_a_rooms_secret_and_pin_derive_from_the_hubs_secret_only() -> None:
    key = b"t" * 40
    room = room_for(42, key)
    assert room == room_for(42, key)  # every hub process finds the same
    assert room.id == 42
    assert room.secret != room.pin
    assert len(room.pin) == len(room.secret) == 32
    assert room_for(43, key).pin != room.pin
    assert room_for(42, b"u" * 40).pin != room.pin
