"""Talk-back (喊话与工位通知) with ``media_backend = janus``: the seat's picture goes to Janus,
while push to talk and text announcements still go through the hub (its own send-only audio
connection to the seat, and the seat link). A seat agent publishing the test pattern to a real
Janus and listening for talk-back on the same seat link hears a supervisor's turn and gets an
announcement addressed to it, its picture live in Janus all along."""

from __future__ import annotations

from seat_agent.talkback import TalkbackReceiver
from seat_protocol.events import Event, MessageReceived
from seat_protocol.messages import Announcement
from tests.janus.conftest import plane
from tests.live.conftest import Rig, eventually
from tests.talkback.test_announcements import send
from tests.talkback.test_voice import offer_to_speak
from tests.talkback.test_voice_processes import _end


async def test_push_to_talk_and_an_announcement_reach_a_seat_publishing_to_janus(
    rig: Rig,
) -> None:
    seats = rig.ids["seats"]
    seat = await rig.publish("DL-01", "DL")
    # The seat agent's two handlers on one link, as ``seat-agent run --publish`` has them; set
    # before the link's task first runs, so the listener sees the link come up too.
    receiver = TalkbackReceiver(seat.link.send)
    publisher = seat.link.on_event
    heard: list[Announcement] = []

    async def on_event(event: Event) -> None:
        await publisher(event)
        await receiver.on_event(event)
        if isinstance(event, MessageReceived) and isinstance(event.message, Announcement):
            heard.append(event.message)

    seat.link.on_event = on_event
    try:
        await eventually(lambda: plane(rig).status("DL.DL-01").state == "live", "DL-01 is live")
        await eventually(lambda: receiver.answered == 1, "DL-01 listens for talk-back")

        # 大理's supervisor talks to the seat: it decodes the voice, the turn ends with frames.
        speaker, started = await offer_to_speak(
            rig, "dl_supervisor", {"seat_id": seats["DL-01"]}, 201
        )
        try:
            assert (started["seats"], started["listening"]) == (["DL.DL-01"], ["DL.DL-01"])
            await eventually(lambda: receiver.frames >= 25, "the seat decoded half a second")
            ended = await _end(rig, "dl_supervisor", started["talk_id"], 200)
            assert ended["talk_id"] == started["talk_id"] and ended["frames"] > 0
        finally:
            await speaker.close()

        # A text announcement to the seat, pushed over its link at once.
        sent = await send(
            rig, "dl_supervisor", {"text": "请调整摄像头", "seat_id": seats["DL-01"]}, 201
        )
        assert sent["pushed"] == ["DL.DL-01"]
        await eventually(lambda: len(heard) == 1, "the seat got the announcement")
        assert (heard[0].announcement_id, heard[0].text) == (sent["id"], "请调整摄像头")
        # Its picture stayed with Janus, published once, throughout.
        status = plane(rig).status("DL.DL-01")
        assert (status.state, status.publications) == ("live", 1)
    finally:
        await receiver.close()
