"""The hub's end of a seat connection, as a pure state machine.

    AWAIT_HELLO --hello--> AWAIT_AUTH --auth--> AWAIT_RESUME --resume--> OPEN
         |                                                              |
         +--enroll--> (enroll_received, close 4011)        any failure: CLOSING -> CLOSED

Before the connection opens, every refusal is sent as a ``refused`` message and then a close
frame with the same code. Per-seat state that must outlive a connection (stream numbering, the
score ledger, which chunks the seat may fetch) lives in a :class:`HubChannel`, kept by the
shell in a :class:`HubChannels` for the life of the hub process.

Score submissions: the first time an idempotency key is seen the machine emits
:class:`CommitScore`; the ``score_ack`` with the hub's verdict goes out only when the shell
calls ``score_committed`` after the database commit that stored and judged the save. The same
key with the same sheet is answered again with the same verdict without a second commit; the
same key with another sheet is refused. ``score_rejected`` is for a failure that is no verdict
(the commit failed): the key is forgotten and the seat sends the save again. The ledger is in
memory, so after a hub restart the database's own unique key on the idempotency key is what
keeps a replay from counting twice; the machine re-emits ``CommitScore`` and the shell answers
from the database; a channel (it lives as long as the process) keeps ``SETTLED_KEPT`` verdicts.

Versions: the seat's ``hello`` says which protocol version it speaks; its channel sends every
message through ``messages.for_version`` for that version. From version 3 the ``hello`` also
lists the binary chunk framings the seat reads (``chunk_framings``): the channel sends chunks as
binary frames in the highest framing both ends speak (``seat_protocol.chunk_frames``), and as
JSON ``chunk`` messages to a seat that lists none (an agent from before binary framing).

Never does I/O, reads a clock or draws random numbers: the nonce and ``now`` come in.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from seat_protocol.auth import NONCE_SIZE, enrolment_code, verify_challenge
from seat_protocol.chunk_entitlement import ChunkEntitlement
from seat_protocol.chunk_frames import SUPPORTED_FRAMINGS, choose_framing, encode_chunk_frame
from seat_protocol.closecodes import CloseCode, close_reason
from seat_protocol.events import (
    ChunksRequested,
    CommitScore,
    Connected,
    EnrolmentRequested,
    MessageReceived,
)
from seat_protocol.exceptions import (
    AuthFailed,
    InvalidState,
    MalformedMessage,
    OutOfState,
    ProtocolError,
    UnsupportedVersion,
)
from seat_protocol.messages import (
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    AppMessage,
    Auth,
    ChairBallot,
    Challenge,
    ChapterManifest,
    ChapterStatus,
    CheckinRequest,
    Chunk,
    ChunkRequest,
    CommitmentDecision,
    Enroll,
    EnrollReceived,
    ErrorNotice,
    Hello,
    MediaOffer,
    Message,
    Refused,
    ReportSignature,
    Resume,
    ReviewAnswer,
    ScoreAck,
    SubmitScore,
    TalkbackOffer,
    Welcome,
    b64,
    encode,
    for_version,
    unb64,
)
from seat_protocol.streams import Channel, Frame

from ._endpoint import ConnectionState, Endpoint, Timing

__all__ = [
    "ACCEPTED_MESSAGE",
    "ConnectionState",
    "EnrolledSeat",
    "HubChannel",
    "HubChannels",
    "HubConnection",
    "SeatLookup",
    "Timing",
    "score_digest",
]

SeatStatus = Literal["pending", "active", "revoked"]


@dataclass(frozen=True)
class EnrolledSeat:
    """What the hub knows of a seat terminal: its approved Ed25519 key and standing."""

    seat_id: str
    ed25519_public_key: bytes
    status: SeatStatus


SeatLookup = Callable[[str], EnrolledSeat | None]


def score_digest(session_id: str, sheet: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a submission's payload (key order does not matter)."""
    canonical = json.dumps(
        {"session_id": session_id, "sheet": sheet},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class _LedgerEntry:
    digest: str
    #: the verdict sent once committed; None while the commit runs
    verdict: ScoreAck | None = None


# Verdicts kept for replays (~0.5 KB each; a seat replays its latest saves), older: the database.
SETTLED_KEPT = 64

_CONFLICT = "该评分提交的幂等键已用于内容不同的另一次提交，本次提交未被接受，请联系现场工作人员"
ACCEPTED_MESSAGE = "评分已保存，主场校验通过"


class HubChannel(Channel):
    """Everything the hub keeps about one seat across its connections."""

    def __init__(self, seat_id: str, *, settled_kept: int = SETTLED_KEPT) -> None:
        super().__init__()
        self.seat_id = seat_id
        self.connection: HubConnection | None = None
        # The version the seat spoke in its latest hello: what every message is turned into.
        self.peer_version = PROTOCOL_VERSION
        # The binary chunk framing agreed in the seat's latest hello; None: JSON chunks.
        self.chunk_framing: int | None = None
        self._ledger: dict[str, _LedgerEntry] = {}
        self._settled: deque[str] = deque()  # keys with a verdict, oldest first
        self._settled_kept = settled_kept
        self.entitled = ChunkEntitlement()  # of the seat's latest sessions

    def send(self, msg: AppMessage) -> AppMessage:
        """Number and send ``msg`` in the form the seat's version speaks; a message that
        version has no form for is not sent (returned unnumbered)."""
        spoken = for_version(msg, self.peer_version)
        if spoken is None:
            return msg
        numbered = super().send(spoken)
        if isinstance(numbered, ChapterManifest):
            # The seat may fetch exactly the chunks of manifests sent to it, nothing else.
            self.entitled.grant(numbered)
        return numbered

    def encoder(self, msg: AppMessage) -> Frame:
        if self.chunk_framing is not None and isinstance(msg, Chunk):
            return encode_chunk_frame(msg)
        return encode(msg)

    def use_framing(self, framing: int | None) -> None:
        """The seat (re)connected reading ``framing``: chunks still unacknowledged are
        encoded again if it changed, so the resend is in a form the seat reads."""
        if framing != self.chunk_framing:
            self.chunk_framing = framing
            self.outgoing.reframe(self.encoder)

    def may_fetch(self, sha256: str) -> bool:
        return self.entitled.allows(sha256)

    def score_committed(
        self,
        idempotency_key: str,
        *,
        accepted: bool = True,
        code: str = "accepted",
        message: str = ACCEPTED_MESSAGE,
    ) -> None:
        """The shell committed its verdict on this score: send it to the seat (now or on
        resume), and answer every replay of the key with it."""
        entry = self._ledger.get(idempotency_key)
        if entry is None or entry.verdict is not None:
            raise InvalidState(
                f"no score with idempotency key {idempotency_key!r} is waiting for its commit"
            )
        entry.verdict = ScoreAck(
            idempotency_key=idempotency_key, accepted=accepted, code=code, message=message
        )
        self._settled.append(idempotency_key)
        while len(self._settled) > self._settled_kept:
            del self._ledger[self._settled.popleft()]
        self.send(entry.verdict)

    @property
    def ledger_size(self) -> int:  # idempotency keys remembered, in flight or settled
        return len(self._ledger)

    def score_rejected(self, idempotency_key: str, code: str, message: str) -> None:
        """The shell could not judge this score for now (no verdict; ``message`` is shown to
        the expert, in Chinese): the seat hears an ``error`` and sends it again."""
        entry = self._ledger.get(idempotency_key)
        if entry is None or entry.verdict is not None:
            raise InvalidState(
                f"no score with idempotency key {idempotency_key!r} is waiting for its commit"
            )
        # Forget it: a later submission under this key is judged afresh.
        del self._ledger[idempotency_key]
        self.send(ErrorNotice(code=code, message=message, ref=idempotency_key))

    def _submit(self, msg: SubmitScore) -> CommitScore | None:
        digest = score_digest(msg.session_id, msg.sheet)
        entry = self._ledger.get(msg.idempotency_key)
        if entry is None:
            self._ledger[msg.idempotency_key] = _LedgerEntry(digest)
            return CommitScore(
                seat_id=self.seat_id,
                idempotency_key=msg.idempotency_key,
                session_id=msg.session_id,
                sheet=msg.sheet,
                digest=digest,
                signature=msg.signature,
            )
        if entry.digest != digest:
            self.send(
                ScoreAck(
                    idempotency_key=msg.idempotency_key,
                    accepted=False,
                    code="idempotency-conflict",
                    message=_CONFLICT,
                )
            )
        elif entry.verdict is not None:
            self.send(entry.verdict)
        # else: the commit is in flight and its verdict will follow.
        return None


class HubChannels:
    """The hub process's channels, one per seat, created on first authentication."""

    def __init__(self) -> None:
        self._channels: dict[str, HubChannel] = {}

    def get(self, seat_id: str) -> HubChannel:
        channel = self._channels.get(seat_id)
        if channel is None:
            channel = self._channels[seat_id] = HubChannel(seat_id)
        return channel

    def __contains__(self, seat_id: object) -> bool:
        return seat_id in self._channels


class HubConnection(Endpoint):
    """The hub's end of one websocket connection from a seat."""

    peer: ClassVar[str] = "seat"

    def __init__(
        self,
        *,
        hub_id: str,
        seats: SeatLookup,
        channels: HubChannels,
        nonce: bytes,
        now: float,
        timing: Timing | None = None,
        supported_versions: frozenset[int] = SUPPORTED_VERSIONS,
        chunk_framings: tuple[int, ...] = SUPPORTED_FRAMINGS,
    ) -> None:
        if len(nonce) != NONCE_SIZE:
            raise ValueError(f"nonce must be {NONCE_SIZE} random bytes")
        super().__init__(now=now, timing=timing or Timing(), state=ConnectionState.AWAIT_HELLO)
        self.hub_id = hub_id
        self._seats = seats
        self._channels = channels
        self._nonce = nonce
        self._supported = supported_versions
        self._framings = chunk_framings
        self._peer_framing: int | None = None
        self._seat: EnrolledSeat | None = None
        self._peer_version = PROTOCOL_VERSION
        self._peer_lost = False
        self._replaced: HubConnection | None = None

    # --- what the shell calls --------------------------------------------------------------

    @property
    def channel(self) -> HubChannel:
        if not isinstance(self._channel, HubChannel):
            raise InvalidState("the seat has not authenticated on this connection")
        return self._channel

    def send(self, msg: AppMessage) -> AppMessage:
        """Send an application message to this seat (queued for resume if the link drops)."""
        return self.channel.send(msg)

    def send_chunk(self, sha256: str, data: bytes) -> AppMessage:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"chunk data does not hash to {sha256}")
        return self.send(Chunk.of(sha256, data))

    def score_committed(
        self,
        idempotency_key: str,
        *,
        accepted: bool = True,
        code: str = "accepted",
        message: str = ACCEPTED_MESSAGE,
    ) -> None:
        self.channel.score_committed(idempotency_key, accepted=accepted, code=code, message=message)

    def score_rejected(self, idempotency_key: str, code: str, message: str) -> None:
        self.channel.score_rejected(idempotency_key, code, message)

    def refuse(self, code: CloseCode, detail: str) -> None:
        """Refuse the connection before its first message is read, for a reason the shell's
        admission check found (an enrolment over its rate limit, say): ``refused`` and a close
        with ``code``, as for any refusal before the connection opens."""
        if self.state is not ConnectionState.AWAIT_HELLO:
            raise InvalidState(f"cannot refuse a connection in state {self.state.name}")
        self._fail(ProtocolError(detail, code))

    # --- handshake -------------------------------------------------------------------------

    def _decode_binary(self, data: bytes | bytearray) -> Message:
        raise MalformedMessage("a seat sends no binary frames")

    def _fail(self, exc: ProtocolError) -> None:
        if self.state in (ConnectionState.AWAIT_HELLO, ConnectionState.AWAIT_AUTH):
            # The seat agent shows this to the venue staff, so say it in the message too: a
            # close frame's reason may be cut off by a proxy.
            self._queue(Refused(code=int(exc.code), reason=close_reason(exc.code, exc.reason)))
        super()._fail(exc)

    def _handle_control(self, msg: Message, now: float) -> None:
        state = self.state
        if state is ConnectionState.AWAIT_HELLO and isinstance(msg, Hello):
            self._hello(msg)
        elif state is ConnectionState.AWAIT_HELLO and isinstance(msg, Enroll):
            self._enroll(msg)
        elif state is ConnectionState.AWAIT_AUTH and isinstance(msg, Auth):
            self._auth(msg, now)
        elif state is ConnectionState.AWAIT_RESUME and isinstance(msg, Resume):
            self._resume(msg)
        else:
            expected = {
                ConnectionState.AWAIT_HELLO: "hello or enroll",
                ConnectionState.AWAIT_AUTH: "auth",
                ConnectionState.AWAIT_RESUME: "resume",
            }.get(state)
            if expected is None:
                raise OutOfState(f"unexpected {msg.type} message on an open connection")
            raise OutOfState(f"expected {expected}, got {msg.type}")

    def _hello(self, msg: Hello) -> None:
        self.seat_id = msg.seat_id
        if msg.protocol_version not in self._supported:
            speaks = ", ".join(str(v) for v in sorted(self._supported))
            raise UnsupportedVersion(
                f"seat speaks version {msg.protocol_version}, this hub speaks {speaks}"
            )
        seat = self._seats(msg.seat_id)
        if seat is None:
            raise ProtocolError(f"seat '{msg.seat_id}' is not enrolled", CloseCode.UNKNOWN_SEAT)
        if seat.status == "revoked":
            raise ProtocolError(f"seat '{msg.seat_id}' was revoked", CloseCode.SEAT_REVOKED)
        if seat.status == "pending":
            raise ProtocolError(
                f"seat '{msg.seat_id}' awaits approval by its venue admin",
                CloseCode.ENROLMENT_PENDING,
            )
        self._seat = seat
        self._peer_version = msg.protocol_version
        self._peer_framing = choose_framing(msg.chunk_framings, self._framings)
        self._queue(Challenge(hub_id=self.hub_id, nonce=b64(self._nonce)))
        self.state = ConnectionState.AWAIT_AUTH

    def _enroll(self, msg: Enroll) -> None:
        self.seat_id = msg.seat_id
        ed = unb64(msg.ed25519_public_key)
        x = unb64(msg.x25519_public_key)
        if enrolment_code(ed, x) != msg.enrolment_code:
            raise MalformedMessage("enrolment code does not match the public keys")
        self._events.append(
            EnrolmentRequested(
                seat_id=msg.seat_id,
                ed25519_public_key=ed,
                x25519_public_key=x,
                enrolment_code=msg.enrolment_code,
            )
        )
        self._queue(EnrollReceived(seat_id=msg.seat_id, enrolment_code=msg.enrolment_code))
        self.close(CloseCode.ENROLMENT_PENDING, f"seat '{msg.seat_id}' awaits approval")

    def _auth(self, msg: Auth, now: float) -> None:
        seat = self._seat
        assert seat is not None
        if not verify_challenge(
            seat.ed25519_public_key, unb64(msg.signature), self._nonce, seat.seat_id, self.hub_id
        ):
            raise AuthFailed(f"signature does not verify for seat '{seat.seat_id}'")
        channel = self._channels.get(seat.seat_id)
        old = channel.connection
        if (
            old is not None
            and old is not self
            and old.state
            not in (
                ConnectionState.CLOSING,
                ConnectionState.CLOSED,
            )
        ):
            old.close(CloseCode.REPLACED)
            self._replaced = old
        channel.connection = self
        channel.peer_version = self._peer_version
        channel.use_framing(self._peer_framing)
        resume_after, self._peer_lost = channel.outgoing.resume(msg.last_received)
        self._queue(
            Welcome(
                hub_id=self.hub_id,
                heartbeat_interval=self.timing.heartbeat_interval,
                resume_after=resume_after,
                last_received=channel.incoming.last,
            )
        )
        for frame in channel.outgoing.frames_after(resume_after):
            self.transmit(frame)
        self._link(channel)
        self.state = ConnectionState.AWAIT_RESUME
        self._start_heartbeat(now)

    def _resume(self, msg: Resume) -> None:
        channel = self.channel
        lost = channel.incoming.resume_to(msg.resume_after)
        self.state = ConnectionState.OPEN
        self._events.append(
            Connected(
                seat_id=channel.seat_id,
                lost_incoming=lost,
                peer_lost=self._peer_lost,
                replaced=self._replaced,
            )
        )

    # --- application messages --------------------------------------------------------------

    def _handle_app(self, msg: AppMessage, now: float) -> None:
        channel = self.channel
        if isinstance(msg, SubmitScore):
            commit = channel._submit(msg)
            if commit is not None:
                self._events.append(commit)
        elif isinstance(msg, ChunkRequest):
            refused = [h for h in msg.chunks if not channel.may_fetch(h)]
            if refused:
                channel.send(
                    ErrorNotice(
                        code="chunk-not-in-manifest",
                        message="请求的章节数据不属于本工位的评审材料，已拒绝",
                        ref=refused[0],
                    )
                )
            else:
                self._events.append(ChunksRequested(seat_id=channel.seat_id, chunks=msg.chunks))
        else:
            # Check-in requests, review answers, report signatures, media and talk-back
            # offers, chapter statuses and chair ballots go to the application as they are.
            assert isinstance(
                msg,
                CheckinRequest
                | CommitmentDecision
                | MediaOffer
                | TalkbackOffer
                | ReviewAnswer
                | ReportSignature
                | ChapterStatus
                | ChairBallot,
            )
            self._events.append(MessageReceived(seat_id=channel.seat_id, message=msg))
