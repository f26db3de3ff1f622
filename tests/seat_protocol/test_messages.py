from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seat_protocol.closecodes import CloseCode
from seat_protocol.exceptions import MalformedMessage, MessageTooBig, ProtocolError
from seat_protocol.messages import (
    CHUNK_SIZE,
    MAX_CONTROL_MESSAGE_BYTES,
    MAX_MESSAGE_BYTES,
    MESSAGE_TYPES,
    Ack,
    Announcement,
    Auth,
    ChairBallot,
    ChairCandidate,
    ChairRoundNotice,
    ChairTally,
    Challenge,
    ChapterManifest,
    ChapterStatus,
    CheckinRequest,
    CheckinResult,
    Chunk,
    ChunkRequest,
    CommitmentDecision,
    Enroll,
    EnrollReceived,
    ErrorNotice,
    ExpertBriefing,
    Hello,
    ManifestChapter,
    MediaAnswer,
    MediaOffer,
    Message,
    Ping,
    Pong,
    PresenceNotice,
    Refused,
    ReportForSignature,
    ReportSignature,
    RequestResult,
    Resume,
    ReviewAnswer,
    ReviewRequestNotice,
    ScoreAck,
    SessionStateNotice,
    SubmitScore,
    TalkbackAnswer,
    TalkbackOffer,
    Welcome,
    b64,
    decode,
    encode,
    for_version,
)

H = hashlib.sha256(b"x").hexdigest()
CHAPTER = ManifestChapter(
    label="第3章 B", position=2, sha256=H, size=10, wrapped_key=b64(b"k" * 40), chunks=(H, H)
)
SAMPLES: list[Message] = [
    Hello(protocol_version=1, seat_id="seat-a1", agent="seat-agent 0.1"),
    Challenge(hub_id="hub-1", nonce=b64(bytes(32))),
    Auth(signature=b64(bytes(64)), last_received=7),
    Welcome(hub_id="hub-1", heartbeat_interval=5.0, resume_after=3, last_received=2),
    Refused(code=4004, reason="unknown seat: seat 'x' is not enrolled"),
    Resume(resume_after=4),
    Enroll(
        seat_id="seat-a1",
        ed25519_public_key=b64(bytes(32)),
        x25519_public_key=b64(bytes(32)),
        enrolment_code="12345 67890 12345 67890 12345",
    ),
    EnrollReceived(seat_id="seat-a1", enrolment_code="12345 67890 12345 67890 12345"),
    Ping(id=1),
    Pong(id=1),
    Ack(seq=9),
    SubmitScore(seq=1, idempotency_key="s1:e3:1", session_id="2024-17", sheet={"i1": 7.5}),
    ScoreAck(seq=2, idempotency_key="s1:e3:1"),
    ChapterManifest(seq=3, session_id="2024-17", chapters=(CHAPTER,)),
    ChunkRequest(seq=4, chunks=(H,)),
    ChapterStatus(
        seq=18, session_id="2024-17", manifest=H, chapters=3, verified=2, failed=("ch1-B",)
    ),
    Chunk(seq=5, sha256=H, data=b64(b"x")),
    CheckinRequest(seq=6, session_id="2024-17", expert_code="E1001", pin="123456"),
    CheckinResult(seq=7, session_id="2024-17", accepted=False, message="PIN 错误", attempts_left=2),
    SessionStateNotice(seq=8, session_id="2024-17", state="evaluating", at=1700000000.5),
    ErrorNotice(seq=9, code="chunk-not-in-manifest", message="已拒绝", ref=None),
    MediaOffer(seq=10, offer_id="mo-1", sdp="v=0\r\n"),
    MediaAnswer(seq=10, offer_id="mo-1", sdp="v=0\r\n"),
    ExpertBriefing(
        seq=11,
        session_id="17",
        expert_code="E01",
        bidder_count=5,
        state="check_in",
        rubric={"parts": [{"part": "ch1", "labels": ["AB"], "items": []}]},
    ),
    ReviewRequestNotice(
        seq=12,
        session_id="17",
        request_id=3,
        round=1,
        part="ch1",
        subject="AB",
        item="1.1",
        reason="deviation",
        message="ch1 AB 1.1 偏离其他专家平均分",
        spread={"yours": "9", "others": ["5", "6"], "mean": "6.67"},
        explainable=True,
    ),
    ReviewAnswer(seq=13, session_id="17", request_id=3, answer="keep", reason="施工方案详实"),
    CommitmentDecision(seq=17, session_id="17", decision="recused", reason="曾任投标人顾问"),
    ReportForSignature(seq=14, session_id="17", expert_code="E01", result={"candidates": []}),
    ReportSignature(
        seq=15,
        session_id="17",
        decision="agree",
        reason="",
        public_key="ab" * 32,
        signature="cd" * 64,
    ),
    RequestResult(seq=16, ref="review:3", accepted=True, code="accepted", message="已答复"),
    PresenceNotice(
        seq=18, session_id="17", expert_code="E01", state="unconfirmed", message="未检测到画面"
    ),
    ChairBallot(seq=19, session_id="17", round=2, candidate="E03"),
    ChairRoundNotice(
        seq=20,
        session_id="17",
        round=2,
        candidates=(ChairCandidate(code="E01", name="赵建国"), ChairCandidate(code="E03", name="")),
        ballot="E03",
        waiting=3,
        results=(
            ChairTally(
                round=1, votes={"E01": 2, "E02": 0, "E03": 2}, chair=None, tied=("E01", "E03")
            ),
        ),
        chair=None,
    ),
    Announcement(
        seq=21,
        announcement_id=4,
        session_id="17",
        role="venue_supervisor",
        role_name="客场监督人员",
        text="请调整摄像头角度",
        at=1_764_000_000.5,
    ),
    TalkbackOffer(seq=22, offer_id="tb-1", sdp="v=0\r\n"),
    TalkbackAnswer(seq=23, offer_id="tb-1", sdp="v=0\r\n"),
]


def test_samples_cover_every_message_type() -> None:
    assert {m.type for m in SAMPLES} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: m.type)
def test_round_trip(msg: Message) -> None:
    text = encode(msg)
    assert json.loads(text)["type"] == msg.type
    assert decode(text) == msg


def test_wire_form_is_flat_json_with_type_first() -> None:
    assert encode(Ack(seq=3)) == '{"type":"ack","seq":3}'
    assert encode(
        CheckinResult(seq=1, session_id="s", accepted=True, message="签到成功", attempts_left=None)
    ) == (
        '{"type":"checkin_result","seq":1,"session_id":"s","accepted":true,'
        '"message":"签到成功","attempts_left":null}'
    )


def _reject(text: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode(text)
    return info.value


def _body(**fields: Any) -> str:
    return json.dumps(fields)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "{",
            "message is not valid JSON (Expecting property name enclosed in double quotes at character 1)",
        ),
        ("[1]", "message is not a JSON object"),
        ('{"seq": 1}', "message has no string field 'type'"),
        ('{"type": 3}', "message has no string field 'type'"),
        (_body(type="shout"), "unknown message type 'shout'"),
        (_body(type="ping"), "ping message is missing field 'id'"),
        (_body(type="ping", id=1, x=2), "ping message has unexpected field 'x'"),
        (
            _body(type="ping", id="1"),
            "ping message: field 'id' must be an integer from 0 to 2^53-1",
        ),
        (
            _body(type="ping", id=True),
            "ping message: field 'id' must be an integer from 0 to 2^53-1",
        ),
        (_body(type="ping", id=-1), "ping message: field 'id' must be an integer from 0 to 2^53-1"),
        (
            _body(type="ping", id=2**53),
            "ping message: field 'id' must be an integer from 0 to 2^53-1",
        ),
        (
            _body(type="ping", id=1.0),
            "ping message: field 'id' must be an integer from 0 to 2^53-1",
        ),
        ('{"type":"ping","id":1,"id":2}', "message is not acceptable JSON (duplicate key 'id')"),
        (
            '{"type":"welcome","hub_id":"h","heartbeat_interval":NaN,"resume_after":0,"last_received":0}',
            "message is not acceptable JSON (NaN is not allowed)",
        ),
        (
            _body(
                type="welcome", hub_id="h", heartbeat_interval="5", resume_after=0, last_received=0
            ),
            "welcome message: field 'heartbeat_interval' must be a number",
        ),
        (
            _body(
                type="welcome", hub_id="h", heartbeat_interval=0, resume_after=0, last_received=0
            ),
            "welcome message: field 'heartbeat_interval' must be in (0, 300]",
        ),
        (
            _body(type="hello", protocol_version=1, seat_id="../etc", agent="a"),
            "hello message: field 'seat_id' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        ),
        (
            _body(type="hello", protocol_version=1, seat_id="s", agent=""),
            "hello message: field 'agent' must not be empty",
        ),
        (
            '{"type":"hello","protocol_version":1,"seat_id":"s","agent":"\\ud800"}',
            "hello message: field 'agent' must be valid UTF-8 text",
        ),
        (
            _body(type="challenge", hub_id="h", nonce="AAAA"),
            "challenge message: field 'nonce' must decode to 32 bytes",
        ),
        (
            _body(type="challenge", hub_id="h", nonce="not base64!"),
            "challenge message: field 'nonce' is not standard base64",
        ),
        (_body(type="ack", seq=0), "ack message: field 'seq' must be at least 1"),
        (
            _body(type="resume", resume_after=None),
            "resume message: field 'resume_after' must be an integer from 0 to 2^53-1",
        ),
        (
            _body(type="score_ack", seq=0, idempotency_key="k"),
            "score_ack message: field 'seq' must be at least 1",
        ),
        (
            _body(type="score_ack", seq=1, idempotency_key="a b"),
            "score_ack message: field 'idempotency_key' must be 1-128 letters, digits, '.', '_', ':' or '-'",
        ),
        (
            _body(type="submit_score", seq=1, idempotency_key="k", session_id="s", sheet=[1]),
            "submit_score message: field 'sheet' must be an object",
        ),
        (
            _body(type="chunk_request", seq=1, chunks=H),
            "chunk_request message: field 'chunks' must be an array",
        ),
        (
            _body(type="chunk_request", seq=1, chunks=[]),
            "chunk_request message: field 'chunks' must list 1-64 hashes",
        ),
        (
            _body(type="chunk_request", seq=1, chunks=[H.upper()]),
            "chunk_request message: field 'chunks' must be 64 lowercase hex digits",
        ),
        (
            _body(type="chunk_request", seq=1, chunks=[H] * 65),
            "chunk_request message: field 'chunks' must list 1-64 hashes",
        ),
        (
            _body(
                type="checkin_result",
                seq=1,
                session_id="s",
                accepted=1,
                message="",
                attempts_left=None,
            ),
            "checkin_result message: field 'accepted' must be true or false",
        ),
        (
            _body(type="chapter_manifest", seq=1, session_id="s", chapters=[{"label": "A"}]),
            "chapter_manifest.chapters message is missing field 'position'",
        ),
        (
            _body(type="chapter_manifest", seq=1, session_id="s", chapters=["A"]),
            "chapter_manifest message: field 'chapters' must be an object",
        ),
        (
            _body(type="refused", code=1000, reason="x"),
            "refused message: field 'code' must be in 4000-4999",
        ),
        (
            _body(
                type="enroll",
                seat_id="s",
                ed25519_public_key=b64(bytes(32)),
                x25519_public_key=b64(bytes(32)),
                enrolment_code="abcd-efgh",
            ),
            "enroll message: field 'enrolment_code' must be five groups of five digits separated by spaces",
        ),
        (
            _body(type="chair_ballot", seq=1, session_id="s", round=0, candidate="E01"),
            "chair_ballot message: field 'round' must be at least 1",
        ),
        (
            _body(
                type="presence_check",
                seq=1,
                session_id="s",
                expert_code="E01",
                state="maybe",
                message="x",
            ),
            "presence_check message: field 'state' must be confirmed, unconfirmed, confirmed_by_hand",
        ),
        (
            _body(
                type="chair_round",
                seq=1,
                session_id="s",
                round=1,
                candidates=[],
                ballot=None,
                waiting=0,
                chair=None,
                results=[{"round": 1, "votes": {"E01": "2"}, "chair": None, "tied": []}],
            ),
            "chair_round.results message: field 'votes' must map codes to whole numbers of votes",
        ),
        ("[" * 100_000 + "]" * 100_000, "message is nested too deeply"),
    ],
)
def test_malformed_messages_are_refused_with_4001(text: str, reason: str) -> None:
    err = _reject(text)
    assert isinstance(err, MalformedMessage)
    assert (err.code, err.reason) == (CloseCode.PROTOCOL_ERROR, reason)


def test_chapter_manifest_rejects_a_bad_nested_chapter() -> None:
    chapter = json.loads(encode(SAMPLES[13]))["chapters"][0]
    chapter["chunks"] = []
    err = _reject(_body(type="chapter_manifest", seq=1, session_id="s", chapters=[chapter]))
    assert (
        err.reason
        == "chapter_manifest.chapters message: field 'chunks' must list at least one chunk"
    )
    chapter["chunks"] = [H]
    chapter["extra"] = 1
    err = _reject(_body(type="chapter_manifest", seq=1, session_id="s", chapters=[chapter]))
    assert err.reason == "chapter_manifest.chapters message has unexpected field 'extra'"


def test_long_unknown_type_names_are_cut_in_the_reason() -> None:
    err = _reject(_body(type="x" * 100))
    assert err.reason == "unknown message type '" + "x" * 32 + "...'"


def test_control_message_over_64_kib_is_too_big() -> None:
    text = _body(
        type="hello", protocol_version=1, seat_id="s", agent="a" * MAX_CONTROL_MESSAGE_BYTES
    )
    err = _reject(text)
    assert isinstance(err, MessageTooBig)
    assert (err.code, err.reason) == (
        CloseCode.MESSAGE_TOO_BIG,
        f"hello message is {len(text)} bytes, the limit is 65536",
    )


def test_any_message_over_the_frame_limit_is_too_big_before_parsing() -> None:
    text = "x" * (MAX_MESSAGE_BYTES + 1)
    err = _reject(text)
    assert (err.code, err.reason) == (
        CloseCode.MESSAGE_TOO_BIG,
        "message is 524289 bytes, the limit is 524288",
    )
    # Multi-byte characters count as the bytes they take on the wire.
    err = _reject("中" * (MAX_MESSAGE_BYTES // 3 + 1))
    assert err.reason == "message is 524289 bytes, the limit is 524288"


def test_a_full_chunk_fits_and_a_bigger_one_does_not() -> None:
    data = bytes(CHUNK_SIZE)
    msg = Chunk(seq=1, sha256=hashlib.sha256(data).hexdigest(), data=b64(data))
    assert decode(encode(msg)) == msg
    with pytest.raises(ValueError, match="field 'data' must decode to at most 262144 bytes"):
        Chunk(seq=1, sha256=H, data=b64(bytes(CHUNK_SIZE + 1)))


def test_encode_refuses_what_decode_would_refuse() -> None:
    with pytest.raises(MessageTooBig) as info:
        encode(
            SubmitScore(
                seq=1,
                idempotency_key="k",
                session_id="s",
                sheet={"c": "x" * MAX_CONTROL_MESSAGE_BYTES},
            )
        )
    assert info.value.reason == "submit_score message is 65623 bytes, the limit is 65536"
    with pytest.raises(
        ValueError, match="score_ack message has no sequence number; send it through a channel"
    ):
        encode(ScoreAck(idempotency_key="k"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_fuzz_decode_any_text(text: str) -> None:
    with contextlib.suppress(ProtocolError):
        decode(text)


@settings(max_examples=300)
@given(st.sampled_from(SAMPLES), st.data())
def test_fuzz_decode_mutated_messages(msg: Message, data: st.DataObject) -> None:
    body = json.loads(encode(msg))
    keys = sorted(body)
    action = data.draw(st.sampled_from(["replace", "drop", "add"]))
    if action == "replace":
        body[data.draw(st.sampled_from(keys))] = data.draw(json_values)
    elif action == "drop":
        del body[data.draw(st.sampled_from(keys))]
    else:
        body[data.draw(st.text(max_size=8))] = data.draw(json_values)
    try:
        decoded = decode(json.dumps(body))
    except ProtocolError:
        return
    # Whatever is accepted encodes again to the same message.
    assert decode(encode(decoded)) == decoded


@settings(max_examples=200)
@given(json_values)
def test_fuzz_decode_any_json(value: object) -> None:
    with contextlib.suppress(ProtocolError):
        decode(json.dumps(value))


def test_fields_added_in_version_2_are_left_out_at_their_default_and_filled_in_when_missing() -> (
    None
):
    # An accepted save's acknowledgement is the same frame a version-1 seat reads.
    assert encode(ScoreAck(seq=2, idempotency_key="k")) == (
        '{"type":"score_ack","seq":2,"idempotency_key":"k"}'
    )
    refused = ScoreAck(
        seq=3, idempotency_key="k", accepted=False, code="not-scoring", message="不接受评分"
    )
    assert json.loads(encode(refused)) == {
        "type": "score_ack",
        "seq": 3,
        "idempotency_key": "k",
        "accepted": False,
        "code": "not-scoring",
        "message": "不接受评分",
    }
    assert decode(encode(refused)) == refused
    assert decode('{"type":"score_ack","seq":2,"idempotency_key":"k"}') == ScoreAck(
        seq=2, idempotency_key="k", accepted=True, code="", message=""
    )
    # A version-1 seat's save has no signature: it decodes, and the hub refuses it itself.
    old = '{"type":"submit_score","seq":1,"idempotency_key":"k","session_id":"7","sheet":{}}'
    assert decode(old) == SubmitScore(seq=1, idempotency_key="k", session_id="7", sheet={})
    signed = SubmitScore(seq=1, idempotency_key="k", session_id="7", sheet={}, signature="ab" * 64)
    assert decode(encode(signed)) == signed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            '{"type":"score_ack","seq":1,"idempotency_key":"k","accepted":false}',
            "score_ack message: field 'code' must not be empty",
        ),
        (
            '{"type":"submit_score","seq":1,"idempotency_key":"k","session_id":"7","sheet":{},'
            '"signature":"XY"}',
            "submit_score message: field 'signature' must be 128 lowercase hex digits",
        ),
        (
            '{"type":"score_ack","seq":1,"idempotency_key":"k","accepted":"yes"}',
            "score_ack message: field 'accepted' must be true or false",
        ),
    ],
)
def test_bad_version_2_fields_are_refused(text: str, reason: str) -> None:
    err = _reject(text)
    assert isinstance(err, MalformedMessage)
    assert (err.code, err.reason) == (CloseCode.PROTOCOL_ERROR, reason)


def test_a_version_1_peer_is_sent_what_version_1_speaks() -> None:
    accepted = ScoreAck(seq=4, idempotency_key="k", code="accepted", message="已保存")
    assert for_version(accepted, 1) == ScoreAck(seq=4, idempotency_key="k")
    refused = ScoreAck(seq=5, idempotency_key="k", accepted=False, code="c", message="理由")
    assert for_version(refused, 1) == ErrorNotice(seq=5, code="c", message="理由", ref="k")
    told = ReviewRequestNotice(
        session_id="17", request_id=3, round=1, part="commercial", subject="b01", item="c1",
        reason="objective_inconsistent", message="仅供知悉", spread={}, explainable=False,
        informational=True,
    )  # fmt: skip
    assert for_version(told, 1) is None
    assert for_version(told, 2) is told
    assert for_version(accepted, 2) is accepted
    # An announcement is new in version 3: an older agent would close the link on it.
    said = Announcement(
        seq=6, announcement_id=1, session_id="1", role="host_operator", role_name="主场业务人员",
        at=1.0, text="请注意",
    )  # fmt: skip
    assert for_version(said, 2) is None
    assert for_version(said, 1) is None
    assert for_version(said, 3) is said
