"""The ``evaluation-hub`` command: serve, migrate, demo, users, and the checking tools."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from evaluation_hub.admin import cli as admin_cli
from evaluation_hub.admin import directory_cli, pool_cli
from evaluation_hub.archive import cli as archive_cli
from evaluation_hub.audit import cli as audit_cli
from evaluation_hub.bids import cli as bids_cli
from evaluation_hub.booking import draw_cli
from evaluation_hub.config import HubConfig
from evaluation_hub.errors import HubError
from evaluation_hub.logging import configure_logging
from evaluation_hub.ops import cli as ops_cli
from evaluation_hub.secretfile import private_dir

__all__ = ["main"]

# Everything a hub process creates (database, WAL, keys, recordings) is its user's alone.
_PRIVATE_UMASK = 0o077


def _database_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DB "
        "(default: $EVALHUB_DATABASE_URL or STATE_DIR/hub.db)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where the hub keeps its database, keys and recordings, made 0700 "
        "(default: $EVALHUB_STATE_DIR or var)",
    )


def _config(args: argparse.Namespace) -> HubConfig:
    return HubConfig.from_env(
        state_dir=getattr(args, "state_dir", None),
        database_url=getattr(args, "database_url", None),
        redis_url=getattr(args, "redis_url", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        tls_cert=getattr(args, "tls_cert", None),
        tls_key=getattr(args, "tls_key", None),
    )


def _serve(args: argparse.Namespace) -> int:
    import structlog
    from aiohttp import web

    from evaluation_hub.api.app import create_app
    from evaluation_hub.tls import certificate_pin, server_context

    os.umask(_PRIVATE_UMASK)
    config = _config(args)
    configure_logging(json=config.json_logs)
    private_dir(config.state_dir)
    context = None
    if config.tls_cert is not None and config.tls_key is not None:
        context = server_context(config.tls_cert, config.tls_key)
        # The people enrolling seat terminals compare this with what `seat-agent enroll` shows.
        structlog.get_logger(__name__).info(
            "tls.enabled", cert=str(config.tls_cert), spki_sha256=certificate_pin(config.tls_cert)
        )
    app = create_app(config)
    app.on_startup.append(_freeze_startup_objects)
    # SIGTERM/SIGINT end run_app gracefully (evaluation_hub.api.app: stop accepting, seats told
    # to reconnect, work in flight finished, closing checkpoint), then it returns: exit 0.
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        print=None,
        ssl_context=context,
        shutdown_timeout=config.shutdown_timeout_s,
    )
    return 0


async def _freeze_startup_objects(app: object) -> None:
    """Leave what start-up made (modules, tables, the app: ~170 000 objects) out of garbage
    collection: a full collection over them stops the event loop for ~0.1 s, often enough
    under a request flood to show in every latency percentile."""
    gc.freeze()


def _tls_pin(args: argparse.Namespace) -> int:
    from evaluation_hub.tls import certificate_pin
    from seat_protocol.auth import format_pin

    pin = certificate_pin(args.cert)
    print(f"{pin}\n{format_pin(pin)}")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from evaluation_hub.db.engine import Database

    os.umask(_PRIVATE_UMASK)
    config = _config(args)

    async def run() -> None:
        from evaluation_hub.audit.store import fix_suite

        db = Database(config.database_url)
        try:
            await db.upgrade()
            # The cryptographic suite is fixed before any command writes the first audit event
            # (refused if the database's chain is of another suite).
            async with db.write() as s:
                await fix_suite(s, config.suite)
        finally:
            await db.dispose()

    asyncio.run(run())
    print(f"database {config.database_url} is at the latest revision")
    return 0


def _db_check(args: argparse.Namespace) -> int:
    from evaluation_hub.db.engine import Database

    config = _config(args)

    async def run() -> None:
        db = Database(config.database_url)
        try:
            await db.check_migrated()
        finally:
            await db.dispose()

    asyncio.run(run())
    print(f"database {config.database_url} is at the latest revision")
    return 0


def demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo command's options, here so ``--help`` does not import the demo (also used by
    ``python -m evaluation_hub.demo``)."""
    parser.add_argument("--state-dir", default="var/demo", help="where the demo database lives")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8440)
    parser.add_argument("--seed-only", action="store_true", help="seed the data and exit")
    parser.add_argument("--reset", action="store_true", help="start from an empty demo database")
    parser.add_argument(
        "--script", action="store_true", help="run the scripted evaluation (needs --reset data)"
    )
    parser.add_argument("--no-seats", action="store_true", help="start no seat-agent processes")
    parser.add_argument(
        "--play",
        metavar="EXPERT",
        help="with --script: a person plays this away expert (E03–E07) on the seat's page, "
        "or the host (host) from the host page and the evaluation console",
    )


def _demo(args: argparse.Namespace) -> int:
    from evaluation_hub.demo import cli as demo

    return demo.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evaluation-hub", description="远程异地评标 host-site hub"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the hub (refuses an unmigrated database)")
    _database_arg(serve)
    serve.add_argument("--redis-url", help="redis://HOST:PORT/DB for the bus (default: in-process)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--tls-cert",
        type=Path,
        help="serve HTTPS and WSS with this PEM certificate chain (default: $EVALHUB_TLS_CERT)",
    )
    serve.add_argument(
        "--tls-key", type=Path, help="the certificate's PEM private key (default: $EVALHUB_TLS_KEY)"
    )
    serve.set_defaults(func=_serve)

    tls = sub.add_parser(
        "tls-pin",
        help="print the pin seat terminals record for a certificate (seat-agent init --hub-pin)",
    )
    tls.add_argument("cert", type=Path, help="the hub's PEM certificate (chain)")
    tls.set_defaults(func=_tls_pin)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    upgrade = db.add_parser("upgrade", help="migrate the database to the latest revision")
    _database_arg(upgrade)
    upgrade.set_defaults(func=_db_upgrade)
    check = db.add_parser("check", help="exit non-zero unless the database is fully migrated")
    _database_arg(check)
    check.set_defaults(func=_db_check)

    demo = sub.add_parser(
        "demo", help="seed demo data (Yunnan) and run the hub on the embedded default"
    )
    demo_arguments(demo)
    demo.set_defaults(func=_demo)

    # Sub-command groups that live beside the code they drive.
    admin_cli.add_commands(sub)
    directory_cli.add_commands(sub)
    bids_cli.add_commands(sub)
    audit_cli.add_commands(sub)
    archive_cli.add_commands(sub)
    draw_cli.add_commands(sub)
    pool_cli.add_commands(sub)
    ops_cli.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # serve and db upgrade narrow it; restored for callers that run a command in-process.
    previous_umask = os.umask(0o022)
    os.umask(previous_umask)
    try:
        code: int = args.func(args)
    except HubError as exc:
        print(f"evaluation-hub: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        os.umask(previous_umask)
    return code


if __name__ == "__main__":
    sys.exit(main())
