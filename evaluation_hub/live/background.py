"""A live-media component's own tasks (bus publications, viewer timers, audit records), and how
they end when the component closes.

Records of what happened (a viewer closed, a seat lost, an alert) are finished, within a grace
period: cancelled, they would be missing from the session's audit chain although the hub saw
them happen, and on SQLite a write cut short used to leave the database locked
(``db.sqlite_driver``). The other tasks only serve a live connection and are cancelled at once.
The built-in hub, the Janus plane and its viewers each keep theirs here.

What must never be cancelled half-way is a task making a peer connection: cancelled while
aioice gathers its candidates, the connection is closed but the UDP sockets gathered meanwhile
stay open. When the Janus plane first waited for its records at close, the tests' seat agents,
hung up by Janus as the plane left, were stopped while re-offering, and their publisher
cancelled the offer being made: unclosed sockets in ``tests/janus/test_janus_relay.py``. The
publisher now lets an offer under way finish before it closes (``seat_agent.publisher``), as the
Janus conduct monitor lets a subscription under way finish (``live.janus_monitor``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

__all__ = ["CLOSING_WRITES_S", "Background"]

#: how long a closing component waits for its audit records under way
CLOSING_WRITES_S = 10.0


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()
        self._writes: set[asyncio.Future[Any]] = set()

    def spawn(self, work: Awaitable[Any], *, write: bool = False) -> None:
        """Run ``work`` beside the caller; ``write``: it records something (finished at close)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if write:
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def close(self, grace: float = CLOSING_WRITES_S) -> None:
        """Cancel what only serves a live connection, let the records under way finish (those
        still running after ``grace`` seconds are cancelled), and wait for all of them."""
        for task in self._tasks - self._writes:
            task.cancel()
        if self._writes:
            _, late = await asyncio.wait(set(self._writes), timeout=grace)
            for task in late:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
