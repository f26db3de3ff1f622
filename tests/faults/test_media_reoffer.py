"""A seat offers its media anew as soon as its control link comes back: after a hub process
dies, the seat's old peer connection still looks "connected" at the seat until its consent
checks time out (about 30 s), while the new hub knows nothing of it. Real hub, real seat
websocket, real aiortc peers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable

from tests.live.conftest import Rig, Viewer, eventually
from tests.live.test_publish import decoded_frames


async def test_a_new_control_link_makes_a_new_media_offer_at_once(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    # retry_delay is long: only the new link, not a failure of the old connection, can explain
    # a new offer within the test.
    seat = await rig.publish("DL-02", "DL", retry_delay=60.0)
    await eventually(lambda: rig.live.status("DL.DL-02").state == "live", "the seat is live")
    viewer = viewers()
    headers = await rig.login("dl_supervisor")
    await viewer.watch(rig, rig.ids["session"], rig.ids["seats"]["DL-02"], headers)
    await eventually(lambda: "video" in viewer.tracks, "the viewer gets a video track")
    before = await decoded_frames(viewer.tracks["video"], 3)
    first = seat.publisher.connection
    assert first is not None

    # The control link breaks (its TCP connection is cut), the media connection does not.
    socket = seat.link.socket
    assert socket is not None
    socket.transport.abort()
    await eventually(lambda: seat.link.connections == 2, "the seat link reconnects")
    await eventually(lambda: seat.publisher.offers == 2, "a new offer on the new link")
    assert seat.publisher.connection is not first
    assert first.connectionState == "closed"  # closed by the seat, not timed out
    await eventually(lambda: seat.publisher.answered == 2, "the hub answers it")
    await eventually(lambda: rig.live.status("DL.DL-02").publications == 2, "hub replaced it")
    await eventually(lambda: rig.live.status("DL.DL-02").state == "live", "live again")
    after = await decoded_frames(viewer.tracks["video"], 10)
    assert after[-1] > before[-1]
