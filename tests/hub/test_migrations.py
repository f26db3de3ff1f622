"""The schema comes only from Alembic, matches the models, and the hub refuses to run behind it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.db.migrate import head_revision
from evaluation_hub.errors import DatabaseNotMigrated
from evaluation_hub.tables import metadata
from tests.conftest import fresh_database_url
from tests.support.postgres_server import free_port


def _diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_models(database: Database) -> None:
    async with database.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_hub_refuses_an_unmigrated_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = fresh_database_url(backend, tmp_path, request)
    db = Database(url)
    try:
        with pytest.raises(DatabaseNotMigrated) as err:
            await db.check_migrated()
        assert str(err.value) == (
            f"database {url} is at revision none (empty), this hub needs {head_revision()}; "
            "run `evaluation-hub db upgrade` with the same --database-url to migrate it"
        )
        await db.upgrade()
        await db.check_migrated()
    finally:
        await db.dispose()


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process (it runs its own event loop)."""
    return subprocess.run(
        [sys.executable, "-m", "evaluation_hub.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_check_upgrade_and_serve_refusal(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'hub.db'}"
    checked = hub("db", "check", "--database-url", url)
    assert checked.returncode == 2
    assert checked.stderr == (
        f"evaluation-hub: database {url} is at revision none (empty), this hub needs "
        f"{head_revision()}; run `evaluation-hub db upgrade` with the same --database-url to "
        "migrate it\n"
    )
    assert not (tmp_path / "sub" / "hub.db").exists()
    served = hub("serve", "--database-url", url, "--port", "1")
    assert served.returncode == 2
    assert "run `evaluation-hub db upgrade`" in served.stderr
    assert hub("db", "upgrade", "--database-url", url).returncode == 0
    checked = hub("db", "check", "--database-url", url)
    assert (checked.returncode, checked.stdout) == (
        0,
        f"database {url} is at the latest revision\n",
    )


def test_unsupported_database_url_is_a_config_error() -> None:
    checked = hub("db", "check", "--database-url", "mysql://x/y")
    assert checked.returncode == 2
    assert "unsupported database URL 'mysql://x/y'" in checked.stderr


def test_token_secret_must_be_long() -> None:
    from evaluation_hub.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 32 characters"):
        HubConfig.from_env({"EVALHUB_TOKEN_SECRET": "short"})


def test_serve_refuses_an_unreachable_redis(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    assert hub("db", "upgrade", "--database-url", url).returncode == 0
    port = free_port()  # nothing listens there
    served = hub(
        "serve",
        "--database-url",
        url,
        "--redis-url",
        f"redis://127.0.0.1:{port}/0",
        "--port",
        str(free_port()),
    )
    assert served.returncode == 2
    assert f"evaluation-hub: Redis at redis://127.0.0.1:{port}/0" in served.stderr
