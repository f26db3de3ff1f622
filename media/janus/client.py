"""An asyncio client of Janus's HTTP API (the REST transport): sessions, plugin handles, events.

One :class:`JanusSession` is one Janus session: requests are POSTed to it, and one long poll
(``GET /janus/<session>?maxev=…``) brings back its events, which are matched to the request
that is waiting for them by transaction, or handed to the handle they concern
(:attr:`JanusHandle.on_event`: ``webrtcup``, ``hangup``, VideoRoom notifications). A keepalive
every ``keepalive_s`` keeps the session open while nothing else happens.

Every request carries the API secret (Janus's ``api_secret``): Janus refuses anybody without
it. Errors are :class:`~media.errors.JanusUnavailable` (no answer) and
:class:`~media.errors.JanusRefused` (Janus's or the plugin's error code and reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from media.errors import JanusRefused, JanusUnavailable

__all__ = ["Event", "JanusHandle", "JanusSession", "Jsep", "server_info"]

logger = logging.getLogger(__name__)

Event = dict[str, Any]
Jsep = dict[str, Any]

_LONG_POLL_S = 30.0  # Janus answers a long poll within 30 s (a keepalive) when nothing happens


class JanusSession:
    """One Janus session and its event long poll; :meth:`create` opens it."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        session_id: int,
        *,
        api_secret: str | None,
        timeout: float,
        keepalive_s: float,
        owns_http: bool,
    ) -> None:
        self.url = url.rstrip("/")
        self.id = session_id
        self._http = http
        self._owns_http = owns_http
        self._secret = api_secret
        self._timeout = timeout
        self._keepalive_s = keepalive_s
        self._tx = itertools.count(1)
        self._tx_prefix = secrets.token_hex(4)
        self._waiting: dict[str, asyncio.Future[Event]] = {}
        self._handles: dict[int, JanusHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = False
        #: called once if the session ends on Janus's side (it restarted, or timed it out)
        self.on_lost: Callable[[], None] | None = None

    @classmethod
    async def create(
        cls,
        url: str,
        *,
        api_secret: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - per HTTP request, not for the whole call
        keepalive_s: float = 20.0,
        http: aiohttp.ClientSession | None = None,
    ) -> JanusSession:
        """Create a session on the Janus at ``url`` (``http://host:port/janus``)."""
        owns = http is None
        client = http or aiohttp.ClientSession()
        try:
            reply = await _post(client, url.rstrip("/"), _secret({"janus": "create", "transaction": secrets.token_hex(6)}, api_secret),
                                timeout, "create")  # fmt: skip
        except BaseException:
            if owns:
                await client.close()
            raise
        session = cls(
            client,
            url,
            int(reply["data"]["id"]),
            api_secret=api_secret,
            timeout=timeout,
            keepalive_s=keepalive_s,
            owns_http=owns,
        )
        session._tasks = [
            asyncio.ensure_future(session._poll()),
            asyncio.ensure_future(session._keepalive()),
        ]
        return session

    # --- requests --------------------------------------------------------------------------

    def _transaction(self) -> str:
        return f"{self._tx_prefix}-{next(self._tx)}"

    async def send(self, path: str, body: Mapping[str, Any], *, what: str) -> Event:
        """POST ``body`` to the session (or a handle: ``path`` ``/<handle>``); Janus's reply."""
        if self.closed:
            raise JanusUnavailable(self.url, "the client closed this session")
        message = _secret({**body, "transaction": self._transaction()}, self._secret)
        return await _post(self._http, f"{self.url}/{self.id}{path}", message, self._timeout, what)

    async def send_awaiting_event(
        self, path: str, body: Mapping[str, Any], *, what: str, wait: float
    ) -> Event:
        """POST an asynchronous request and return the event Janus sends for it."""
        if self.closed:
            raise JanusUnavailable(self.url, "the client closed this session")
        transaction = self._transaction()
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        # Registered before the POST: the event may come back on the long poll before the ack.
        self._waiting[transaction] = future
        try:
            message = _secret({**body, "transaction": transaction}, self._secret)
            url = f"{self.url}/{self.id}{path}"
            reply = await _post(self._http, url, message, self._timeout, what)
            if reply.get("janus") != "ack":
                return reply  # answered at once (a synchronous request)
            try:
                async with asyncio.timeout(wait):
                    return await future
            except TimeoutError:
                raise JanusUnavailable(self.url, f"no answer to {what} within {wait:g} s") from None
        finally:
            self._waiting.pop(transaction, None)

    async def attach(self, plugin: str = "janus.plugin.videoroom") -> JanusHandle:
        reply = await self.send("", {"janus": "attach", "plugin": plugin}, what="attach")
        handle = JanusHandle(self, int(reply["data"]["id"]))
        self._handles[handle.id] = handle
        return handle

    def forget(self, handle: JanusHandle) -> None:
        self._handles.pop(handle.id, None)

    async def close(self) -> None:
        """Destroy the session on Janus (best effort) and stop polling."""
        if self.closed:
            return
        with contextlib.suppress(JanusUnavailable, JanusRefused):
            await self.send("", {"janus": "destroy"}, what="destroy")
        self.closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(JanusUnavailable(self.url, "the session was closed"))
        if self._owns_http:
            await self._http.close()

    # --- events ------------------------------------------------------------------------------

    async def _poll(self) -> None:
        params = {"maxev": "10"}
        if self._secret is not None:
            params["apisecret"] = self._secret
        url = f"{self.url}/{self.id}"
        failures = 0
        while not self.closed:
            try:
                async with self._http.get(
                    url, params=params, timeout=aiohttp.ClientTimeout(total=_LONG_POLL_S + 15)
                ) as response:
                    events = await response.json(content_type=None)
                failures = 0
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                failures += 1
                logger.warning("janus long poll on %s failed (%s): %s", url, failures, exc)
                if failures >= 5:
                    self._lost()
                    return
                await asyncio.sleep(min(2.0, 0.2 * failures))
                continue
            for event in events if isinstance(events, list) else [events]:
                if isinstance(event, dict):
                    self._dispatch(event)
                    if event.get("janus") == "error" and event.get("error", {}).get("code") == 458:
                        self._lost()  # "No such session": Janus restarted or timed us out
                        return

    def _lost(self) -> None:
        if not self.closed and self.on_lost is not None:
            self.on_lost()

    def _dispatch(self, event: Event) -> None:
        kind = event.get("janus")
        if kind == "keepalive":
            return
        transaction = event.get("transaction")
        future = self._waiting.get(str(transaction)) if transaction is not None else None
        if future is not None and kind != "ack" and not future.done():
            future.set_result(event)
            return
        sender = event.get("sender")
        handle = self._handles.get(int(sender)) if sender is not None else None
        if handle is not None:
            if kind == "detached":
                self._handles.pop(handle.id, None)
            if handle.on_event is not None:
                try:
                    handle.on_event(event)
                except Exception:
                    logger.exception("janus event handler failed for %s", kind)

    async def _keepalive(self) -> None:
        while not self.closed:
            await asyncio.sleep(self._keepalive_s)
            try:
                await self.send("", {"janus": "keepalive"}, what="keepalive")
            except JanusRefused as exc:
                if exc.code == 458:
                    self._lost()
                    return
            except JanusUnavailable as exc:
                logger.warning("janus keepalive failed: %s", exc)


class JanusHandle:
    """One handle of a plugin in a :class:`JanusSession`."""

    def __init__(self, session: JanusSession, handle_id: int) -> None:
        self.session = session
        self.id = handle_id
        self.on_event: Callable[[Event], None] | None = None

    async def request(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request (``create``, ``exists``, ``listparticipants``, …):
        the plugin's data, or :class:`JanusRefused` with the plugin's error."""
        what = str(body.get("request", "message"))
        reply = await self.session.send(
            f"/{self.id}", {"janus": "message", "body": dict(body)}, what=what
        )
        return _plugin_data(reply, what)

    async def message(
        self, body: Mapping[str, Any], jsep: Jsep | None = None, *, wait: float = 15.0
    ) -> tuple[dict[str, Any], Jsep | None]:
        """An asynchronous plugin request (``join``, ``publish``, ``start``, …): the data and
        the JSEP of the event Janus sends for it."""
        what = str(body.get("request", "message"))
        message: dict[str, Any] = {"janus": "message", "body": dict(body)}
        if jsep is not None:
            message["jsep"] = jsep
        event = await self.session.send_awaiting_event(f"/{self.id}", message, what=what, wait=wait)
        data = _plugin_data(event, what)
        found = event.get("jsep")
        return data, found if isinstance(found, dict) else None

    async def hangup(self) -> None:
        with contextlib.suppress(JanusRefused):
            await self.session.send(f"/{self.id}", {"janus": "hangup"}, what="hangup")

    async def detach(self) -> None:
        """Detach from the plugin (it leaves the room, its peer connection ends)."""
        self.session.forget(self)
        with contextlib.suppress(JanusRefused):
            await self.session.send(f"/{self.id}", {"janus": "detach"}, what="detach")


def _secret(body: dict[str, Any], api_secret: str | None) -> dict[str, Any]:
    return body if api_secret is None else {**body, "apisecret": api_secret}


def _plugin_data(reply: Event, what: str) -> dict[str, Any]:
    if reply.get("janus") == "error":
        error = reply.get("error", {})
        raise JanusRefused(what, int(error.get("code", 0)), str(error.get("reason", "")))
    data = reply.get("plugindata", {}).get("data", {})
    if not isinstance(data, dict):
        raise JanusRefused(what, 0, f"unexpected reply {reply.get('janus')!r}")
    if "error" in data or "error_code" in data:
        raise JanusRefused(what, int(data.get("error_code", 0)), str(data.get("error", "")))
    return data


async def server_info(
    url: str,
    *,
    timeout: float = 2.0,  # noqa: ASYNC109 - aiohttp's own request timeout
    http: aiohttp.ClientSession | None = None,
) -> Event:
    """Janus's ``info`` answer (``server_info``): whether the instance at ``url`` answers,
    without making a session there; :class:`JanusUnavailable` if it does not."""
    client = http or aiohttp.ClientSession()
    try:
        body = {"janus": "info", "transaction": secrets.token_hex(6)}
        return await _post(client, url.rstrip("/"), body, timeout, "info")
    finally:
        if http is None:
            await client.close()


async def _post(
    http: aiohttp.ClientSession,
    url: str,
    body: Mapping[str, Any],
    timeout: float,  # noqa: ASYNC109 - aiohttp's own request timeout
    what: str,
) -> Event:
    try:
        async with http.post(
            url, json=dict(body), timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            reply = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise JanusUnavailable(url, f"{what}: {exc or type(exc).__name__}") from exc
    if not isinstance(reply, dict):
        raise JanusUnavailable(url, f"{what}: not a JSON object")
    if reply.get("janus") == "error":
        error = reply.get("error", {})
        raise JanusRefused(what, int(error.get("code", 0)), str(error.get("reason", "")))
    return reply
