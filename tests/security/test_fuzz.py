"""Zero 500s under fuzzing (issue 12, item 7): schemathesis reads the hub's own
``/api/openapi.json`` and sends every operation generated requests — valid ones and invalid
ones (wrong types, missing fields, out-of-range values) — as a signed-in host operator, against
a hub on loopback serving the matrix's world (``world.py``) from PostgreSQL. Every answer must be
no server error, of a status the document lists for that operation, of the documented content
type, and valid against the documented response schema.

Bounded and repeatable: a fixed number of examples per operation and mode, derandomized
(hypothesis draws from a seed fixed by the test), no example database. Two exceptions, said
here: the three event streams (``text/event-stream``, answered forever) are left to the matrix
and ``tests/live``; path ids are drawn from 1..12 so requests reach the world's objects rather
than a 404 (ids out of range have their own tests in ``test_input_limits.py``). ``/api/ready`` answers 503
by design when a readiness check fails (here the calendar's: the tests' day is within 60 days of
its end), so for it "no 5xx" is left out and the other checks (documented status, content type,
schema) stay; ``tests/ops/test_ready.py`` tests its answers.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.core.failures import Failure, FailureGroup

from evaluation_hub.api.app import create_app
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from tests.conftest import FakeClock
from tests.security.story import SECRET, bearer
from tests.security.world import World, build_world
from tests.support.postgres_server import PostgresServer

EXAMPLES = 12  # per operation and generation mode
STREAMS = {
    "/api/events",
    "/api/sessions/{session_id}/live/events",
    "/api/sessions/{session_id}/evaluation/events",
}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
#: Operations whose 503 is an answer, not a failure (readiness); every other check applies.
DESIGNED_503 = {"/api/ready"}
START = FakeClock(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))  # the tests' usual Monday


@dataclass
class LoopbackHub:
    """The hub on 127.0.0.1 in a thread with its own event loop (schemathesis calls it with
    ``requests`` from the test's thread)."""

    url: str
    tmp: Path
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    base: str = ""
    world: World | None = None
    _runner: web.AppRunner | None = None
    _db: Database | None = None

    def run(self, coro: Any) -> Any:
        done: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return done.result(timeout=300)

    async def start(self) -> None:
        self._db = Database(self.url)
        await self._db.upgrade()
        clock = FakeClock(START.now)
        self.world = await build_world(self._db, clock)
        config = HubConfig(
            database_url=self.url,
            token_secret=SECRET,
            sealing_key_file=self.tmp / "sealing.key",
            hub_key_file=self.tmp / "hub-key.pem",
            recordings_dir=self.tmp / "recordings",
        )
        app = create_app(config, db=self._db, clock=clock, sweep=False)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._db is not None:
            await self._db.dispose()


@pytest.fixture
def hub(pg_server: PostgresServer, tmp_path: Path) -> Iterator[LoopbackHub]:
    served = LoopbackHub(pg_server.create_database(f"fuzz_{int(time.time() * 1000)}"), tmp_path)
    thread = threading.Thread(target=served.loop.run_forever, daemon=True)
    thread.start()
    try:
        served.run(served.start())
        yield served
    finally:
        served.run(served.stop())
        served.loop.call_soon_threadsafe(served.loop.stop)
        thread.join(timeout=30)
        served.loop.close()


def _document(base: str) -> dict[str, Any]:
    """The document the hub serves, with path ids narrowed to the world's objects."""
    served: dict[str, Any] = requests.get(f"{base}/api/openapi.json", timeout=30).json()
    document = copy.deepcopy(served)
    for path in list(document["paths"]):
        if path in STREAMS:
            document["paths"][path].pop("get")
            if not document["paths"][path]:
                del document["paths"][path]
            continue
        for operation in document["paths"][path].values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                    parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 12}
    return document


@dataclass
class Tally:
    cases: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    base: str,
    headers: Callable[[], dict[str, str]],
    tally: Tally,
    session: requests.Session,
) -> None:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case: schemathesis.Case) -> None:
        tally.cases += 1
        try:
            response = case.call(base_url=base, session=session, headers=headers(), timeout=60)
        except requests.RequestException as exc:  # no answer at all is a failure too
            tally.failures.append(f"{operation.label} [{mode.value}]: no answer ({exc})")
            return
        tally.by_status[response.status_code] = tally.by_status.get(response.status_code, 0) + 1
        try:
            designed = operation.path in DESIGNED_503 and response.status_code == 503
            case.validate_response(
                response,
                checks=[c for c in CHECKS if not (designed and c is checks.not_a_server_error)],
            )
        except (Failure, FailureGroup) as exc:  # all are reported at the end, not the first only
            found = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            tally.failures.extend(
                f"{operation.label} [{mode.value}] -> {response.status_code}: "
                f"{getattr(failure, 'title', type(failure).__name__)}\n"
                f"    {case.method} {case.formatted_path} query={case.query} body={case.body!r:.300}"
                f"\n    answer: {response.text[:300]}"
                for failure in found
            )

    try:
        one()
    except Unsatisfiable:
        # Nothing of the operation can be made invalid (no parameter, no body): nothing to send.
        assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.mark.postgres
def test_no_server_error_and_every_answer_documented(
    hub: LoopbackHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hub.world is not None
    schema = schemathesis.openapi.from_dict(_document(hub.base))
    ids = hub.world.ids
    headers = bearer(ids, "km_operator", START.now)
    tally = Tally()
    started = time.perf_counter()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            # Signing out revokes the token it is sent with (admin.tokens): each sign-out case
            # signs out a token of its own, so the other operations keep being asked signed in.
            if operation.path == "/api/auth/logout":
                signed = lambda: bearer(ids, "km_operator", START.now)  # noqa: E731
            else:
                signed = lambda: headers  # noqa: E731
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, hub.base, signed, tally, session)
        # The host operator was signed in throughout (a revoked token would make every case a
        # 401 and the fuzz reach nothing behind the sign-in).
        assert session.get(f"{hub.base}/api/me", headers=headers, timeout=30).status_code == 200
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\nschemathesis: {tally.cases} cases over {len(list(schema.get_all_operations()))} "
            f"operations in {elapsed:.0f} s; statuses {dict(sorted(tally.by_status.items()))}; "
            f"{tally.by_status.get(500, 0)} server errors"
        )
    assert tally.cases > 0
    assert 500 not in tally.by_status
    assert tally.failures == [], "\n".join(tally.failures)
