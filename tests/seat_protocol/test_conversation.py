"""The hub and seat machines wired back to back: handshake, scores, chapters, heartbeats."""

from __future__ import annotations

import hashlib
import json

import pytest

from seat_protocol.closecodes import CloseCode
from seat_protocol.events import (
    ChunkReceived,
    ChunksRequested,
    CloseConnection,
    CommitScore,
    Connected,
    Disconnected,
    MessageReceived,
    ScoreCommitted,
    ScoreRefused,
    SendText,
)
from seat_protocol.exceptions import InvalidState
from seat_protocol.hub_side import ConnectionState, HubChannels, Timing, score_digest
from seat_protocol.messages import (
    ChapterManifest,
    CheckinRequest,
    CheckinResult,
    ChunkRequest,
    ErrorNotice,
    ManifestChapter,
    ReviewRequestNotice,
    SessionStateNotice,
    b64,
)
from seat_protocol.streams import Channel
from tests.seat_protocol.wire import SEAT_ID, Link, connect


def _types(texts: list[str]) -> list[str]:
    return [json.loads(t)["type"] for t in texts]


@pytest.fixture
def link() -> Link:
    return connect(channels=HubChannels(), seat_channel=Channel())


def test_handshake(link: Link) -> None:
    assert _types(link.sent_by_seat) == ["hello", "auth", "resume"]
    assert _types(link.sent_by_hub) == ["challenge", "welcome"]
    assert link.hub.state is link.seat.state is ConnectionState.OPEN
    assert link.hub_events == [Connected(SEAT_ID, lost_incoming=False, peer_lost=False)]
    assert link.seat_events == [Connected(SEAT_ID, lost_incoming=False, peer_lost=False)]
    assert json.loads(link.sent_by_hub[1]) == {
        "type": "welcome",
        "hub_id": "hub-1",
        "heartbeat_interval": 5.0,
        "resume_after": 0,
        "last_received": 0,
    }


def test_score_is_acknowledged_only_after_the_commit(link: Link) -> None:
    sheet = {"item-1": 8.5, "item-2": 12}
    link.seat.submit_score("e7:ch3:v1", "S2024-17", sheet)
    link.pump()
    commit = CommitScore(SEAT_ID, "e7:ch3:v1", "S2024-17", sheet, score_digest("S2024-17", sheet))
    assert link.hub_events[1:] == [commit]
    assert link.seat_events[1:] == []
    assert _types(link.sent_by_hub)[-1] == "ack"  # received, not yet committed

    link.hub.score_committed("e7:ch3:v1")
    link.pump()
    assert link.seat_events[1:] == [ScoreCommitted("e7:ch3:v1")]


def test_replayed_score_is_reacked_without_a_second_commit(link: Link) -> None:
    sheet = {"item-1": 8.5}
    link.seat.submit_score("k1", "S1", sheet)
    link.pump()
    link.seat.submit_score("k1", "S1", dict(sheet))  # replay while the commit is in flight
    link.pump()
    assert [e for e in link.hub_events if isinstance(e, CommitScore)] == [link.hub_events[1]]
    link.hub.score_committed("k1")
    link.seat.submit_score("k1", "S1", {"item-1": 8.5})  # the outbox replays after a crash
    link.pump()
    assert [e for e in link.hub_events if isinstance(e, CommitScore)] == [link.hub_events[1]]
    assert link.seat_events[1:] == [ScoreCommitted("k1"), ScoreCommitted("k1")]
    with pytest.raises(InvalidState, match="no score with idempotency key 'k1' is waiting"):
        link.hub.score_committed("k1")


def test_same_key_with_another_sheet_is_refused_and_changes_nothing(link: Link) -> None:
    link.seat.submit_score("k1", "S1", {"item-1": 8.5})
    link.pump()
    link.hub.score_committed("k1")
    link.seat.submit_score("k1", "S1", {"item-1": 9.5})
    link.pump()
    assert sum(isinstance(e, CommitScore) for e in link.hub_events) == 1
    assert link.seat_events[-1] == ScoreRefused(
        "k1",
        "idempotency-conflict",
        "该评分提交的幂等键已用于内容不同的另一次提交，本次提交未被接受，请联系现场工作人员",
    )


def test_the_verdict_rides_on_score_ack_and_answers_every_replay(link: Link) -> None:
    link.seat.submit_score("k1", "S1", {"item-1": 99}, signature="ab" * 64)
    link.pump()
    commit = link.hub_events[-1]
    assert isinstance(commit, CommitScore) and commit.signature == "ab" * 64
    link.hub.score_committed(
        "k1", accepted=False, code="sheet-invalid", message="评分表未被接受：1.1：超出分值范围"
    )
    link.seat.submit_score("k1", "S1", {"item-1": 99}, signature="ab" * 64)  # a replay
    link.pump()
    refused = ScoreRefused("k1", "sheet-invalid", "评分表未被接受：1.1：超出分值范围")
    assert link.seat_events[1:] == [refused, refused]
    assert sum(isinstance(e, CommitScore) for e in link.hub_events) == 1
    acks = [json.loads(x) for x in link.sent_by_hub if json.loads(x)["type"] == "score_ack"]
    assert acks[0] == {
        "type": "score_ack",
        "seq": 1,
        "idempotency_key": "k1",
        "accepted": False,
        "code": "sheet-invalid",
        "message": "评分表未被接受：1.1：超出分值范围",
    }


def test_a_version_1_seat_hears_what_version_1_says() -> None:
    """An old seat's decoder refuses fields it does not know (4001): the hub speaks its
    version, so the old seat keeps working — an accepted save is the bare ack, a refused one
    the error it took for a refusal, and an informational notice never reaches it."""
    link = connect(channels=HubChannels(), seat_channel=Channel(), protocol_version=1)
    assert json.loads(link.sent_by_seat[0])["protocol_version"] == 1
    link.seat.submit_score("k1", "S1", {"item-1": 8})
    link.seat.submit_score("k2", "S1", {"item-1": 99})
    link.pump()
    link.hub.score_committed("k1")
    link.hub.score_committed("k2", accepted=False, code="sheet-invalid", message="超出分值范围")
    link.hub.send(
        ReviewRequestNotice(
            session_id="S1", request_id=3, round=1, part="commercial", subject="b01",
            item="c1", reason="objective_inconsistent", message="仅供知悉", spread={},
            explainable=False, informational=True,
        )
    )  # fmt: skip
    link.pump()
    assert link.seat.state is ConnectionState.OPEN  # nothing it could not read
    hub_said = [json.loads(t) for t in link.sent_by_hub[2:] if json.loads(t)["type"] != "ack"]
    assert hub_said == [
        {"type": "score_ack", "seq": 1, "idempotency_key": "k1"},
        {"type": "error", "seq": 2, "code": "sheet-invalid", "message": "超出分值范围",
         "ref": "k2"},
    ]  # fmt: skip
    assert link.seat_events[1] == ScoreCommitted("k1")
    notice = link.seat_events[2]
    assert isinstance(notice, MessageReceived) and isinstance(notice.message, ErrorNotice)


def test_a_seat_of_an_unknown_version_is_refused() -> None:
    link = connect(channels=HubChannels(), seat_channel=Channel(), protocol_version=4)
    assert link.hub_closes == [
        CloseConnection(4002, "unsupported protocol version: seat speaks version 4, this hub "
                        "speaks 1, 2, 3")
    ]  # fmt: skip


def test_rejected_score_is_reported_and_may_be_judged_again(link: Link) -> None:
    link.seat.submit_score("k1", "S1", {"item-1": 99})
    link.pump()
    link.hub.score_rejected("k1", "score-out-of-range", "第1项得分超出允许范围")
    link.pump()
    notice = link.seat_events[-1]
    assert isinstance(notice, MessageReceived)
    assert isinstance(notice.message, ErrorNotice)
    assert notice.message == ErrorNotice(
        seq=notice.message.seq, code="score-out-of-range", message="第1项得分超出允许范围", ref="k1"
    )
    link.seat.submit_score("k1", "S1", {"item-1": 9})
    link.pump()
    assert sum(isinstance(e, CommitScore) for e in link.hub_events) == 2
    with pytest.raises(InvalidState):
        link.hub.score_rejected("nope", "x", "y")


def _manifest(*contents: bytes) -> tuple[ChapterManifest, list[str]]:
    hashes = [hashlib.sha256(c).hexdigest() for c in contents]
    chapter = ManifestChapter(
        label="第二章 C",
        position=1,
        sha256=hashlib.sha256(b"".join(contents)).hexdigest(),
        size=sum(map(len, contents)),
        wrapped_key=b64(bytes(60)),
        chunks=tuple(hashes),
    )
    return ChapterManifest(session_id="S1", chapters=(chapter,)), hashes


def test_chapter_sync(link: Link) -> None:
    manifest, hashes = _manifest(b"chunk one", b"chunk two")
    sent = link.hub.send(manifest)
    link.pump()
    assert link.seat_events[-1] == MessageReceived(SEAT_ID, sent)
    link.seat.send(ChunkRequest(chunks=tuple(hashes)))
    link.pump()
    assert link.hub_events[-1] == ChunksRequested(SEAT_ID, tuple(hashes))
    link.hub.send_chunk(hashes[0], b"chunk one")
    link.hub.send_chunk(hashes[1], b"chunk two")
    link.pump()
    assert link.seat_events[-2:] == [
        ChunkReceived(hashes[0], b"chunk one"),
        ChunkReceived(hashes[1], b"chunk two"),
    ]
    with pytest.raises(ValueError, match=f"chunk data does not hash to {hashes[0]}"):
        link.hub.send_chunk(hashes[0], b"something else")


def test_a_chunk_outside_this_seats_manifests_is_refused(link: Link) -> None:
    manifest, hashes = _manifest(b"mine")
    link.hub.send(manifest)
    link.pump()
    theirs = hashlib.sha256(b"another seat's chapter").hexdigest()
    link.seat.send(ChunkRequest(chunks=(hashes[0], theirs)))
    link.pump()
    assert not any(isinstance(e, ChunksRequested) for e in link.hub_events)
    error = link.seat_events[-1]
    assert isinstance(error, MessageReceived)
    assert isinstance(error.message, ErrorNotice)
    assert (error.message.code, error.message.ref) == ("chunk-not-in-manifest", theirs)
    assert link.hub.state is ConnectionState.OPEN


def test_check_in_and_session_notices(link: Link) -> None:
    request = link.seat.send(CheckinRequest(session_id="S1", expert_code="E1001", pin="482913"))
    link.pump()
    assert link.hub_events[-1] == MessageReceived(SEAT_ID, request)
    result = link.hub.send(
        CheckinResult(session_id="S1", accepted=True, message="签到成功", attempts_left=None)
    )
    notice = link.hub.send(SessionStateNotice(session_id="S1", state="check_in", at=1.5e9))
    link.pump()
    assert link.seat_events[-2:] == [
        MessageReceived(SEAT_ID, result),
        MessageReceived(SEAT_ID, notice),
    ]


def test_heartbeat_pings_and_times_out() -> None:
    link = connect(channels=HubChannels(), seat_channel=Channel(), now=100.0)
    assert link.hub.next_deadline() == 105.0
    link.hub.tick(104.9)
    assert link.hub.data_to_send() == []
    link.hub.tick(105.0)
    assert link.hub.data_to_send() == [SendText('{"type":"ping","id":1}')]
    assert link.hub.next_deadline() == 110.0
    link.hub.tick(114.9)
    link.hub.data_to_send()
    assert link.hub.state is ConnectionState.OPEN
    link.hub.tick(115.0)
    assert link.hub.data_to_send() == [
        CloseConnection(4008, "heartbeat timeout: nothing received for 15 s")
    ]
    assert link.hub.events_received() == [
        Disconnected(SEAT_ID, 4008, "heartbeat timeout: nothing received for 15 s", permanent=False)
    ]
    assert link.hub.next_deadline() is None


def test_pongs_keep_the_connection_alive() -> None:
    link = connect(channels=HubChannels(), seat_channel=Channel(), now=0.0)
    for now in range(5, 200, 5):
        link.hub.tick(float(now))
        link.seat.tick(float(now))
        link.pump(float(now))
    assert link.hub.state is link.seat.state is ConnectionState.OPEN
    assert _types(link.sent_by_seat).count("pong") == 39
    # The seat adopts the hub's interval and gives up after three of them.
    assert link.seat.timing == Timing(heartbeat_interval=5.0, heartbeat_timeout=15.0)


def test_seat_notices_a_silent_hub() -> None:
    link = connect(channels=HubChannels(), seat_channel=Channel(), now=0.0)
    link.seat.tick(15.0)
    assert link.seat.data_to_send()[-1] == CloseConnection(
        4008, "heartbeat timeout: nothing received for 15 s"
    )


def test_handshake_timeout() -> None:
    link = connect(channels=HubChannels(), seat_channel=Channel(), now=0.0, pump=False)
    link.hub.tick(9.9)
    assert link.hub.data_to_send() == []
    assert link.hub.next_deadline() == 10.0
    link.hub.tick(10.0)
    assert link.hub.data_to_send() == [
        CloseConnection(CloseCode.HANDSHAKE_TIMEOUT, "handshake timeout: no handshake within 10 s")
    ]
    link.seat.tick(10.0)
    assert link.seat.data_to_send()[-1] == CloseConnection(
        4010, "handshake timeout: no handshake within 10 s"
    )


def test_a_newer_connection_replaces_the_older_one() -> None:
    channels = HubChannels()
    first = connect(channels=channels, seat_channel=Channel())
    second = connect(channels=channels, seat_channel=Channel())
    assert first.hub.data_to_send() == [CloseConnection(4009, "replaced by a newer connection")]
    assert first.hub.events_received() == [
        Disconnected(SEAT_ID, 4009, "replaced by a newer connection", permanent=True)
    ]
    assert second.hub_events == [Connected(SEAT_ID, False, False, replaced=first.hub)]
    channels.get(SEAT_ID).send(SessionStateNotice(session_id="S1", state="paused", at=2.0))
    assert first.hub.data_to_send() == []
    second.pump()
    notice = second.seat_events[-1]
    assert isinstance(notice, MessageReceived)
    assert isinstance(notice.message, SessionStateNotice)


def test_data_after_close_is_ignored(link: Link) -> None:
    link.hub.close(CloseCode.HUB_SHUTTING_DOWN)
    assert link.hub.data_to_send() == [CloseConnection(4012, "hub shutting down")]
    link.hub.receive_text("garbage", 1.0)
    link.hub.tick(1000.0)
    link.hub.connection_lost(1000, "")
    assert link.hub.data_to_send() == []
    assert len(link.hub.events_received()) == 1
    assert link.hub.state is ConnectionState.CLOSED
