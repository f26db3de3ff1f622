"""The Redis bus and presence store: pub/sub across hub processes, seat presence with a TTL.

One Redis connection per bus carries every subscription of this process: a reader task owns it,
fans events out to the local subscribers' bounded buffers, and when the connection drops (a
Redis restart, a network blip) reconnects with back-off and subscribes again to every channel
someone still listens to. Each outage counts as an ``interruption`` on the open subscriptions,
because pub/sub does not replay what was published meanwhile.

Presence entries are plain keys ``<namespace>:presence:<seat>`` holding JSON, set with a PX TTL;
they are listed with SCAN (never KEYS, which blocks the server) and read with MGET, so an entry
that expires between the two is simply absent.

Every redis-py or socket error is translated to :class:`BusError` in :meth:`RedisBus._redis_call`
and nowhere else. This module must never keep state Redis does not have: it is a cache of which
channels to resubscribe, nothing more.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import RedisError

from evaluation_hub.bus.base import (
    DEFAULT_BUFFER_SIZE,
    Event,
    Subscription,
    check_channel,
    check_seat_key,
    check_ttl,
    decode_json,
    encode_json,
)
from evaluation_hub.errors import BusError

__all__ = ["RedisBus"]

log = structlog.get_logger(__name__)

_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]+")
_SCAN_BATCH = 500


def _redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class RedisBus:
    """:class:`~evaluation_hub.bus.base.Bus` over Redis.

    Prefer ``await RedisBus.connect(url)``: it fails at start-up when Redis is unreachable. The
    plain constructor does no I/O; its reader task then starts with the first subscription.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "evalhub",
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        subscribe_timeout_s: float = 5.0,
        keepalive_s: float = 5.0,
        reconnect_delay_s: tuple[float, float] = (0.05, 1.0),
    ) -> None:
        if not _NAMESPACE.fullmatch(namespace):
            raise BusError(f"Redis namespace {namespace!r} may only use letters, digits, _ . -")
        self._url = _redacted(url)
        self._ns = namespace
        self._buffer_size = buffer_size
        self._subscribe_timeout_s = subscribe_timeout_s
        self._keepalive_s = keepalive_s
        self._min_delay, self._max_delay = reconnect_delay_s
        # Commands retry twice so the first command after a server restart finds a fresh socket.
        self._redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        )
        # The subscriber connection never retries on its own: the reader task owns reconnection.
        self._sub_redis = Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=2.0, retry=Retry(NoBackoff(), 0)
        )
        self._control = f"{namespace}:bus-control"
        self._subscribers: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._waiters: defaultdict[str, list[asyncio.Future[None]]] = defaultdict(list)
        self._confirmed: set[str] = set()
        self._pubsub: PubSub | None = None
        self._live = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def connect(cls, url: str, **options: Any) -> RedisBus:
        """Connect, start the subscriber connection, and fail now if Redis is not there."""
        bus = cls(url, **options)
        try:
            with bus._redis_call("connect"):
                await bus._redis.ping()
            bus._ensure_reader()
            try:
                await asyncio.wait_for(bus._live.wait(), bus._subscribe_timeout_s)
            except TimeoutError:
                raise BusError(
                    f"Redis at {bus._url} did not accept a subscription within "
                    f"{bus._subscribe_timeout_s:g} s; check that redis-server is running"
                ) from None
        except BaseException:
            await bus.close()
            raise
        return bus

    def _ensure_reader(self) -> None:
        # Also started lazily, so a bus built with the plain constructor can still subscribe.
        if self._reader is None:
            self._reader = asyncio.create_task(self._run(), name=f"redis-bus-reader {self._url}")

    async def __aenter__(self) -> RedisBus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the one translation boundary ------------------------------------------------------

    @contextmanager
    def _redis_call(self, action: str) -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            raise BusError(
                f"Redis at {self._url} failed to {action}: {exc}; "
                "check that redis-server is running and reachable"
            ) from exc

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("the bus is closed")

    def _wire(self, channel: str) -> str:
        return f"{self._ns}:ch:{channel}"

    def _presence_key(self, seat_key: str) -> str:
        return f"{self._ns}:presence:{seat_key}"

    # -- events ----------------------------------------------------------------------------

    async def publish(self, channel: str, event: Mapping[str, Any]) -> int:
        self._check_open()
        check_channel(channel)
        text = encode_json(f"event for channel {channel!r}", event)
        with self._redis_call(f"publish to {channel!r}"):
            # Redis counts the connections subscribed to the channel: one per hub process
            # (each bus reads its subscriptions on one connection).
            return int(await self._redis.publish(self._wire(channel), text))

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        self._check_open()
        if not channels:
            raise BusError("subscribe needs at least one channel")
        for channel in channels:
            check_channel(channel)
        sub = Subscription(tuple(dict.fromkeys(channels)), self._buffer_size)
        self._ensure_reader()
        for channel in sub.channels:
            self._subscribers[channel].add(sub)
        try:
            await self._await_confirmed(sub.channels)
            yield sub
        finally:
            sub.close()
            gone = []
            for channel in sub.channels:
                self._subscribers[channel].discard(sub)
                if not self._subscribers[channel]:
                    del self._subscribers[channel]
                    self._confirmed.discard(channel)
                    gone.append(channel)
            if gone and self._pubsub is not None and not self._closed:
                # Best effort: if this fails the connection is gone, and with it the subscription.
                with suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(*map(self._wire, gone))

    async def _await_confirmed(self, channels: tuple[str, ...]) -> None:
        """Return once Redis confirmed every channel, so no later publish can be missed."""
        loop = asyncio.get_running_loop()
        futures = []
        to_send = []
        for channel in channels:
            if channel in self._confirmed:
                continue
            if not self._waiters[channel]:
                to_send.append(channel)
            future: asyncio.Future[None] = loop.create_future()
            self._waiters[channel].append(future)
            futures.append(future)
        if not futures:
            return
        if to_send and self._pubsub is not None:
            # While disconnected the reader subscribes to every wanted channel on reconnect.
            with suppress(RedisError, OSError):
                await self._pubsub.subscribe(*map(self._wire, to_send))
        try:
            await asyncio.wait_for(asyncio.gather(*futures), self._subscribe_timeout_s)
        except TimeoutError:
            for channel in channels:
                pending = [f for f in self._waiters.get(channel, []) if f not in futures]
                if pending:
                    self._waiters[channel] = pending
                else:
                    self._waiters.pop(channel, None)
            raise BusError(
                f"Redis at {self._url} did not confirm the subscription to "
                f"{', '.join(channels)} within {self._subscribe_timeout_s:g} s; "
                "check that redis-server is running"
            ) from None

    def _on_subscribed(self, wire_channel: str) -> None:
        if wire_channel == self._control:
            self._live.set()
            return
        channel = wire_channel.removeprefix(f"{self._ns}:ch:")
        if channel in self._subscribers:
            self._confirmed.add(channel)
        for future in self._waiters.pop(channel, []):
            if not future.done():
                future.set_result(None)

    def _on_message(self, wire_channel: str, data: str) -> None:
        channel = wire_channel.removeprefix(f"{self._ns}:ch:")
        subscribers = self._subscribers.get(channel)
        if not subscribers:
            return
        try:
            decode_json(data)
        except ValueError:
            log.warning("bus.bad_event_dropped", channel=channel, size=len(data))
            return
        for sub in list(subscribers):
            sub.push(channel, decode_json(data))

    async def _run(self) -> None:
        """Own the subscriber connection: read, dispatch, and reconnect after any failure."""
        delay = self._min_delay
        loop = asyncio.get_running_loop()
        while not self._closed:
            pubsub = self._sub_redis.pubsub()
            was_live = False
            try:
                sent = set(self._subscribers)
                await pubsub.subscribe(self._control, *map(self._wire, sent))
                self._pubsub = pubsub
                # Subscribers that arrived during that await found no connection to send on.
                if late := set(self._subscribers) - sent:
                    await pubsub.subscribe(*map(self._wire, late))
                last_seen = loop.time()
                pinged = False
                while True:
                    message = await pubsub.get_message(timeout=self._keepalive_s)
                    if message is None:
                        # Silence: ping once; a second silent period means the peer is gone
                        # even though the socket looks open (no FIN after a network cut).
                        if pinged and loop.time() - last_seen > 2 * self._keepalive_s:
                            raise ConnectionError("no reply to keepalive PING")
                        await pubsub.ping()
                        pinged = True
                        continue
                    last_seen, pinged = loop.time(), False
                    kind = message["type"]
                    if kind == "subscribe":
                        self._on_subscribed(message["channel"])
                        if message["channel"] == self._control:
                            was_live, delay = True, self._min_delay
                    elif kind == "message":
                        self._on_message(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("bus.redis_disconnected", url=self._url, error=str(exc))
            finally:
                self._pubsub = None
                self._live.clear()
                self._confirmed.clear()
                with suppress(RedisError, OSError):
                    await pubsub.aclose()
            if was_live:
                for subs in self._subscribers.values():
                    for sub in subs:
                        sub.interruptions += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_delay)

    # -- presence --------------------------------------------------------------------------

    async def set_presence(self, seat_key: str, info: Mapping[str, Any], ttl_s: float) -> None:
        self._check_open()
        check_seat_key(seat_key)
        check_ttl(ttl_s)
        text = encode_json(f"presence info for {seat_key!r}", info)
        with self._redis_call(f"set presence of {seat_key!r}"):
            await self._redis.set(
                self._presence_key(seat_key), text, px=max(1, round(ttl_s * 1000))
            )

    async def clear_presence(self, seat_key: str) -> None:
        self._check_open()
        check_seat_key(seat_key)
        with self._redis_call(f"clear presence of {seat_key!r}"):
            await self._redis.delete(self._presence_key(seat_key))

    async def present(self) -> dict[str, Event]:
        self._check_open()
        prefix = self._presence_key("")
        found: dict[str, Event] = {}
        with self._redis_call("list presence"):
            # SCAN may return a key twice; the set removes duplicates.
            keys = sorted(
                {k async for k in self._redis.scan_iter(match=f"{prefix}*", count=_SCAN_BATCH)}
            )
            for start in range(0, len(keys), _SCAN_BATCH):
                batch = keys[start : start + _SCAN_BATCH]
                for key, value in zip(batch, await self._redis.mget(batch), strict=True):
                    if value is None:  # expired between SCAN and MGET
                        continue
                    try:
                        found[key.removeprefix(prefix)] = decode_json(value)
                    except ValueError:
                        log.warning("bus.bad_presence_ignored", key=key)
        return dict(sorted(found.items()))

    async def ping(self) -> None:
        self._check_open()
        with self._redis_call("answer PING"):
            await self._redis.ping()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader
        for subs in self._subscribers.values():
            for sub in subs:
                sub.close()
        for waiters in self._waiters.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(BusError("the bus was closed while subscribing"))
        self._waiters.clear()
        with suppress(RedisError, OSError):
            await self._redis.aclose()
        with suppress(RedisError, OSError):
            await self._sub_redis.aclose()
