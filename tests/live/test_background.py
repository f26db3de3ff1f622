"""A closing live component finishes its audit records under way and cancels the rest
(``live.background``): the hub stopping no longer drops 'viewer closed', 'seat lost' or alert
records it had already seen happen."""

from __future__ import annotations

import asyncio

from evaluation_hub.live.background import Background


async def test_close_finishes_the_records_and_cancels_the_rest() -> None:
    background = Background()
    written: list[str] = []
    release = asyncio.Event()

    async def record() -> None:
        await release.wait()  # e.g. queued behind another writer
        written.append("live.viewer_closed")

    async def timer() -> None:
        await asyncio.sleep(3600)  # a viewer's connect timeout: serves a live connection only
        written.append("timer fired")

    background.spawn(record(), write=True)
    background.spawn(timer())
    closing = asyncio.create_task(background.close(grace=5))
    await asyncio.sleep(0.05)
    assert not closing.done()  # waiting for the record, the timer already cancelled
    release.set()
    await asyncio.wait_for(closing, 5)
    assert written == ["live.viewer_closed"]


async def test_a_record_outlasting_the_grace_is_cancelled() -> None:
    background = Background()
    ended: list[str] = []

    async def stuck() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    background.spawn(stuck(), write=True)
    await asyncio.wait_for(background.close(grace=0.1), 5)
    assert ended == ["cancelled"]
