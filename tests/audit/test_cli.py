"""``audit verify`` against real databases, called the way the ``evaluation-hub`` CLI calls it."""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from evaluation_hub.audit.cli import add_commands, run_verify
from evaluation_hub.audit.keys import write_public_key
from evaluation_hub.audit.store import chain_head
from tests.audit.test_store import build, run_sql


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="evaluation-hub")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    # run_verify owns its event loop (asyncio.run), as under the real CLI. It runs in a thread
    # here because pytest-asyncio leaves an implicit main-thread loop around after async tests,
    # which an asyncio.run in the main thread would replace and leak (a ResourceWarning).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return int(pool.submit(args.func, args).result())


@pytest.fixture
def public_key_file(tmp_path: Path, hub_key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "hub-audit.pub.pem"
    write_public_key(hub_key, path)
    return path


async def test_verify_reports_ok_then_the_first_problem(
    engine: AsyncEngine,
    database_url: str,
    hub_key: Ed25519PrivateKey,
    public_key_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await build(engine, hub_key)
    async with async_sessionmaker(engine)() as db, db.begin():
        head = await chain_head(db)
    assert head is not None
    args = parse(
        "audit", "verify", "--database-url", database_url, "--public-key", str(public_key_file)
    )
    assert args.func is run_verify

    assert await asyncio.to_thread(run, args) == 0
    assert capsys.readouterr().out == (
        f"audit chain OK: 12 events, 2 checkpoints, head {head.hash}\n"
    )

    await run_sql(engine, "DELETE FROM audit_events WHERE seq = 6")
    assert await asyncio.to_thread(run, args) == 1
    assert (
        capsys.readouterr().out == "event 6 was removed: the chain goes from event 5 to event 7\n"
    )


def test_a_missing_public_key_cannot_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.pem"
    args = parse(
        "audit", "verify", "--database-url", "sqlite+aiosqlite:///x", "--public-key", str(missing)
    )
    assert run(args) == 2
    assert capsys.readouterr().err == (
        f"audit verify: audit key {missing}: cannot be read (No such file or directory)\n"
    )


def test_a_database_without_the_chain_cannot_check(
    tmp_path: Path, public_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}"
    args = parse("audit", "verify", "--database-url", url, "--public-key", str(public_key_file))
    assert run(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"audit verify: cannot read the audit chain from {url}: OperationalError: "
    )
    assert "no such table: audit_events" in err
    assert err.endswith("; check --database-url and that the database is migrated\n")


def test_an_unsupported_url_cannot_check(
    public_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse(
        "audit", "verify", "--database-url", "mysql://x/y", "--public-key", str(public_key_file)
    )
    assert run(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("audit verify: ")  # the engine set-up's own message follows
    assert "'mysql://x/y'" in err


def test_verify_requires_both_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse("audit", "verify", "--database-url", "sqlite+aiosqlite:///x")
    assert caught.value.code == 2
    assert "the following arguments are required: --public-key" in capsys.readouterr().err
