"""``seat-agent run``: the terminal's long-running process once its venue admin approved it.

``SeatAgent`` opens the score outbox in the state directory (``outbox.db``), connects to the hub
with a ``SeatLink`` (reconnecting with backoff), keeps the outbox delivering through
``ScoreDelivery`` (everything left from an earlier process is replayed on the first
connection; a save the hub could not judge for now is sent again with backoff while the link
stays up; the hub's verdict on each is recorded), and logs each change of the link's state. Other parts of the agent (the expert's
page, the media publisher) add their own event handlers with ``add_handler``; they are called
after the outbox, in order, and a handler's failure is logged, never fatal to the link.

``run`` returns when ``stop`` is set (SIGTERM/SIGINT in the command) or raises ``HubRefused``
when the hub refuses this terminal for good. Stopping cancels the link and closes the outbox:
a save the expert made is on disk before it is sent, so stopping never loses one.

``run --script FILE`` plays a scripted expert (``seat_agent.script``) through the same
delivery, its integrity commitment (if the script has one) through a ``ScriptCommitment``
handler, its report signature (``sign``) through a ``ScriptSignature`` handler with the
seat's own key and its review answers (``review``) through a ``ScriptReviews`` handler;
``run --publish testpattern|camera[:INDEX]`` adds a ``SeatPublisher`` handler.

``run --page-port`` serves the expert's page (``seat_agent.page``) on a loopback address with a
key made for this start (or handed over by the launcher) and prints the address to open, key
included, on standard output: printed for the person at the terminal, never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from seat_agent.chapters import ChapterCache
from seat_agent.connection import EventHandler, SeatLink
from seat_agent.errors import SeatAgentError
from seat_agent.keys import SeatIdentity
from seat_agent.outbox import ScoreDelivery, ScoreOutbox
from seat_protocol.events import Connected, Disconnected, Event, ScoreCommitted, ScoreRefused

if TYPE_CHECKING:
    from aiohttp import web
    from aiortc import MediaStreamTrack

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
        # The expert's encrypted chapters (``open`` attaches it; it is the first handler).
        self.chapters: ChapterCache | None = None
        link.on_event = self._on_event

    @classmethod
    async def open(
        cls,
        identity: SeatIdentity,
        *,
        link_factory: Callable[..., SeatLink] = SeatLink,
        new_key: Callable[[], str] | None = None,
    ) -> SeatAgent:
        path = identity.state_dir / OUTBOX_FILE
        outbox = await (
            ScoreOutbox.open(path, new_key=new_key) if new_key else ScoreOutbox.open(path)
        )
        agent = cls(identity, outbox, link_factory(identity))
        agent.chapters = await ChapterCache.open(identity.state_dir, identity)
        agent.chapters.bind(agent.link.send)
        # Chunks of the cache's manifest are proven by their AEAD tag (no SHA-256 per chunk).
        agent.link.chunk_check = agent.chapters.check_chunk
        agent.add_handler(agent.chapters.on_event)
        return agent

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
            log.info(
                "seat.score_acknowledged", idempotency_key=event.idempotency_key, accepted=True
            )
        elif isinstance(event, ScoreRefused):
            log.info(
                "seat.score_acknowledged",
                idempotency_key=event.idempotency_key,
                accepted=False,
                code=event.code,
            )
        await self.delivery.on_event(event)
        for handler in list(self._handlers):
            try:
                await handler(event)
            except Exception:
                log.exception("seat.event_handler_failed", event_type=type(event).__name__)

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
            await self.delivery.close()
            await self.outbox.close()
        if not link.cancelled():
            link.result()  # HubRefused (run() never returns normally)


async def open_tracks(spec: str) -> list[MediaStreamTrack]:
    """``--publish``: ``testpattern`` (moving picture and a tone) or ``camera[:INDEX]``."""
    from media.testpattern import TestPatternTrack, ToneTrack

    if spec == "testpattern":
        return [TestPatternTrack(width=320, height=240, fps=15), ToneTrack()]
    name, _, index = spec.partition(":")
    if name != "camera" or not (index or "0").isdigit():
        raise SeatAgentError(
            f"无法识别的 --publish 取值 {spec!r}：应为 testpattern 或 camera[:编号]"
        )
    from media.sources import open_camera

    return [await open_camera(int(index or "0"))]


async def _logged(seat_id: str, player: Awaitable[None]) -> None:
    """A script that cannot go on (say, its commitment was refused) stops; the agent runs on."""
    try:
        await player
    except SeatAgentError as exc:
        log.error("seat.script_stopped", seat_key=seat_id, error=str(exc))


async def run_until_signalled(
    identity: SeatIdentity,
    *,
    script: Path | None = None,
    publish: str | None = None,
    page_port: int | None = None,
    page_host: str = "127.0.0.1",
    page_key: str | None = None,
    talkback: str | None = None,
) -> None:
    """The ``run`` command's body: run until SIGTERM or SIGINT, optionally playing a scripted
    expert (``seat_agent.script``) and publishing the camera or the test pattern.

    With ``page_port``, the expert's page on ``page_host`` (loopback only: ``PageSetupError``
    before anything starts otherwise); its key is ``page_key`` if a launcher handed one over
    (the launcher then knows the address, so it is not printed), else a fresh one, printed.
    With ``talkback``, the seat receives push-to-talk audio and plays it to that sink (``""``:
    counted only; ``seat_agent.talkback``)."""
    from seat_agent.page.guard import check_loopback, check_page_key, new_page_key
    from seat_agent.publisher import SeatPublisher
    from seat_agent.script import KeyPlan, ScriptCommitment, ScriptSignature, load_script
    from seat_agent.talkback import TalkbackReceiver

    if page_port is not None:
        check_loopback(page_host)
    key = check_page_key(page_key) if page_key is not None else new_page_key()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    extras: list[asyncio.Task[None]] = []
    publisher: SeatPublisher | None = None
    receiver: TalkbackReceiver | None = None
    page: web.AppRunner | None = None
    try:
        plan = load_script(script) if script is not None else None
        keys = KeyPlan(lambda: uuid.uuid4().hex)
        agent = await SeatAgent.open(identity, new_key=keys if plan else None)
        log.info("seat.agent_started", seat_key=identity.seat_id, hub=identity.hub_url)
        if page_port is not None:
            # The expert's page (seat_agent.page); a busy port must not stop score delivery.
            from seat_agent.page.app import start_page

            try:
                page, url = await start_page(agent, page_port, page_host, key)
            except OSError as exc:
                log.error("seat.page_unavailable", port=page_port, error=str(exc))
            else:
                if page_key is None:
                    print(f"专家页面（请在本机浏览器中打开，仅本次启动有效）：{url}", flush=True)
        if publish is not None:
            publisher = SeatPublisher(agent.link.send, await open_tracks(publish))
            agent.add_handler(publisher.on_event)
        if talkback is not None:
            receiver = TalkbackReceiver(agent.link.send, sink=talkback or None)
            agent.add_handler(receiver.on_event)
        if plan is not None:
            commitment = ScriptCommitment(agent.link.send)
            agent.add_handler(commitment.on_event)
            signature = None
            if plan.signing is not None:
                signature = ScriptSignature(agent.link.send, identity)
                agent.add_handler(signature.on_event)
            player = plan.play(
                identity.seat_id, identity.state_dir, agent.delivery, keys, commitment, signature
            )
            extras.append(asyncio.create_task(_logged(identity.seat_id, player)))
            if plan.reviewing is not None:
                from seat_agent.script_reviews import ScriptReviews, play_reviews

                reviews = ScriptReviews(agent.link.send)
                agent.add_handler(reviews.on_event)
                answering = play_reviews(
                    plan, identity.seat_id, identity.state_dir, agent.delivery, keys, reviews
                )
                extras.append(asyncio.create_task(_logged(identity.seat_id, answering)))
        await agent.run(stop)
        log.info("seat.agent_stopped", seat_key=identity.seat_id)
    finally:
        for task in extras:
            task.cancel()
        if extras:
            await asyncio.wait(extras)
        if publisher is not None:
            await publisher.close()
        if receiver is not None:
            await receiver.close()
        if page is not None:
            await page.cleanup()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
