"""Asking the other hub processes over the bus (跨进程询问): a request goes to every process on
one channel, and only the processes that have what was asked for answer, each on the asker's
own channel (``<channel>:<process>``); the others stay silent. So a request nobody can answer
ends at the asker's timeout, and the asker says what one process alone would say. A request
every process answers (``ask(everyone=True)``) ends when all the processes the bus delivered it
to have answered.

A request may name the one process it is for (``"to"``): the others ignore it. The answering
process trusts its peers on the bus (the bus is the hub's own); access was decided by the asking
process before it asked. Used by the wall's relays (``live.relay``, ``live.janus_relay``) and
talk-back's (``talkback.voice_relay``), each on its own channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from evaluation_hub.bus.base import Bus, Event
from evaluation_hub.errors import BusError

__all__ = ["Answer", "BusAsker"]

log = structlog.get_logger(__name__)

#: what this process says to a request (None: nothing, it does not have it)
Answer = Callable[[Event], Awaitable[dict[str, Any] | None]]


class BusAsker:
    def __init__(self, bus: Bus, channel: str, answer: Answer, *, process: str | None = None):
        self.bus = bus
        self.channel = channel
        self._answer = answer
        self.process = process if process is not None else uuid.uuid4().hex
        self._pending: dict[str, asyncio.Queue[Event]] = {}
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def replies(self) -> str:
        return f"{self.channel}:{self.process}"

    async def ask_one(
        self, request: dict[str, Any], *, wait: float, to: str | None = None
    ) -> Event | None:
        """The first answer to ``request`` (of process ``to`` only, if named), or None."""
        if to is not None:
            request = {**request, "to": to}
        replies = await self.ask(request, wait=wait, enough=bool)
        return replies[0] if replies else None

    async def ask(
        self,
        request: dict[str, Any],
        *,
        wait: float,
        enough: Callable[[list[Event]], bool],
        everyone: bool = False,
    ) -> list[Event]:
        """Publish ``request``; the replies until ``enough(replies)`` or ``wait`` seconds.

        ``everyone``: every process answers this request (the answer may say "none here"), so
        the asking also ends once each other process that took it has answered: ``wait`` is
        then only reached when one is too slow (it is left out), not whenever nobody has all
        that was asked for."""
        if not self._ready.is_set():
            return []  # not serving yet (or any more): nobody could answer us
        ask_id = uuid.uuid4().hex
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._pending[ask_id] = queue
        got: list[Event] = []
        try:
            took = await self.bus.publish(
                self.channel, {**request, "id": ask_id, "from": self.process}
            )
            others = max(0, took - 1) if everyone else None  # this process took it too
            async with asyncio.timeout(wait):
                while not enough(got) and (others is None or len(got) < others):
                    got.append(await queue.get())
        except TimeoutError:
            pass
        except BusError as exc:
            log.warning(
                "bus.ask_unavailable", channel=self.channel, op=request.get("op"), error=str(exc)
            )
        finally:
            del self._pending[ask_id]
        return got

    async def serve(self) -> None:
        """Answer the other processes' requests and take in their replies, until cancelled."""
        async with self.bus.subscribe(self.channel, self.replies) as subscription:
            self._ready.set()
            try:
                async for channel, event in subscription:
                    if channel == self.replies:
                        queue = self._pending.get(str(event.get("id")))
                        if queue is not None:
                            queue.put_nowait(event)
                    elif event.get("from") != self.process and event.get("to") in (
                        None,
                        self.process,
                    ):
                        # Answering may take a while (ICE gathering): beside the loop, not in it.
                        task = asyncio.create_task(self._reply(event))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
            finally:
                self._ready.clear()
                for task in list(self._tasks):
                    task.cancel()

    async def _reply(self, event: Event) -> None:
        try:
            reply = await self._answer(event)
        except Exception:
            log.exception("bus.answer_failed", channel=self.channel, op=event.get("op"))
            return
        if reply is None:
            return
        with contextlib.suppress(BusError):
            await self.bus.publish(
                f"{self.channel}:{event['from']}",
                {**reply, "id": event.get("id"), "process": self.process},
            )
