"""A chapter's content key depends on the chunk size it is sealed at. Chunk i's AES-GCM nonce is
its index, so if two hub processes configured with different chunk sizes derived the same key
for one chapter, each nonce would seal two different plaintexts (GCM's keystream and
authentication key given away). With the size in the key's input, chunk 0 sealed at one size
does not open under the key of the other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.db.engine import Database
from evaluation_hub.evaluation.package import released_context
from evaluation_hub.seats.chapters import seal_for_seat
from seat_protocol.chapter_crypto import chapter_context, chapter_key
from tests.chapters.helpers import Client, seated_session
from tests.conftest import FakeClock

A = "QJ.QJ-01"


async def test_one_chapter_at_two_chunk_sizes_has_two_keys(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    hub, ids = await seated_session(client, seeded, database, clock, tmp_path)
    assert client.app is not None
    services = client.app[SERVICES]
    identity = ids[A]
    public = identity.x25519.public_key().public_bytes_raw()
    async with database.read() as s:
        ctx = await released_context(s, hub.sid, "E06", sealer=services.sealer)
    small, _ = seal_for_seat(ctx, "E06", A, public, services.sealer, chunk_size=1024)
    large, large_chunks = seal_for_seat(ctx, "E06", A, public, services.sealer, chunk_size=4096)
    first_small, first_large = small.chapters[0], large.chapters[0]
    assert first_small.label == first_large.label and len(first_small.chunks) > 1
    context = chapter_context(str(hub.sid), A, first_small.label, first_small.position)
    small_key = chapter_key(first_small, identity.x25519, context)
    large_key = chapter_key(first_large, identity.x25519, context)
    count = len(first_large.chunks)
    aad = context.encode() + b"\0" + (0).to_bytes(8, "big") + count.to_bytes(8, "big")
    nonce = bytes(4) + (0).to_bytes(8, "big")
    sealed = large_chunks[first_large.chunks[0]]
    assert large_key.decrypt(nonce, sealed, aad)  # its own key opens it
    with pytest.raises(InvalidTag):
        small_key.decrypt(nonce, sealed, aad)
    # and the same size derives the same key again (any process re-derives the chunks)
    again, again_chunks = seal_for_seat(ctx, "E06", A, public, services.sealer, chunk_size=4096)
    assert again.chapters[0].chunks == first_large.chunks
    assert again_chunks[first_large.chunks[0]] == sealed
