"""One publication attempt per seat at a time, the newest (both media backends).

A seat that gets no answer in time offers again with a new connection (``seat_agent.publisher``,
backing off). On a starved hub the older offer is then still queued behind the seat's lock or
being worked on; answering it would make a publication nobody waits for, which the next one
replaces at once: the backlog grows with every retry. So a seat's newer offer supersedes its
older ones: an older offer still waiting for the seat's turn is refused without any work
(``media-offer-superseded``, which the seat ignores: it no longer waits for that offer), and the
Janus plane checks again after its slow steps. The seat's state on the wall is untouched by a
superseded offer (nothing was published).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

from evaluation_hub.live.status import MediaRefused

__all__ = ["SUPERSEDED", "LatestOffers"]

logger = logging.getLogger(__name__)

SUPERSEDED = (
    "media-offer-superseded",
    "该工位已发出更新的音视频推送请求，本次请求不再处理",
    409,
)


class LatestOffers:
    """Which offer is each seat's newest (see the module docstring)."""

    def __init__(self) -> None:
        self._latest: dict[str, str] = {}
        #: offers refused as superseded, for logs and tests
        self.superseded = 0

    def turn(
        self, seat_key: str, offer_id: str, lock: asyncio.Lock
    ) -> AbstractAsyncContextManager[None]:
        """The seat's turn to publish ``offer_id``, under ``lock``. The offer counts as the
        seat's newest from this call (make it where the offer arrives, before any await); the
        turn is refused if a newer one arrived by the time the lock is free."""
        self._latest[seat_key] = offer_id
        return self._turn(seat_key, offer_id, lock)

    def latest(self, seat_key: str) -> str | None:
        """The seat's newest offer not yet through its turn."""
        return self._latest.get(seat_key)

    def check(self, seat_key: str, offer_id: str) -> None:
        """Refuse ``offer_id`` if the seat sent a newer one meanwhile."""
        latest = self._latest.get(seat_key)
        if latest != offer_id:
            self.superseded += 1
            logger.info(
                "seat %s's media offer %s superseded by %s: dropped", seat_key, offer_id, latest
            )
            raise MediaRefused(*SUPERSEDED)

    @contextlib.asynccontextmanager
    async def _turn(self, seat_key: str, offer_id: str, lock: asyncio.Lock) -> AsyncIterator[None]:
        async with lock:
            self.check(seat_key, offer_id)
            try:
                yield
            finally:
                if self._latest.get(seat_key) == offer_id:
                    del self._latest[seat_key]
