"""Running PostgreSQL's client programs (pg_dump, pg_restore) against a hub database URL."""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

from sqlalchemy.engine import make_url

from evaluation_hub.ops.errors import OpsError

__all__ = ["libpq_args", "pg_tool"]


def pg_tool(name: str) -> str:
    """The program on PATH (Debian's wrapper picks the newest installed version), else the
    newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise OpsError(
            f"{name} is not installed; install PostgreSQL's client (Debian: postgresql-client)"
        )
    return str(Path(candidates[-1]))


def libpq_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for the client programs, and the password as PGPASSWORD (never an
    argument: arguments show in ``ps``)."""
    parsed = make_url(url)
    args = ["--host", parsed.host or "localhost", "--port", str(parsed.port or 5432)]
    if parsed.username:
        args += ["--username", parsed.username]
    args += ["--dbname", parsed.database or "postgres", "--no-password"]
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return args, env
