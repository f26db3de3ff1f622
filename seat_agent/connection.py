"""The seat agent's link to the hub: a thin ``websockets`` shell around ``SeatConnection``.

``SeatLink.run`` connects, lets the machine authenticate and resume, forwards every frame, calls
``tick`` at the machine's deadlines (heartbeats, timeouts), and hands each event to the
application callback. After a close it waits a ``seat_protocol.backoff`` delay (full jitter,
randomness injectable) and reconnects with the same ``Channel``, so the conversation resumes
from the last acknowledged message; after a permanent close code it raises ``HubRefused``.
``enroll`` and ``wait_for_approval`` are the two halves of ``seat-agent enroll``.

Over ``wss://`` every connection trusts only the hub key pinned at enrolment
(``seat_agent.hub_pin``): a hub with another key is refused inside the TLS handshake, before
the websocket handshake, and ``HubKeyChanged`` ends ``run`` at once (no reconnecting: a person
must find out why). The first enrolment of a terminal without a pin records the key it met.

Never decides anything the protocol machines decide, and never sends an application message
on a fresh channel before its first handshake (the numbering must be lined up with the hub's
first; callers wait for ``Connected``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake
from websockets.typing import Subprotocol

from seat_agent.errors import HubKeyChanged, HubRefused, StateDirError
from seat_agent.hub_pin import PinMismatch, PinningContext, pinned_context
from seat_agent.keys import SeatIdentity, record_hub_pin
from seat_protocol._endpoint import Endpoint
from seat_protocol.auth import format_pin
from seat_protocol.backoff import Backoff
from seat_protocol.chunk_frames import SUPPORTED_FRAMINGS
from seat_protocol.closecodes import CloseCode
from seat_protocol.events import (
    CloseConnection,
    Connected,
    Disconnected,
    EnrolmentSubmitted,
    Event,
    SendBytes,
    SendText,
)
from seat_protocol.messages import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, SUBPROTOCOL, AppMessage
from seat_protocol.seat_side import ChunkCheck, SeatConnection, SeatEnrolment, sha256_matches
from seat_protocol.streams import Channel

__all__ = ["EventHandler", "SeatLink", "enroll", "wait_for_approval"]

log = structlog.get_logger(__name__)

EventHandler = Callable[[Event], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

# How long a chunk's acknowledgement may wait for company (``_Socket.flush_soon``): far below
# any heartbeat deadline; the hub keeps the unacknowledged chunks (at most the seat's request
# window) that much longer.
ACK_DELAY = 0.02

# RFC 6455 code a shell reports when a connection could not be made or dropped without a frame.
_ABNORMAL = 1006
# What a hub from before protocol version 3 answers a hello that offers binary chunk framings
# (its decoder refuses the field it does not know). Fixed text: those hubs do not change.
_HUB_BEFORE_V3 = "protocol error: hello message has unexpected field 'chunk_framings'"


async def _no_event(event: Event) -> None:
    return None


class _Socket:
    """One websocket and the machine driving it."""

    def __init__(self, ws: ClientConnection, conn: Endpoint) -> None:
        self.ws = ws
        self.conn = conn
        self._lock = asyncio.Lock()
        # Set after a frame that moved the machine's deadline earlier than the one the timer
        # sleeps until (the handshake finished and heartbeats started, or the end): the
        # timer must not sleep past it. Not after every frame: a frame only moves the
        # heartbeat deadline later, and waking the timer per chunk would cost a task switch,
        # a tick and a flush (sending the held-back ack at once) for each.
        self.wake = asyncio.Event()
        self._sleeping_until: float | None = None  # None: the timer is awake
        # A held-back acknowledgement's flush (``flush_soon``), if one is due.
        self._due: asyncio.TimerHandle | None = None
        self._late: set[asyncio.Task[None]] = set()

    def flush_soon(self) -> None:
        """Flush within ``ACK_DELAY`` unless something flushes first (an ack of a chunk run
        then goes out once, with the next chunk request or on its own)."""
        if self._due is None:
            self._due = asyncio.get_running_loop().call_later(ACK_DELAY, self._flush_due)

    def _flush_due(self) -> None:
        self._due = None
        task = asyncio.create_task(self.flush())
        self._late.add(task)
        task.add_done_callback(self._late.discard)

    def stop(self) -> None:
        if self._due is not None:
            self._due.cancel()
            self._due = None
        for task in self._late:
            task.cancel()

    async def flush(self) -> None:
        if self._due is not None:
            self._due.cancel()
            self._due = None
        async with self._lock:
            for out in self.conn.data_to_send():
                try:
                    if isinstance(out, SendText | SendBytes):
                        await self.ws.send(out.text if isinstance(out, SendText) else out.data)
                    else:
                        assert isinstance(out, CloseConnection)
                        await self.ws.close(out.code, out.reason)
                except ConnectionClosed:
                    return  # the reader sees the close and tells the machine

    def frame_handled(self) -> None:
        """Wake the timer if the machine's deadline is now earlier than its sleep."""
        deadline = self.conn.next_deadline()
        sleeping_until = self._sleeping_until
        if deadline is None or sleeping_until is None or deadline < sleeping_until:
            self.wake.set()

    async def heartbeat(self, monotonic: Callable[[], float]) -> None:
        while (deadline := self.conn.next_deadline()) is not None:
            self.wake.clear()
            self._sleeping_until = deadline
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), max(0.0, deadline - monotonic()))
            self._sleeping_until = None
            self.conn.tick(monotonic())  # early ticks (after a wake) do nothing
            await self.flush()


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it is over, without swallowing a cancellation of ours.

    ``task.cancel(); with suppress(CancelledError): await task`` loses the caller's own
    cancellation when it arrives during that await (the caller's cancel is passed on to
    ``task``, whose CancelledError is then suppressed): the caller runs on as if never
    cancelled. ``asyncio.wait`` raises for the caller's cancellation and never for ``task``'s.
    """
    task.cancel()
    await asyncio.wait({task})
    failure = None if task.cancelled() else task.exception()
    if failure is not None:
        raise failure


async def _messages(ws: ClientConnection) -> AsyncIterator[str | bytes | bytearray]:
    """The connection's messages, a message of one frame as that frame's own buffer.

    Iterating ``ws`` (``recv``) joins the frames of every message into a new object, even the
    single frame of a chunk: one more copy of every chunk's bytes on the seat's event loop.
    ``recv_streaming`` hands each frame's data over as ``websockets`` parsed it (a
    ``bytearray`` for a binary frame); a message of several frames (the hub never sends one)
    is joined here as ``recv`` would. Ends as iterating ``ws`` does: quietly after a normal
    close, else with ``ConnectionClosed``."""
    while True:
        try:
            parts = [part async for part in ws.recv_streaming()]
        except ConnectionClosedOK:
            return
        first = parts[0]  # never empty: the first frame is yielded before any other
        if len(parts) == 1:
            yield first
        elif isinstance(first, str):
            yield "".join(cast(list[str], parts))
        else:
            yield b"".join(cast(list[bytes], parts))


async def _converse(
    ws: ClientConnection,
    conn: Endpoint,
    monotonic: Callable[[], float],
    on_event: EventHandler,
    on_socket: Callable[[_Socket | None], None] = lambda sock: None,
) -> Disconnected:
    """Drive ``conn`` over ``ws`` until the connection is over; return how it ended."""
    sock = _Socket(ws, conn)
    on_socket(sock)
    timer = asyncio.create_task(sock.heartbeat(monotonic))
    ended: Disconnected | None = None

    async def dispatch() -> None:
        nonlocal ended
        for event in conn.events_received():
            if isinstance(event, Disconnected):
                ended = event
            await on_event(event)

    try:
        await sock.flush()
        with contextlib.suppress(ConnectionClosed):
            async for frame in _messages(ws):
                binary = not isinstance(frame, str)
                if isinstance(frame, str):
                    conn.receive_text(frame, monotonic())
                else:
                    conn.receive_bytes(frame, monotonic())  # a chunk, if agreed
                sock.frame_handled()
                if binary and conn.only_ack_waiting:
                    # A chunk's ack waits a moment: the cache's next chunk request (every
                    # half window) or the delay carries one cumulative ack for the run,
                    # instead of a frame (and the hub's decoding of it) per chunk.
                    sock.flush_soon()
                else:
                    await sock.flush()
                await dispatch()
    finally:
        sock.stop()
        on_socket(None)
        await _cancel_and_wait(timer)
    conn.connection_lost(ws.close_code, ws.close_reason or "")
    await dispatch()
    if ended is None:  # cannot happen: connection_lost always reports a close not yet reported
        ended = Disconnected(seat_id=conn.seat_id, code=_ABNORMAL, reason="", permanent=False)
    return ended


def _tls(identity: SeatIdentity, *, first_use: bool = False) -> PinningContext | None:
    """The TLS context of a ``wss://`` hub: its pinned key only (any key on first use)."""
    if not identity.uses_tls:
        return None
    if identity.hub_pin is None and not first_use:
        raise StateDirError(
            f"本终端尚未记录主场服务器的 TLS 公钥指纹：请先执行 seat-agent enroll --state-dir "
            f"{identity.state_dir}（或在 init 时用 --hub-pin 指定主场提供的指纹）"
        )
    return pinned_context(identity.hub_pin)


def _connect(url: str, open_timeout: float, tls: PinningContext | None = None) -> connect:
    # ``ssl`` goes to the event loop's create_connection; None (ws://) must not be passed.
    extra: dict[str, Any] = {} if tls is None else {"ssl": tls}
    return connect(
        url,
        subprotocols=[Subprotocol(SUBPROTOCOL)],
        max_size=MAX_MESSAGE_BYTES,
        # The protocol has its own heartbeats (any frame counts), so websockets' pings are off.
        ping_interval=None,
        open_timeout=open_timeout,
        proxy=None,
        compression=None,
        **extra,
    )


@dataclass
class _Failure:
    """A connection attempt that never reached the websocket handshake's end."""

    reason: str


class SeatLink:
    """This seat's connection to its hub, reconnecting until stopped or refused for good."""

    def __init__(
        self,
        identity: SeatIdentity,
        *,
        on_event: EventHandler = _no_event,
        random: Callable[[], float] = _random.random,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        open_timeout: float = 10.0,
        protocol_version: int = PROTOCOL_VERSION,
        chunk_framings: tuple[int, ...] = SUPPORTED_FRAMINGS,
    ) -> None:
        self.identity = identity
        # What the hello offers; tests and the benchmark speak as an older agent with these.
        self.protocol_version = protocol_version
        self.chunk_framings = chunk_framings
        # How a chunk is checked before it is acknowledged (the chapter cache's AEAD check,
        # set by ``SeatAgent.open``); by default its SHA-256.
        self.chunk_check: ChunkCheck = sha256_matches
        self.channel = Channel()
        self.backoff = Backoff(random, base=backoff_base, cap=backoff_cap)
        self.on_event = on_event
        self._sleep = sleep
        self._monotonic = monotonic
        self._open_timeout = open_timeout
        self._socket: _Socket | None = None
        self.connections = 0  # handshakes completed, for logs and tests

    @property
    def socket(self) -> ClientConnection | None:
        """The live websocket, if any (tests drop it to simulate a network failure)."""
        return self._socket.ws if self._socket is not None else None

    async def send(self, msg: AppMessage) -> AppMessage:
        """Number ``msg`` on the channel and write it if connected (else it waits for resume)."""
        numbered = self.channel.send(msg)
        if self._socket is not None:
            await self._socket.flush()
        return numbered

    async def run(self) -> None:
        """Connect and reconnect for ever; raises ``HubRefused`` after a permanent close."""
        while True:
            outcome = await self._attempt()
            if isinstance(outcome, Disconnected) and self._speak_older(outcome):
                continue
            if isinstance(outcome, Disconnected):
                if outcome.permanent:
                    raise HubRefused(outcome.code, outcome.reason)
                log.info("seat.disconnected", code=outcome.code, reason=outcome.reason)
            else:
                log.info("seat.connect_failed", reason=outcome.reason)
            await self._sleep(self.backoff.next_delay())

    def _speak_older(self, outcome: Disconnected) -> bool:
        """A hub from before binary chunk frames refused our hello: speak version 2 (JSON
        chunks) to it from now on, at once. Hub and agents may be upgraded in either order."""
        if self.protocol_version < 3 or (outcome.code, outcome.reason) != (
            CloseCode.PROTOCOL_ERROR,
            _HUB_BEFORE_V3,
        ):
            return False
        log.warning("seat.hub_before_binary_chunks", hub=self.identity.hub_url)
        self.protocol_version, self.chunk_framings = 2, ()
        return True

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, Connected):
            self.connections += 1
            self.backoff.reset()
        await self.on_event(event)

    def _set_socket(self, sock: _Socket | None) -> None:
        self._socket = sock

    async def _attempt(self) -> Disconnected | _Failure:
        tls = _tls(self.identity)
        try:
            async with _connect(self.identity.hub_url, self._open_timeout, tls) as ws:
                conn = SeatConnection(
                    seat_id=self.identity.seat_id,
                    hub_id=self.identity.hub_id,
                    key=self.identity.ed25519,
                    channel=self.channel,
                    now=self._monotonic(),
                    protocol_version=self.protocol_version,
                    chunk_framings=self.chunk_framings,
                    chunk_check=self.chunk_check,
                )
                return await _converse(ws, conn, self._monotonic, self._on_event, self._set_socket)
        except PinMismatch as exc:
            log.error("seat.hub_key_changed", expected=exc.expected, seen=exc.seen)
            raise HubKeyChanged(exc.expected, exc.seen) from exc
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            return _Failure(f"{type(exc).__name__}: {exc}")


class _ApprovalProbe:
    """Closes the connection as soon as it opened: opening is the proof of approval."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.opened = False

    async def on_event(self, event: Event) -> None:
        if isinstance(event, Connected):
            self.opened = True
            await self.ws.close()


async def enroll(identity: SeatIdentity, *, open_timeout: float = 10.0) -> str:
    """Send this terminal's enrolment request; returns the code the hub recorded.

    Over ``wss://`` without a pin, the hub's key met here is recorded in the state directory
    (trust on first use; ``seat-agent enroll`` shows it to the person enrolling). Raises
    ``HubRefused`` if the hub did not record the request (the close says why),
    ``HubKeyChanged`` if the hub's key is not the pinned one, and ``OSError`` or ``websockets``
    errors if the hub cannot be reached.
    """
    submitted: list[EnrolmentSubmitted] = []

    async def on_event(event: Event) -> None:
        if isinstance(event, EnrolmentSubmitted):
            submitted.append(event)

    tls = _tls(identity, first_use=True)
    try:
        async with _connect(identity.hub_url, open_timeout, tls) as ws:
            conn = SeatEnrolment(
                seat_id=identity.seat_id,
                ed25519_public_key=identity.ed25519_public,
                x25519_public_key=identity.x25519_public,
                now=time.monotonic(),
            )
            ended = await _converse(ws, conn, time.monotonic, on_event)
    except PinMismatch as exc:
        raise HubKeyChanged(exc.expected, exc.seen) from exc
    if not submitted:
        raise HubRefused(ended.code, ended.reason)
    if tls is not None and identity.hub_pin is None and tls.seen is not None:
        record_hub_pin(identity, tls.seen)
        log.info("seat.hub_key_pinned", hub=identity.hub_url, spki_sha256=format_pin(tls.seen))
    return submitted[0].enrolment_code


async def wait_for_approval(
    identity: SeatIdentity,
    *,
    random: Callable[[], float] = _random.random,
    sleep: Sleep = asyncio.sleep,
    base: float = 5.0,
    cap: float = 60.0,
    on_pending: Callable[[], None] = lambda: None,
) -> None:
    """Try to authenticate until the venue admin approved this terminal (4011 meanwhile).

    Waits slowly between attempts: approval needs a person. Raises ``HubRefused`` for a
    permanent refusal (for example, the request was rejected and the seat revoked).
    """
    backoff = Backoff(random, base=base, cap=cap)
    tls = _tls(identity)
    version = PROTOCOL_VERSION
    while True:
        try:
            async with _connect(identity.hub_url, 10.0, tls) as ws:
                conn = SeatConnection(
                    seat_id=identity.seat_id,
                    hub_id=identity.hub_id,
                    key=identity.ed25519,
                    channel=Channel(),
                    now=time.monotonic(),
                    protocol_version=version,
                )
                probe = _ApprovalProbe(ws)
                ended = await _converse(ws, conn, time.monotonic, probe.on_event)
        except PinMismatch as exc:
            raise HubKeyChanged(exc.expected, exc.seen) from exc
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            log.info("seat.connect_failed", reason=str(exc))
        else:
            if probe.opened:
                return
            if version >= 3 and (ended.code, ended.reason) == (
                CloseCode.PROTOCOL_ERROR,
                _HUB_BEFORE_V3,
            ):
                version = 2  # a hub from before binary chunk frames: ask again, as version 2
                continue
            if ended.permanent:
                raise HubRefused(ended.code, ended.reason)
            if ended.code == CloseCode.ENROLMENT_PENDING:
                on_pending()
        await sleep(backoff.next_delay())
