"""The cryptographic suite is chosen in configuration and fixed for a database by `db upgrade`
(or the hub's first start): a command of the other suite is refused with a clear message."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from evaluation_hub.api.app import create_app
from evaluation_hub.audit.store import SuiteMismatch
from evaluation_hub.cli import main
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.errors import ConfigError
from seat_protocol.suites import NATIONAL


async def test_db_upgrade_fixes_the_suite_and_refuses_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("EVALHUB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("EVALHUB_CRYPTO_SUITE", "national")
    # In a thread, as the other CLI tests do: the command runs its own event loop.
    command = ["db", "upgrade", "--database-url", url]
    assert await asyncio.to_thread(main, command) == 0
    assert await asyncio.to_thread(main, command) == 0  # the same suite again
    capsys.readouterr()
    monkeypatch.setenv("EVALHUB_CRYPTO_SUITE", "default")
    assert await asyncio.to_thread(main, command) == 2
    assert capsys.readouterr().err == (
        "evaluation-hub: this database's audit chain uses the national cryptographic suite "
        "(SM2/SM3/SM4-GCM), but the hub is configured for the default suite "
        "(Ed25519/SHA-256/AES-256-GCM); the suite is fixed for a database once chosen: set "
        "EVALHUB_CRYPTO_SUITE=national, or give this hub a new database\n"
    )


def test_the_suite_setting() -> None:
    secret = {"EVALHUB_TOKEN_SECRET": "s" * 40}
    assert HubConfig.from_env({**secret, "EVALHUB_CRYPTO_SUITE": "National "}).suite is NATIONAL
    with pytest.raises(ConfigError) as caught:
        HubConfig.from_env({**secret, "EVALHUB_CRYPTO_SUITE": "gost"})
    assert str(caught.value) == (
        "EVALHUB_CRYPTO_SUITE: unknown cryptographic suite 'gost': choose one of default, national"
    )


async def test_the_hub_refuses_to_start_on_a_database_of_the_other_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("EVALHUB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("EVALHUB_CRYPTO_SUITE", "national")
    assert await asyncio.to_thread(main, ["db", "upgrade", "--database-url", url]) == 0
    config = HubConfig(
        database_url=url,
        token_secret="t" * 40,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "default-hub-key.pem",
        recordings_dir=tmp_path / "recordings",
    )
    db = Database(url)
    try:
        runner = web.AppRunner(create_app(config, db=db, sweep=False))
        try:
            with pytest.raises(SuiteMismatch, match="configured for the default suite"):
                await runner.setup()  # the application's start-up
        finally:
            await runner.cleanup()
        # Configured for the national suite, the same database starts (with an SM2 hub key).
        national = dataclasses.replace(
            config, crypto_suite="national", hub_key_file=tmp_path / "hub-key.pem"
        )
        app = create_app(national, db=db, sweep=False)
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/api/health")).status == 200
    finally:
        await db.dispose()
    assert (tmp_path / "hub-key.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")
