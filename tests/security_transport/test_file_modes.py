"""Files the hub and the seat agent write are their user's alone — files 0600, folders 0700 —
and the hub writes all of them under its configured state directory (never ``./var`` when told
otherwise). These run under a permissive umask (022), so a mode can only come from the code.
(The recordings' modes are asserted in tests/live/test_recording.py, the real ``serve``
process's in test_https_hub.py.)"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from evaluation_hub.api.app import create_app
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from seat_agent.keys import init_state_dir, load_identity
from seat_agent.outbox import ScoreOutbox


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_every_hub_path_follows_the_state_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = HubConfig.from_env({}, state_dir=state)
    assert config.state_dir == state
    assert config.database_url == f"sqlite+aiosqlite:///{state / 'hub.db'}"
    assert (config.sealing_key_file, config.hub_key_file, config.recordings_dir) == (
        state / "sealing.key",
        state / "hub-key.pem",
        state / "recordings",
    )
    # The token secret was made there, not in ./var.
    assert _mode(state / "token.secret") == 0o600
    assert _mode(state) == 0o700
    # EVALHUB_STATE_DIR says the same; explicit settings still win.
    other = HubConfig.from_env(
        {"EVALHUB_STATE_DIR": str(tmp_path / "env"), "EVALHUB_SEALING_KEY_FILE": "/k/s.key"}
    )
    assert other.hub_key_file == tmp_path / "env" / "hub-key.pem"
    assert other.sealing_key_file == Path("/k/s.key")


async def test_the_hub_database_and_keys_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = HubConfig.from_env({"EVALHUB_RECORDINGS": "off"}, state_dir=state)
    db = Database(config.database_url)
    await db.upgrade()
    app = create_app(config, db=db, sweep=False)  # makes the sealing and audit keys
    async with db.write() as s:  # a write: SQLite makes its -wal and -shm files
        await s.execute(text("SELECT 1"))
    try:
        made = {p.name: _mode(p) for p in state.iterdir()}
        public = {name for name in made if name.endswith(".pub")}
        assert {name: mode for name, mode in made.items() if name not in public} == {
            name: 0o600 for name in made if name not in public
        }
        assert {"hub.db", "token.secret", "sealing.key", "hub-key.pem"} <= set(made)
        assert _mode(state) == 0o700
    finally:
        await db.dispose()
        del app


async def test_the_seat_agent_state_is_private(tmp_path: Path) -> None:
    state = tmp_path / "seat"
    identity = init_state_dir(
        state, seat_id="DL.DL-01", hub_url="ws://127.0.0.1:1/ws/seat", hub_id="h"
    )
    outbox = await ScoreOutbox.open(state / "outbox.db")
    await outbox.save("1", {"part": "ch1", "entries": []})
    try:
        modes = {p.name: _mode(p) for p in state.iterdir()}
        assert modes == dict.fromkeys(modes, 384)
        assert {"ed25519.key", "x25519.key", "seat.json", "outbox.db"} <= set(modes)
        assert _mode(state) == 0o700
    finally:
        await outbox.close()
    # A state directory left world-readable by an older agent is narrowed when it is loaded.
    os.chmod(state, 0o755)
    assert load_identity(state).seat_id == identity.seat_id
    assert _mode(state) == 0o700
