"""The PostgreSQL dialect the hub's engine uses: SQLAlchemy's asyncpg dialect with a ping of
one round trip.

``pool_pre_ping`` checks every connection as it leaves the pool, so a request after the
database restarted gets a fresh connection instead of a 503 (``tests/faults/
test_database_unavailable.py``). SQLAlchemy's asyncpg ping wraps its ``;`` in BEGIN and
ROLLBACK for PgBouncer's transaction mode (sqlalchemy issue 10226): three round trips per
checkout, and a request checks out twice (its token's lookup, then its unit of work), so six of
a booking's eighteen statements were pings. The hub talks to PostgreSQL itself, never through
a transaction-mode pooler, so one empty statement is the whole ping; a dead connection raises
on it exactly as on the wrapped one, through the same translation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

__all__ = ["DRIVER", "HubAsyncpgDialect"]

# ``postgresql+<DRIVER>://`` selects this dialect (``make_engine`` rewrites the configured
# ``postgresql+asyncpg://`` URL); the dialect's name stays ``postgresql``.
DRIVER = "asyncpg_hub"


class HubAsyncpgDialect(PGDialect_asyncpg):
    supports_statement_cache = True

    def do_ping(self, dbapi_connection: Any) -> bool:
        # The adapted connection's own ``ping`` minus its transaction (module docstring); the
        # adapter's ``await_`` and ``_handle_exception`` are what its ``ping`` uses.
        try:
            dbapi_connection.await_(dbapi_connection._connection.fetchrow(";"))
        except Exception as error:
            dbapi_connection._handle_exception(error)
        return True


registry.register(f"postgresql.{DRIVER}", __name__, "HubAsyncpgDialect")
