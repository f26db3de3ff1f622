"""Every message of the hub <-> seat protocol, and the JSON codec both ends use.

A message is a frozen dataclass with a ``type`` tag (its class variable) and a ``sender``: the
end that may send it (``"hub"``, ``"seat"`` or ``"both"``). On the wire it is one JSON object
per websocket text frame: ``{"type": "...", <fields>}`` with exactly the dataclass's fields.

Application messages (:class:`AppMessage` subclasses) carry a per-direction sequence number
``seq``; the receiver acknowledges them with :class:`Ack` and they are resent after a reconnect
until acknowledged. Handshake, heartbeat and ack messages are not sequenced.

``decode`` is strict: anything it does not accept raises a :class:`ProtocolError` subclass with
the close code to use, never another exception. ``encode`` refuses to produce a message that
``decode`` would refuse for its size. Binary fields are standard base64 text.

Versions. A field added after version 1 is declared with :func:`_added` (the version that added
it and its default): ``encode`` leaves it out while it holds its default and ``decode`` fills the
default in when it is missing, so a message that uses nothing new is the same frame in every
version. A version-1 peer's decoder refuses any field it does not know (it closes with 4001):
the hub learns the seat's version from ``hello`` and hands every message it sends through
:func:`for_version`, which turns it into what that version speaks (or drops it).

This module must never import anything from ``evaluation_hub`` or ``seat_agent``, and does no I/O.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from seat_protocol.auth import ENROLMENT_CODE
from seat_protocol.exceptions import MalformedMessage, MessageTooBig

__all__ = [
    "CHUNK_SIZE",
    "MAX_ANNOUNCEMENT_CHARS",
    "MAX_CHUNKS_PER_REQUEST",
    "MAX_CONTROL_MESSAGE_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_SDP_CHARS",
    "MESSAGE_TYPES",
    "PROTOCOL_VERSION",
    "SUBPROTOCOL",
    "SUPPORTED_VERSIONS",
    "Ack",
    "Announcement",
    "AppMessage",
    "Auth",
    "ChairBallot",
    "ChairCandidate",
    "ChairRoundNotice",
    "ChairTally",
    "Challenge",
    "ChapterManifest",
    "ChapterStatus",
    "CheckinRequest",
    "CheckinResult",
    "Chunk",
    "ChunkData",
    "ChunkRequest",
    "CommitmentDecision",
    "Enroll",
    "EnrollReceived",
    "ErrorNotice",
    "ExpertBriefing",
    "Hello",
    "ManifestChapter",
    "MediaAnswer",
    "MediaOffer",
    "Message",
    "Ping",
    "Pong",
    "PresenceNotice",
    "Refused",
    "ReportForSignature",
    "ReportSignature",
    "RequestResult",
    "Resume",
    "ReviewAnswer",
    "ReviewRequestNotice",
    "ScoreAck",
    "SessionStateNotice",
    "SubmitScore",
    "TalkbackAnswer",
    "TalkbackOffer",
    "Welcome",
    "b64",
    "decode",
    "encode",
    "for_version",
    "unb64",
]

# Version 2 adds the verdict to ``score_ack`` (``accepted``, ``code``, ``message``), the seat
# key's signature to ``submit_score`` (``signature``) and informational review notices
# (``review_request.informational``). Version 3 adds ``hello.chunk_framings``: the binary chunk
# framings the seat reads (``seat_protocol.chunk_frames``), and the hub's ``announcement`` (not
# sent to an older seat). A hub speaks all three; a seat says
# which it speaks in hello.
PROTOCOL_VERSION = 3
SUPPORTED_VERSIONS = frozenset({1, 2, 3})
# Offered as the websocket subprotocol by the shells, so a proxy log shows what is spoken (the
# version itself is negotiated in ``hello``).
SUBPROTOCOL = "seat-protocol.v1"

# Control messages are small; only chapter chunks may be larger (a chunk of CHUNK_SIZE raw bytes
# is 4/3 of that in base64, plus a little JSON around it).
MAX_CONTROL_MESSAGE_BYTES = 64 * 1024
CHUNK_SIZE = 256 * 1024
MAX_MESSAGE_BYTES = 512 * 1024
MAX_CHUNKS_PER_REQUEST = 64
# An SDP with gathered candidates is a few kilobytes; this leaves room under the control limit.
MAX_SDP_CHARS = 32 * 1024
# A spoken-length notice to the expert (喊话通知); the hub refuses longer ones before sending.
MAX_ANNOUNCEMENT_CHARS = 500

# Integers on the wire stay within what a JavaScript page can hold exactly.
_MAX_INT = 2**53 - 1
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ENROLMENT_CODE = ENROLMENT_CODE  # five groups of five digits (seat_protocol.auth)
# A seat's public key: Ed25519's 32 bytes (default suite) or SM2's 65 (national suite).
_HEX_KEY = re.compile(r"[0-9a-f]{64}|04[0-9a-f]{128}")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{128}")

Sender = Literal["hub", "seat", "both"]


def b64(data: bytes) -> str:
    """Standard base64 text of ``data`` (the wire form of every binary field)."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """The bytes of a base64 field; ``ValueError`` if it is not strict standard base64."""
    try:
        # One pass in C; accepts only canonical padded base64 (a subset of what the check
        # below accepts, with the same bytes), so well-formed fields never pay for a regex.
        return binascii.a2b_base64(text, strict_mode=True)
    except (ValueError, binascii.Error):
        pass  # rare: decide exactly as before, through b64decode's own validation
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("is not standard base64") from exc


def _check(cond: bool, name: str, problem: str) -> None:
    if not cond:
        raise ValueError(f"field '{name}' {problem}")


def _check_id(value: str, name: str) -> None:
    _check(
        _ID.fullmatch(value) is not None,
        name,
        "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    )


def _check_sha256(value: str, name: str) -> None:
    _check(_SHA256.fullmatch(value) is not None, name, "must be 64 lowercase hex digits")


def _check_b64(
    value: str,
    name: str,
    *,
    size: int | None = None,
    max_size: int = 0,
    sizes: tuple[int, ...] = (),
) -> bytes:
    """The decoded bytes of a checked base64 field (so a caller need not decode it again)."""
    try:
        raw = unb64(value)
    except ValueError:
        raise ValueError(f"field '{name}' is not standard base64") from None
    if size is not None:
        _check(len(raw) == size, name, f"must decode to {size} bytes")
    if sizes:
        _check(len(raw) in sizes, name, f"must decode to {' or '.join(map(str, sizes))} bytes")
    if max_size:
        _check(len(raw) <= max_size, name, f"must decode to at most {max_size} bytes")
    return raw


def _check_text(value: str, name: str, max_len: int, *, empty_ok: bool = False) -> None:
    _check(empty_ok or value != "", name, "must not be empty")
    _check(len(value) <= max_len, name, f"must be at most {max_len} characters")


def _added(version: int, default: Any) -> Any:
    """A field added in protocol ``version``: optional on the wire, ``default`` when absent."""
    return dataclasses.field(default=default, metadata={"since": version})


def _since(f: dataclasses.Field[Any]) -> int:
    since: int = f.metadata.get("since", 1)
    return since


@dataclass(frozen=True, kw_only=True)
class Message:
    """Base of every message; ``type`` is the wire tag, ``sender`` the end that may send it."""

    type: ClassVar[str]
    sender: ClassVar[Sender]


@dataclass(frozen=True, kw_only=True)
class AppMessage(Message):
    """A sequenced application message. ``seq`` is 0 until the sending channel numbers it."""

    seq: int = 0

    def with_seq(self, seq: int) -> AppMessage:
        """This message numbered ``seq`` (``SendBuffer.number``); subclasses may carry along
        what they computed from their fields rather than check them again."""
        return dataclasses.replace(self, seq=seq)


# --- handshake -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Hello(Message):
    """Seat -> hub, first message: who I am and which protocol version I speak."""

    type: ClassVar[str] = "hello"
    sender: ClassVar[Sender] = "seat"
    protocol_version: int
    seat_id: str
    agent: str
    # Version 3: the binary chunk framings this seat reads (``seat_protocol.chunk_frames``);
    # empty (left out): chunks come as JSON ``chunk`` messages.
    chunk_framings: tuple[int, ...] = _added(3, ())

    def __post_init__(self) -> None:
        _check_id(self.seat_id, "seat_id")
        _check_text(self.agent, "agent", 100)
        _check(len(self.chunk_framings) <= 8, "chunk_framings", "must list at most 8 versions")
        for version in self.chunk_framings:
            _check(1 <= version <= 255, "chunk_framings", "must list versions from 1 to 255")


@dataclass(frozen=True, kw_only=True)
class Challenge(Message):
    """Hub -> seat: sign this fresh 32-byte nonce (see ``seat_protocol.auth``)."""

    type: ClassVar[str] = "challenge"
    sender: ClassVar[Sender] = "hub"
    hub_id: str
    nonce: str

    def __post_init__(self) -> None:
        _check_id(self.hub_id, "hub_id")
        _check_b64(self.nonce, "nonce", size=32)


@dataclass(frozen=True, kw_only=True)
class Auth(Message):
    """Seat -> hub: the Ed25519 signature, and the last hub seq this seat received in order."""

    type: ClassVar[str] = "auth"
    sender: ClassVar[Sender] = "seat"
    signature: str
    last_received: int

    def __post_init__(self) -> None:
        _check_b64(self.signature, "signature", size=64)


@dataclass(frozen=True, kw_only=True)
class Welcome(Message):
    """Hub -> seat: authenticated. The hub resends its messages after ``resume_after`` and
    has received the seat's messages up to ``last_received``."""

    type: ClassVar[str] = "welcome"
    sender: ClassVar[Sender] = "hub"
    hub_id: str
    heartbeat_interval: float
    resume_after: int
    last_received: int

    def __post_init__(self) -> None:
        _check_id(self.hub_id, "hub_id")
        _check(0 < self.heartbeat_interval <= 300, "heartbeat_interval", "must be in (0, 300]")


@dataclass(frozen=True, kw_only=True)
class Refused(Message):
    """Hub -> seat, just before closing a connection that never opened: why."""

    type: ClassVar[str] = "refused"
    sender: ClassVar[Sender] = "hub"
    code: int
    reason: str

    def __post_init__(self) -> None:
        _check(4000 <= self.code <= 4999, "code", "must be in 4000-4999")
        _check_text(self.reason, "reason", 200)


@dataclass(frozen=True, kw_only=True)
class Resume(Message):
    """Seat -> hub, right after ``welcome``: the seat resends its messages after this seq."""

    type: ClassVar[str] = "resume"
    sender: ClassVar[Sender] = "seat"
    resume_after: int


@dataclass(frozen=True, kw_only=True)
class Enroll(Message):
    """Seat -> hub, instead of ``hello``: ask the venue admin to approve this terminal's keys."""

    type: ClassVar[str] = "enroll"
    sender: ClassVar[Sender] = "seat"
    seat_id: str
    ed25519_public_key: str
    x25519_public_key: str
    enrolment_code: str

    def __post_init__(self) -> None:
        _check_id(self.seat_id, "seat_id")
        # 32 bytes each (Ed25519, X25519: default suite) or 65 each (SM2 signing and
        # encryption keys: national suite); seat_protocol.auth.enrolment_code refuses a mix.
        sign_key = _check_b64(self.ed25519_public_key, "ed25519_public_key", sizes=(32, 65))
        seal_key = _check_b64(self.x25519_public_key, "x25519_public_key", sizes=(32, 65))
        _check(
            len(sign_key) == len(seal_key),
            "x25519_public_key",
            "must be of the same suite as ed25519_public_key",
        )
        _check(
            _ENROLMENT_CODE.fullmatch(self.enrolment_code) is not None,
            "enrolment_code",
            "must be five groups of five digits separated by spaces",
        )


@dataclass(frozen=True, kw_only=True)
class EnrollReceived(Message):
    """Hub -> seat: the enrolment request is recorded and waits for the venue admin."""

    type: ClassVar[str] = "enroll_received"
    sender: ClassVar[Sender] = "hub"
    seat_id: str
    enrolment_code: str

    def __post_init__(self) -> None:
        _check_id(self.seat_id, "seat_id")
        _check(
            _ENROLMENT_CODE.fullmatch(self.enrolment_code) is not None,
            "enrolment_code",
            "must be five groups of five digits separated by spaces",
        )


# --- heartbeat and acknowledgement ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Ping(Message):
    type: ClassVar[str] = "ping"
    sender: ClassVar[Sender] = "both"
    id: int


@dataclass(frozen=True, kw_only=True)
class Pong(Message):
    type: ClassVar[str] = "pong"
    sender: ClassVar[Sender] = "both"
    id: int


@dataclass(frozen=True, kw_only=True)
class Ack(Message):
    """Cumulative: the sender has received every application message up to ``seq``."""

    type: ClassVar[str] = "ack"
    sender: ClassVar[Sender] = "both"
    seq: int

    def __post_init__(self) -> None:
        _check(self.seq >= 1, "seq", "must be at least 1")


# --- application messages ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SubmitScore(AppMessage):
    """Seat -> hub: one score sheet save. The hub judges it in the transaction that stores it
    and answers with ``score_ack`` (the verdict) only after the commit; the same key with the
    same sheet is answered again with the same verdict, never counted twice.

    ``signature`` (version 2): hex Ed25519 signature by the seat's enrolled key over
    ``scoring.signing.save_document(session_id, idempotency_key, sheet)``; the hub refuses a
    save without a valid one."""

    type: ClassVar[str] = "submit_score"
    sender: ClassVar[Sender] = "seat"
    idempotency_key: str
    session_id: str
    sheet: dict[str, Any]
    signature: str = _added(2, "")

    def __post_init__(self) -> None:
        _check(
            _KEY.fullmatch(self.idempotency_key) is not None,
            "idempotency_key",
            "must be 1-128 letters, digits, '.', '_', ':' or '-'",
        )
        _check_id(self.session_id, "session_id")
        _check(
            self.signature == "" or _HEX_SIGNATURE.fullmatch(self.signature) is not None,
            "signature",
            "must be 128 lowercase hex digits",
        )


@dataclass(frozen=True, kw_only=True)
class ScoreAck(AppMessage):
    """Hub -> seat, after the commit: the hub's verdict on the save with this key.

    ``accepted`` (version 2): the save counts; refused, ``code`` is a stable slug and
    ``message`` the hub's reason, shown to the expert (Simplified Chinese). A failure that is
    not a verdict (the database was down) is an ``error`` with code ``commit-failed`` instead,
    and the seat sends the save again. A version-1 seat hears a refusal as an ``error`` whose
    ``ref`` is the key (``for_version``)."""

    type: ClassVar[str] = "score_ack"
    sender: ClassVar[Sender] = "hub"
    idempotency_key: str
    accepted: bool = _added(2, True)
    code: str = _added(2, "")
    message: str = _added(2, "")

    def __post_init__(self) -> None:
        _check(
            _KEY.fullmatch(self.idempotency_key) is not None,
            "idempotency_key",
            "must be 1-128 letters, digits, '.', '_', ':' or '-'",
        )
        _check_text(self.code, "code", 64, empty_ok=self.accepted)
        _check_text(self.message, "message", 500, empty_ok=self.accepted)


@dataclass(frozen=True, kw_only=True)
class ManifestChapter:
    """One chapter as this expert sees it: its shuffled label and position, the SHA-256 of the
    encrypted content, the content key wrapped for this seat, and the hashes of its chunks.
    ``title`` is the rubric chapter's title (e.g. 施工组织设计), never anything of the bidder."""

    label: str
    position: int
    sha256: str
    size: int
    wrapped_key: str
    chunks: tuple[str, ...]
    title: str = ""

    def __post_init__(self) -> None:
        _check_text(self.label, "label", 100)
        _check_text(self.title, "title", 200, empty_ok=True)
        _check_sha256(self.sha256, "sha256")
        _check_b64(self.wrapped_key, "wrapped_key", max_size=1024)
        _check(len(self.chunks) >= 1, "chunks", "must list at least one chunk")
        for digest in self.chunks:
            _check_sha256(digest, "chunks")


@dataclass(frozen=True, kw_only=True)
class ChapterManifest(AppMessage):
    type: ClassVar[str] = "chapter_manifest"
    sender: ClassVar[Sender] = "hub"
    session_id: str
    chapters: tuple[ManifestChapter, ...]

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")


@dataclass(frozen=True, kw_only=True)
class ChunkRequest(AppMessage):
    """Seat -> hub: send these chunks (by SHA-256); only chunks of this seat's manifests."""

    type: ClassVar[str] = "chunk_request"
    sender: ClassVar[Sender] = "seat"
    chunks: tuple[str, ...]

    def __post_init__(self) -> None:
        _check(
            1 <= len(self.chunks) <= MAX_CHUNKS_PER_REQUEST,
            "chunks",
            f"must list 1-{MAX_CHUNKS_PER_REQUEST} hashes",
        )
        for digest in self.chunks:
            _check_sha256(digest, "chunks")


# A chunk's bytes: ``bytes``, or a read-only view of the binary frame that carried it (the seat
# keeps a frame's chunk without copying it out, ``seat_protocol.chunk_frames``).
ChunkData = bytes | memoryview


@dataclass(frozen=True, kw_only=True)
class Chunk(AppMessage):
    """Hub -> seat: one encrypted chunk; the seat checks it against ``sha256``.

    ``data`` is decoded once, when the message is checked, and the bytes are kept as
    :attr:`raw`; build one from bytes with :meth:`of` (encoded once, never decoded)."""

    type: ClassVar[str] = "chunk"
    sender: ClassVar[Sender] = "hub"
    sha256: str
    data: str

    def __post_init__(self) -> None:
        _check_sha256(self.sha256, "sha256")
        raw = _check_b64(self.data, "data", max_size=CHUNK_SIZE)
        object.__setattr__(self, "_raw", raw)

    @property
    def raw(self) -> ChunkData:
        """The chunk's bytes (``data`` decoded, or as :meth:`of` was given them)."""
        raw: ChunkData = self.__dict__["_raw"]
        return raw

    @classmethod
    def of(cls, sha256: str, raw: ChunkData, *, seq: int = 0) -> Chunk:
        """The chunk message for ``raw``, with the same checks as the constructor. Its
        base64 ``data`` is made only if something reads it (the JSON form): a chunk sent as
        a binary frame (``seat_protocol.chunk_frames``) is never turned into base64. The
        bytes or view are kept as they are, not copied (a view must not change afterwards:
        ``decode_chunk_frame`` passes a read-only one of a frame handed over to it)."""
        _check_sha256(sha256, "sha256")
        _check(len(raw) <= CHUNK_SIZE, "data", f"must decode to at most {CHUNK_SIZE} bytes")
        return cls._unchecked(seq, sha256, None, raw)

    def with_seq(self, seq: int) -> Chunk:
        return self._unchecked(seq, self.sha256, self.__dict__.get("data"), self.raw)

    def __getattr__(self, name: str) -> Any:
        # Only called for an attribute not set: ``data`` of a chunk built from bytes.
        if name != "data":
            raise AttributeError(name)
        data = b64(self.__dict__["_raw"])
        object.__setattr__(self, "data", data)
        return data

    @classmethod
    def _unchecked(cls, seq: int, sha256: str, data: str | None, raw: ChunkData) -> Chunk:
        # What the generated __init__ of a frozen dataclass does, minus __post_init__.
        msg = cls.__new__(cls)
        for name, value in (("seq", seq), ("sha256", sha256), ("_raw", raw)):
            object.__setattr__(msg, name, value)
        if data is not None:
            object.__setattr__(msg, "data", data)
        return msg


@dataclass(frozen=True, kw_only=True)
class ChapterStatus(AppMessage):
    """Seat -> hub, once every chunk of a manifest is on the seat's disk: how many of its
    chapters the seat decrypted and checked (every chunk's tag) (``verified``) and the labels of the others,
    which it could not open (``failed``). ``manifest`` names the manifest checked (:meth:`digest_of`), so the hub
    records the status against the release it belongs to, never a later one."""

    type: ClassVar[str] = "chapter_status"
    sender: ClassVar[Sender] = "seat"
    session_id: str
    manifest: str
    chapters: int
    verified: int
    failed: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check_sha256(self.manifest, "manifest")
        _check(self.chapters <= 10_000, "chapters", "must be at most 10000")
        _check(
            self.verified + len(self.failed) == self.chapters,
            "verified",
            "plus the failed labels must make chapters",
        )
        for label in self.failed:
            _check_text(label, "failed", 100)

    @staticmethod
    def digest_of(session_id: str, chapters: tuple[ManifestChapter, ...]) -> str:
        """The SHA-256 both ends compute of a manifest's session and chapters (wrapped keys
        included, so each release has its own): canonical JSON, keys sorted."""
        body = {"session_id": session_id, "chapters": [_to_json(c) for c in chapters]}
        text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class CheckinRequest(AppMessage):
    type: ClassVar[str] = "checkin_request"
    sender: ClassVar[Sender] = "seat"
    session_id: str
    expert_code: str
    pin: str

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check_text(self.expert_code, "expert_code", 64)
        _check_text(self.pin, "pin", 32)


@dataclass(frozen=True, kw_only=True)
class CheckinResult(AppMessage):
    """Hub -> seat. ``message`` is shown to the expert, so it is Simplified Chinese."""

    type: ClassVar[str] = "checkin_result"
    sender: ClassVar[Sender] = "hub"
    session_id: str
    accepted: bool
    message: str
    attempts_left: int | None

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check_text(self.message, "message", 500, empty_ok=True)


@dataclass(frozen=True, kw_only=True)
class SessionStateNotice(AppMessage):
    """Hub -> seat: the session moved to ``state`` at ``at`` (seconds since the epoch)."""

    type: ClassVar[str] = "session_state"
    sender: ClassVar[Sender] = "hub"
    session_id: str
    state: str
    at: float

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check_text(self.state, "state", 64)


@dataclass(frozen=True, kw_only=True)
class ErrorNotice(AppMessage):
    """Hub -> seat: a request was refused without closing the connection. ``code`` is a stable
    slug, ``message`` is shown to the expert (Simplified Chinese), ``ref`` names the request."""

    type: ClassVar[str] = "error"
    sender: ClassVar[Sender] = "hub"
    code: str
    message: str
    ref: str | None

    def __post_init__(self) -> None:
        _check_text(self.code, "code", 64)
        _check_text(self.message, "message", 500)
        if self.ref is not None:
            _check_text(self.ref, "ref", 200)


@dataclass(frozen=True, kw_only=True)
class MediaOffer(AppMessage):
    """Seat -> hub: an SDP offer to publish this seat's camera and microphone (WebRTC).

    ``offer_id`` names this attempt; a seat makes a new one for every new peer connection
    (after a network drop) and ignores answers to older ones."""

    type: ClassVar[str] = "media_offer"
    sender: ClassVar[Sender] = "seat"
    offer_id: str
    sdp: str

    def __post_init__(self) -> None:
        _check_id(self.offer_id, "offer_id")
        _check_text(self.sdp, "sdp", MAX_SDP_CHARS)


@dataclass(frozen=True, kw_only=True)
class MediaAnswer(AppMessage):
    """Hub -> seat: the SDP answer to the seat's ``media_offer`` with the same ``offer_id``.
    A refused offer is answered with an ``error`` message whose ``ref`` is the offer id."""

    type: ClassVar[str] = "media_answer"
    sender: ClassVar[Sender] = "hub"
    offer_id: str
    sdp: str

    def __post_init__(self) -> None:
        _check_id(self.offer_id, "offer_id")
        _check_text(self.sdp, "sdp", MAX_SDP_CHARS)


# --- the expert's work at the seat (check-in briefing, review, signing) ----------------------

_REF = re.compile(r"[a-z]{1,16}:[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True, kw_only=True)
class ExpertBriefing(AppMessage):
    """Hub -> seat, after an accepted check-in: who checked in, how many bidders there are
    (for the integrity commitment; names are not given before sealing) and the rubric of the
    expert's parts with the labels of the expert's own view (``rubric = {"parts": [...]}``)."""

    type: ClassVar[str] = "expert_briefing"
    sender: ClassVar[Sender] = "hub"
    session_id: str
    expert_code: str
    bidder_count: int
    state: str
    rubric: dict[str, Any]

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check_text(self.expert_code, "expert_code", 64)
        _check_text(self.state, "state", 64)


@dataclass(frozen=True, kw_only=True)
class CommitmentDecision(AppMessage):
    """Seat -> hub: the checked-in expert confirmed the integrity commitment (承诺) or declared
    recusal (回避); the hub records it and answers with ``request_result``."""

    type: ClassVar[str] = "commitment"
    sender: ClassVar[Sender] = "seat"
    session_id: str
    decision: str
    reason: str

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check(
            self.decision in ("confirmed", "recused"), "decision", "must be confirmed or recused"
        )
        _check_text(self.reason, "reason", 2000, empty_ok=True)


@dataclass(frozen=True, kw_only=True)
class ReviewRequestNotice(AppMessage):
    """Hub -> seat: a deviation review request for the seated expert, with the anonymised
    spread (``{"yours", "others", "mean"}``). ``explainable``: may be kept with reasons.

    ``informational`` (version 2): the expert is told, not asked (they already hold the value
    most members gave an objective item); no answer is taken, and the notice closes with the
    item's other requests (``request_result`` with code ``settled``). Never sent to a
    version-1 seat."""

    type: ClassVar[str] = "review_request"
    sender: ClassVar[Sender] = "hub"
    session_id: str
    request_id: int
    round: int
    part: str
    subject: str
    item: str | None
    reason: str
    message: str
    spread: dict[str, Any]
    explainable: bool
    informational: bool = _added(2, False)

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check_text(self.part, "part", 64)
        _check_text(self.subject, "subject", 100)
        _check_text(self.reason, "reason", 64)
        _check_text(self.message, "message", 1000)


@dataclass(frozen=True, kw_only=True)
class ReviewAnswer(AppMessage):
    """Seat -> hub: the expert answers a review request: ``keep`` (with written reasons) or
    ``revise`` (after a new save of the part)."""

    type: ClassVar[str] = "review_answer"
    sender: ClassVar[Sender] = "seat"
    session_id: str
    request_id: int
    answer: str
    reason: str

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check(self.answer in ("keep", "revise"), "answer", "must be 'keep' or 'revise'")
        _check_text(self.reason, "reason", 2000, empty_ok=True)


@dataclass(frozen=True, kw_only=True)
class ReportForSignature(AppMessage):
    """Hub -> seat, after the reveal: the result document the expert signs (agree, or
    disagree with written reasons)."""

    type: ClassVar[str] = "report_for_signature"
    sender: ClassVar[Sender] = "hub"
    session_id: str
    expert_code: str
    result: dict[str, Any]

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check_text(self.expert_code, "expert_code", 64)


@dataclass(frozen=True, kw_only=True)
class ReportSignature(AppMessage):
    """Seat -> hub: the expert's Ed25519 signature (made with the seat's key) over the
    signature document of the result, the decision and the reasons; hex, like the host API."""

    type: ClassVar[str] = "report_signature"
    sender: ClassVar[Sender] = "seat"
    session_id: str
    decision: str
    reason: str
    public_key: str
    signature: str

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check(self.decision in ("agree", "disagree"), "decision", "must be agree or disagree")
        _check_text(self.reason, "reason", 2000, empty_ok=True)
        _check(
            _HEX_KEY.fullmatch(self.public_key) is not None,
            "public_key",
            "must be 64 hex" if len(self.public_key) <= 64 else "must be 64 or 130 hex",
        )
        _check(_HEX_SIGNATURE.fullmatch(self.signature) is not None, "signature", "must be 128 hex")


@dataclass(frozen=True, kw_only=True)
class RequestResult(AppMessage):
    """Hub -> seat: the outcome of a seat request (``ref`` is ``review:<id>`` or
    ``signature:<session>``); ``message`` is shown to the expert (Simplified Chinese)."""

    type: ClassVar[str] = "request_result"
    sender: ClassVar[Sender] = "hub"
    ref: str
    accepted: bool
    code: str
    message: str

    def __post_init__(self) -> None:
        _check(_REF.fullmatch(self.ref) is not None, "ref", "must look like kind:id")
        _check_text(self.code, "code", 64)
        _check_text(self.message, "message", 500, empty_ok=True)


# --- the committee at the seat: presence at check-in, the chair election ---------------------

PRESENCE_STATES = ("confirmed", "unconfirmed", "confirmed_by_hand")


@dataclass(frozen=True, kw_only=True)
class PresenceNotice(AppMessage):
    """Hub -> seat: whether the expert's presence was confirmed at check-in (the seat's conduct
    monitor saw exactly one face), or confirmed later by hand by a host supervisor; ``message``
    is shown to the expert (Simplified Chinese)."""

    type: ClassVar[str] = "presence_check"
    sender: ClassVar[Sender] = "hub"
    session_id: str
    expert_code: str
    state: str
    message: str

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check_text(self.expert_code, "expert_code", 64)
        _check(self.state in PRESENCE_STATES, "state", "must be " + ", ".join(PRESENCE_STATES))
        _check_text(self.message, "message", 500)


@dataclass(frozen=True, kw_only=True)
class ChairBallot(AppMessage):
    """Seat -> hub: the checked-in, confirmed expert's vote in round ``round`` of the chair
    election (主任委员推选); the hub answers with ``request_result`` (``chair:<session>``)."""

    type: ClassVar[str] = "chair_ballot"
    sender: ClassVar[Sender] = "seat"
    session_id: str
    round: int
    candidate: str

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check(self.round >= 1, "round", "must be at least 1")
        _check_text(self.candidate, "candidate", 64)


@dataclass(frozen=True, kw_only=True)
class ChairCandidate:
    """A member one may vote for: their expert code and name."""

    code: str
    name: str

    def __post_init__(self) -> None:
        _check_text(self.code, "code", 64)
        _check_text(self.name, "name", 100, empty_ok=True)


@dataclass(frozen=True, kw_only=True)
class ChairTally:
    """One closed round: votes per candidate, the chair it elected or the tied who go on."""

    round: int
    votes: dict[str, Any]
    chair: str | None
    tied: tuple[str, ...]

    def __post_init__(self) -> None:
        _check(self.round >= 1, "round", "must be at least 1")
        for code, count in self.votes.items():
            _check_text(code, "votes", 64)
            _check(
                isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= _MAX_INT,
                "votes",
                "must map codes to whole numbers of votes",
            )


@dataclass(frozen=True, kw_only=True)
class ChairRoundNotice(AppMessage):
    """Hub -> seat: where the chair election stands. ``round`` is the round open now (the
    deciding one once a chair is elected), with its ``candidates``; ``ballot`` is this seat's
    expert's vote in it (null: not voted); ``waiting`` counts the confirmed members yet to vote;
    ``results`` are the closed rounds' tallies (a round closes when every confirmed member has
    voted); ``chair`` is the elected chair, or null."""

    type: ClassVar[str] = "chair_round"
    sender: ClassVar[Sender] = "hub"
    session_id: str
    round: int
    candidates: tuple[ChairCandidate, ...]
    ballot: str | None
    waiting: int
    results: tuple[ChairTally, ...]
    chair: str | None

    def __post_init__(self) -> None:
        _check_id(self.session_id, "session_id")
        _check(self.round >= 1, "round", "must be at least 1")


# --- talk-back: the host site and the supervisors speak to the expert -----------------------

ANNOUNCEMENT_ROLES = ("host_operator", "host_supervisor", "venue_supervisor")


@dataclass(frozen=True, kw_only=True)
class Announcement(AppMessage):
    """Hub -> seat: a text announcement (通知) to the expert at this seat, from the host site's
    operator or a supervisor (``role``: ``host_operator``, ``host_supervisor`` or
    ``venue_supervisor``; ``role_name`` is how the page names them, Simplified Chinese), sent
    at ``at`` (seconds since the epoch). ``announcement_id`` is the hub's: a seat that hears
    one again (it is sent again on reconnect while the session is on) keeps it once."""

    type: ClassVar[str] = "announcement"
    sender: ClassVar[Sender] = "hub"
    announcement_id: int
    session_id: str
    role: str
    role_name: str
    text: str
    at: float

    def __post_init__(self) -> None:
        _check(0 < self.announcement_id <= _MAX_INT, "announcement_id", "must be positive")
        _check_id(self.session_id, "session_id")
        _check(self.role in ANNOUNCEMENT_ROLES, "role", "must be " + ", ".join(ANNOUNCEMENT_ROLES))
        _check_text(self.role_name, "role_name", 64)
        _check_text(self.text, "text", MAX_ANNOUNCEMENT_CHARS)


@dataclass(frozen=True, kw_only=True)
class TalkbackOffer(AppMessage):
    """Seat -> hub: an SDP offer to RECEIVE talk-back audio (push to talk from the host site or
    a supervisor) over a peer connection of its own, beside the one that publishes (the hub
    never renegotiates the publishing connection). A seat offers anew after every new control
    link; ``offer_id`` names the attempt, answers to older ones are ignored."""

    type: ClassVar[str] = "talkback_offer"
    sender: ClassVar[Sender] = "seat"
    offer_id: str
    sdp: str

    def __post_init__(self) -> None:
        _check_id(self.offer_id, "offer_id")
        _check_text(self.sdp, "sdp", MAX_SDP_CHARS)


@dataclass(frozen=True, kw_only=True)
class TalkbackAnswer(AppMessage):
    """Hub -> seat: the SDP answer to ``talkback_offer`` with the same ``offer_id`` (a refused
    offer is answered with ``error`` whose ``ref`` is the offer id)."""

    type: ClassVar[str] = "talkback_answer"
    sender: ClassVar[Sender] = "hub"
    offer_id: str
    sdp: str

    def __post_init__(self) -> None:
        _check_id(self.offer_id, "offer_id")
        _check_text(self.sdp, "sdp", MAX_SDP_CHARS)


def _concrete(cls: type[Message]) -> list[type[Message]]:
    found: list[type[Message]] = []
    for sub in cls.__subclasses__():
        if "type" in sub.__dict__:
            found.append(sub)
        found.extend(_concrete(sub))
    return found


MESSAGE_TYPES: Mapping[str, type[Message]] = {cls.type: cls for cls in _concrete(Message)}


# --- versions ------------------------------------------------------------------------------


def for_version(msg: AppMessage, version: int) -> AppMessage | None:
    """``msg`` as a peer speaking ``version`` understands it, or None if it has no such form.

    Version 1 knows no verdict in ``score_ack``: an accepted save is the bare acknowledgement,
    a refused one the ``error`` (``ref`` = the key) version-1 seats took for a refusal; an
    informational review notice is not sent at all (a version-1 page would offer to answer
    it). Version 2 gets no ``announcement`` (version 3 added it; the expert still sees every
    announcement once their terminal is upgraded, as they are sent again on reconnect)."""
    if version < 3 and isinstance(msg, Announcement):
        return None  # new in version 3: an older agent would close the link on the unknown type
    if version >= 2:
        return msg
    if isinstance(msg, ScoreAck):
        if msg.accepted:
            return ScoreAck(seq=msg.seq, idempotency_key=msg.idempotency_key)
        return ErrorNotice(seq=msg.seq, code=msg.code, message=msg.message, ref=msg.idempotency_key)
    if isinstance(msg, ReviewRequestNotice) and msg.informational:
        return None
    return msg


# --- codec ---------------------------------------------------------------------------------


def encode(msg: Message) -> str:
    """The wire text of ``msg``. Raises ``MessageTooBig`` rather than produce a frame the peer
    would refuse, and ``ValueError`` for an application message that was never numbered."""
    if isinstance(msg, AppMessage) and msg.seq < 1:
        raise ValueError(f"{msg.type} message has no sequence number; send it through a channel")
    if type(msg) is Chunk:
        text = _encode_chunk(msg)
    else:
        body: dict[str, Any] = {"type": msg.type}
        for f in dataclasses.fields(msg):
            value = getattr(msg, f.name)
            if _since(f) > 1 and value == f.default:
                continue  # the same frame as a version that lacks the field
            body[f.name] = _to_json(value)
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    limit = MAX_MESSAGE_BYTES if isinstance(msg, Chunk) else MAX_CONTROL_MESSAGE_BYTES
    if size > limit:
        raise MessageTooBig(f"{msg.type} message is {size} bytes, the limit is {limit}")
    return text


def _encode_chunk(msg: Chunk) -> str:
    """The same text ``json.dumps`` makes of a chunk, without scanning its data for escapes:
    the checked sha256 is hex and the checked data base64, so neither has any character JSON
    escapes. Spliced rather than dumped, it costs one copy of the data."""
    return f'{{"type":"chunk","seq":{msg.seq:d},"sha256":"{msg.sha256}","data":"{msg.data}"}}'


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


def decode(text: str) -> Message:
    """The message in ``text``; any defect raises a ``ProtocolError`` subclass."""
    # Count bytes as the peer sent them; lone surrogates are counted, then refused below.
    size = (
        len(text)
        if len(text) * 4 <= MAX_MESSAGE_BYTES or text.isascii()
        else len(text.encode("utf-8", "surrogatepass"))
    )
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooBig(f"message is {size} bytes, the limit is {MAX_MESSAGE_BYTES}")
    try:
        body = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, duplicate keys, NaN and over-long integers.
        raise MalformedMessage(_json_problem(exc)) from None
    if not isinstance(body, dict):
        raise MalformedMessage("message is not a JSON object")
    kind = body.pop("type", None)
    if not isinstance(kind, str):
        raise MalformedMessage("message has no string field 'type'")
    cls = MESSAGE_TYPES.get(kind)
    if cls is None:
        raise MalformedMessage(f"unknown message type {_quote(kind)}")
    if size > MAX_CONTROL_MESSAGE_BYTES and cls is not Chunk:
        raise MessageTooBig(
            f"{kind} message is {size} bytes, the limit is {MAX_CONTROL_MESSAGE_BYTES}"
        )
    msg = _build(cls, body, kind)
    if isinstance(msg, AppMessage) and msg.seq < 1:
        raise MalformedMessage(f"{kind} message: field 'seq' must be at least 1")
    return typing.cast(Message, msg)


def _build(cls: type[Any], body: dict[str, Any], kind: str) -> Any:
    hints = _hints(cls)
    fields = dataclasses.fields(cls)
    for f in fields:
        if f.name not in body and _since(f) == 1:
            raise MalformedMessage(f"{kind} message is missing field '{f.name}'")
    names = [f.name for f in fields if f.name in body]
    for name in body:
        if name not in hints:
            raise MalformedMessage(f"{kind} message has unexpected field {_quote(name)}")
    values = {name: _convert(body[name], hints[name], kind, name) for name in names}
    try:
        return cls(**values)
    except ValueError as exc:
        raise MalformedMessage(f"{kind} message: {exc}") from None


def _convert(value: Any, tp: Any, kind: str, name: str) -> Any:
    def wrong(expected: str) -> MalformedMessage:
        return MalformedMessage(f"{kind} message: field '{name}' must be {expected}")

    origin = typing.get_origin(tp)
    if tp is str:
        if not isinstance(value, str):
            raise wrong("a string")
        if not value.isascii():  # ASCII (every base64 field) is valid UTF-8 without a copy
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise wrong("valid UTF-8 text") from None
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_INT:
            raise wrong("an integer from 0 to 2^53-1")
        return value
    if tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise wrong("a number")
        if not math.isfinite(value) or abs(value) > 1e15:
            raise wrong("a finite number")
        return float(value)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _convert(value, inner[0], kind, name)
    if origin is tuple:
        if not isinstance(value, list):
            raise wrong("an array")
        (item,) = typing.get_args(tp)[:1]
        return tuple(_convert(v, item, kind, name) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise wrong("an object")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return _build(tp, dict(value), f"{kind}.{name}")
    raise wrong("an object")


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        allowed = {f.name for f in dataclasses.fields(cls)}
        hints = {k: v for k, v in typing.get_type_hints(cls).items() if k in allowed}
        _HINTS[cls] = hints
    return hints


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in pairs:
        if key in body:
            raise ValueError(f"duplicate key {_quote(key)}")
        body[key] = value
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _json_problem(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "message is nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"message is not valid JSON ({exc.msg} at character {exc.pos})"
    return f"message is not acceptable JSON ({exc})"


def _quote(text: str) -> str:
    """Peer text shown in a close reason: short, and with anything odd escaped."""
    shown = text if len(text) <= 32 else text[:32] + "..."
    return ascii(shown)
