"""``seat-agent run``: the terminal's long-running process once its venue admin approved it.

``SeatAgent`` opens the score outbox in the state directory (``outbox.db``), connects to the hub
with a ``SeatLink`` (reconnecting with backoff), keeps the outbox delivering through
``ScoreDelivery`` (everything left from an earlier process is replayed on the first
connection), and logs each change of the link's state. Other parts of the agent (the expert's
page, the media publisher) add their own event handlers with ``add_handler``; they are called
after the outbox, in order, and a handler's failure is logged, never fatal to the link.

``run`` returns when ``stop`` is set (SIGTERM/SIGINT in the command) or raises ``HubRefused``
when the hub refuses this terminal for good. Stopping cancels the link and closes the outbox:
a save the expert made is on disk before it is sent, so stopping never loses one.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

import structlog

from seat_agent.connection import EventHandler, SeatLink
from seat_agent.keys import SeatIdentity
from seat_agent.outbox import ScoreDelivery, ScoreOutbox
from seat_protocol.events import Connected, Disconnected, Event, ScoreCommitted

__all__ = ["OUTBOX_FILE", "SeatAgent", "run_until_signalled"]

log = structlog.get_logger(__name__)

OUTBOX_FILE = "outbox.db"


class SeatAgent:
    """One seat terminal's link, outbox and event handlers."""

    def __init__(self, identity: SeatIdentity, outbox: ScoreOutbox, link: SeatLink) -> None:
        self.identity = identity
        self.outbox = outbox
        self.link = link
        self.delivery = ScoreDelivery(outbox, link)
        self._handlers: list[EventHandler] = []
        link.on_event = self._on_event

    @classmethod
    async def open(
        cls, identity: SeatIdentity, *, link_factory: Callable[..., SeatLink] = SeatLink
    ) -> SeatAgent:
        outbox = await ScoreOutbox.open(identity.state_dir / OUTBOX_FILE)
        return cls(identity, outbox, link_factory(identity))

    def add_handler(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, Connected):
            log.info(
                "seat.link_up",
                seat_key=event.seat_id,
                connections=self.link.connections,
                lost_incoming=event.lost_incoming,
                peer_lost=event.peer_lost,
                pending_scores=len(await self.outbox.pending()),
            )
        elif isinstance(event, Disconnected):
            log.info(
                "seat.link_down",
                seat_key=event.seat_id,
                code=event.code,
                reason=event.reason,
                permanent=event.permanent,
            )
        elif isinstance(event, ScoreCommitted):
            log.info("seat.score_acknowledged", idempotency_key=event.idempotency_key)
        await self.delivery.on_event(event)
        for handler in list(self._handlers):
            try:
                await handler(event)
            except Exception:
                log.exception("seat.event_handler_failed", event=type(event).__name__)

    async def run(self, stop: asyncio.Event) -> None:
        """Run the link until ``stop`` is set; ``HubRefused`` if the hub refuses for good."""
        link = asyncio.create_task(self.link.run())
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({link, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            link.cancel()
            await asyncio.wait({link, stopping})
            await self.outbox.close()
        if not link.cancelled():
            link.result()  # HubRefused (run() never returns normally)


async def run_until_signalled(identity: SeatIdentity) -> None:
    """The ``run`` command's body: run until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        agent = await SeatAgent.open(identity)
        log.info("seat.agent_started", seat_key=identity.seat_id, hub=identity.hub_url)
        await agent.run(stop)
        log.info("seat.agent_stopped", seat_key=identity.seat_id)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
