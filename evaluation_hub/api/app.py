"""The hub's aiohttp application: wiring of routes, state, background tasks and start-up checks.

Shutdown (SIGTERM or SIGINT under ``evaluation-hub serve``: aiohttp's ``run_app`` ends
gracefully): the listening sockets close first (no new connection is accepted), then every seat
is told to reconnect (close 4012, ``seat_link.shutdown``: the seat agents treat it as "the hub is
restarting") and event streams end; requests in flight get ``shutdown_timeout_s`` to finish.
Then the app's clean-up (``_drain_seat_work``, ``_closing_checkpoint``) lets the seats' score commits still running finish (bounded by the same
time), stops the timers and hands back their leases (``timers.runner``: each periodic job runs
in one hub process at a time, another takes over when its holder stops or dies), signs a closing audit checkpoint of the chain's head (so the chain as
this process left it is anchored), closes the bus and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import web

from evaluation_hub import localtime
from evaluation_hub.api import (
    admin,
    allocation,
    bookings,
    chapters,
    checkin,
    committee,
    directory,
    enrolments,
    evaluation,
    evaluation_events,
    events,
    live,
    ops,
    pages,
    pool,
    seat_link,
    session_auth,
    sessions,
    supervision,
    talkback,
    transport,
)
from evaluation_hub.api.keys import (
    BUS,
    CLOCK,
    CONFIG,
    DB,
    DISTANCES,
    HUB_KEY,
    SEALER,
    SERVICES,
    TIMERS,
)
from evaluation_hub.api.problems import problem_middleware
from evaluation_hub.api.routes import ApiRoutes, Operation, openapi_document
from evaluation_hub.api.seat_link import SEAT_HUB
from evaluation_hub.api.serialize import SCHEMAS
from evaluation_hub.api.views.calendar import health_warnings
from evaluation_hub.audit.checkpoint import Checkpoint, CheckpointPolicy
from evaluation_hub.audit.keys import load_or_create_private_key, write_public_key
from evaluation_hub.audit.store import fix_suite, maybe_checkpoint
from evaluation_hub.booking.answers import expire_due
from evaluation_hub.booking.regions import load_distances
from evaluation_hub.bus.base import Bus
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.db.unavailable import is_unavailable
from evaluation_hub.regulation_file import values_in_force
from evaluation_hub.sealing import Sealer
from evaluation_hub.services import Services
from evaluation_hub.supervision import workdays
from evaluation_hub.timers.runner import Timers
from evaluation_hub.timers.session_rules import enforce_session_rules

__all__ = [
    "API_CSP",
    "API_OPERATIONS",
    "PAGE_CSP",
    "SECURITY_HEADERS",
    "checkpoint_once",
    "create_app",
    "utc_now",
]

log = structlog.get_logger(__name__)

#: The pages' policy: scripts and styles only from the hub's own static files (no inline script
#: or style attribute anywhere in web/static), never framed.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: The API's answers are data; the one HTML document it serves (the evaluation report, a
#: self-contained file that is also archived) carries its own <style> and no script. Sandboxed,
#: nothing loads and nothing runs.
API_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'; sandbox"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    # The hub's own pages may use the microphone: push to talk (talkback.js); nobody else may.
    "Permissions-Policy": "camera=(), microphone=(self), geolocation=()",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response of the hub, pages, files, API answers and refusals alike."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    policy = API_CSP if request.path.startswith("/api/") else PAGE_CSP
    response.headers.setdefault("Content-Security-Policy", policy)


_MODULES = (
    session_auth,
    directory,
    admin,
    sessions,
    bookings,
    allocation,
    checkin,
    committee,
    supervision,
    events,
    live,
    enrolments,
    evaluation,
    chapters,
    evaluation_events,
    pool,
    ops,
    talkback,
)
meta = ApiRoutes()
API_OPERATIONS: list[Operation] = []


def utc_now() -> datetime:
    return datetime.now(UTC)


@meta.route("GET", "/api/openapi.json", summary="本 API 的 OpenAPI 文档", tag="元数据", auth=False)
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(API_OPERATIONS, SCHEMAS))


@meta.route("GET", "/api/health", summary="健康检查", tag="元数据", auth=False)
async def health(request: web.Request) -> web.Response:
    # Cheap: the calendar's range is computed once; the warning is a date comparison.
    warning = workdays.coverage_warning(localtime.day_of(request.app[CLOCK]()))
    return web.json_response({"status": "ok", "warnings": health_warnings(warning)})


API_OPERATIONS.extend(meta.operations)
for _module in _MODULES:
    API_OPERATIONS.extend(_module.routes.operations)


def _failed(event: str, exc: Exception) -> None:
    """A timer's failure: an unreachable database is an outage (a warning; the timer tries again
    at its next turn), anything else a bug (its traceback)."""
    if is_unavailable(exc):
        log.warning(event, database_unavailable=True, error=f"{type(exc).__name__}: {exc}")
    else:
        log.exception(event)


async def _expiry_sweep(app: web.Application) -> None:
    """Lapse unconfirmed requests (one turn); the rule itself lives in ``answers.expire_due``."""
    try:
        expired = await expire_due(app[SERVICES], now=app[CLOCK]())
        if expired:
            log.info("booking.expired", booking_ids=expired)
    except Exception as exc:
        _failed("booking.expiry_sweep_failed", exc)


async def _session_rules(app: web.Application) -> None:
    """The time rules (开评分离 cut-off, outage limits), one turn; the rules live in
    ``timers.session_rules``."""
    try:
        for done in await enforce_session_rules(app[SERVICES], now=app[CLOCK]()):
            log.info("session.timed_rule", session_id=done.session_id, kind=done.kind)
    except Exception as exc:
        _failed("session.timed_rules_failed", exc)


async def checkpoint_once(app: web.Application) -> Checkpoint | None:
    """Sign a checkpoint of the audit chain's head if the policy says one is due."""
    config = app[CONFIG]
    policy = CheckpointPolicy(config.checkpoint_every_events, config.checkpoint_every)
    async with app[DB].write() as s:
        return await maybe_checkpoint(s, app[HUB_KEY], app[CLOCK](), policy)


# A closing checkpoint vouches for every event since the last one, however few.
_CLOSING = CheckpointPolicy(every_events=1, every=timedelta(microseconds=1))


async def _closing_checkpoint(app: web.Application) -> None:
    """Sign a checkpoint of the chain's head as this process leaves it (nothing if no event
    came since the last one); a database that is gone by now is logged, not raised."""
    try:
        async with app[DB].write() as s:
            made = await maybe_checkpoint(s, app[HUB_KEY], app[CLOCK](), _CLOSING)
    except Exception as exc:
        log.warning("audit.closing_checkpoint_failed", error=f"{type(exc).__name__}: {exc}")
        return
    if made is None:
        log.info("audit.closing_checkpoint", written=False)
    else:
        log.info("audit.closing_checkpoint", written=True, seq=made.seq, head_hash=made.head_hash)


async def _drain_seat_work(app: web.Application) -> None:
    """Let the score commits and expert requests the seat link started finish: each was read
    from a seat, which waits for its answer (a commit cut short would be sent again, but one
    that completes spares the seat the wait and the log its traceback)."""
    if SEAT_HUB not in app:
        return
    pending = set(app[SEAT_HUB].background)
    if not pending:
        return
    log.info("hub.draining", tasks=len(pending))
    _, late = await asyncio.wait(pending, timeout=app[CONFIG].shutdown_timeout_s)
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late)
        log.warning("hub.drain_timed_out", cancelled=len(late))


async def _checkpoint(app: web.Application) -> None:
    """Sign a checkpoint if one is due (one turn)."""
    try:
        made = await checkpoint_once(app)
        if made is not None:
            log.info("audit.checkpoint", seq=made.seq, head_hash=made.head_hash)
    except Exception as exc:
        _failed("audit.checkpoint_failed", exc)


def _start_timers(app: web.Application) -> list[asyncio.Task[Any]]:
    """The periodic jobs, each run by one hub process at a time (``timers.runner``)."""
    config, timers = app[CONFIG], app[TIMERS]
    jobs: list[tuple[str, float, Callable[[web.Application], Awaitable[None]]]] = [
        ("booking-expiry", config.expiry_sweep_interval_s, _expiry_sweep),
        ("audit-checkpoint", config.checkpoint_poll_s, _checkpoint),
    ]
    if config.session_timers:
        jobs.append(("session-rules", config.expiry_sweep_interval_s, _session_rules))
    return [
        asyncio.create_task(timers.every(name, interval, functools.partial(job, app)))
        for name, interval, job in jobs
    ]


async def _stopping(app: web.Application) -> None:
    log.info("hub.stopping", seats=len(app[SEAT_HUB].sockets) if SEAT_HUB in app else 0)


def create_app(
    config: HubConfig,
    *,
    db: Database | None = None,
    bus: Bus | None = None,
    clock: Callable[[], datetime] = utc_now,
    check_schema: bool = True,
    sweep: bool = True,
) -> web.Application:
    localtime.use_zone(config.timezone)
    log.info(
        "regulation.in_force",
        file=str(config.regulation_file or "national defaults"),
        **values_in_force(config.regulation),
    )
    for table in workdays.use_tables(config.holidays):
        log.info("calendar.table", year=table.year, notice=table.notice_number, file=table.source)
    app = web.Application(middlewares=[problem_middleware], client_max_size=config.max_body_bytes)
    app[CONFIG] = config
    app[CLOCK] = clock
    owned_db = db is None
    app[DB] = db or Database(config.database_url)
    if bus is None and config.redis_url:
        from evaluation_hub.bus.redis import RedisBus

        bus = RedisBus(config.redis_url)
    elif bus is None:
        from evaluation_hub.bus.memory import MemoryBus

        bus = MemoryBus()
    app[BUS] = bus
    app[SEALER] = Sealer.from_env_or_file(config.sealing_key, config.sealing_key_file, config.suite)
    app[DISTANCES] = load_distances()
    config.hub_key_file.parent.mkdir(parents=True, exist_ok=True)
    app[HUB_KEY] = load_or_create_private_key(config.hub_key_file, config.suite)
    write_public_key(app[HUB_KEY], config.hub_key_file.with_suffix(".pub"))
    app[TIMERS] = Timers(app[DB])
    app[SERVICES] = Services(
        config=config,
        db=app[DB],
        sealer=app[SEALER],
        bus=app[BUS],
        hub_key=app[HUB_KEY],
        distances=app[DISTANCES],
        clock=clock,
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if check_schema:
            await app[DB].check_migrated()
            # Refuses to start on a database whose audit chain is of another suite.
            async with app[DB].write() as s:
                await fix_suite(s, config.suite)
            # Events deferred by a process that stopped before chaining them.
            await app[DB].chain_deferred()
        # Fail at start-up, not at first use, when the bus (Redis) cannot be reached.
        await app[BUS].present()
        tasks = _start_timers(app) if sweep else []
        yield
        await _drain_seat_work(app)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if sweep:
            await app[TIMERS].stop()
            await _closing_checkpoint(app)
        await app[BUS].close()
        if owned_db:
            await app[DB].dispose()
        log.info("hub.stopped")

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(_stopping)
    app.on_response_prepare.append(_security_headers)
    app[events.LIVE_STREAMS] = weakref.WeakSet()
    app.on_shutdown.append(events.close_streams)
    app.router.add_routes(meta.table)
    for module in _MODULES:
        app.router.add_routes(module.routes.table)
    pages.setup(app)
    transport.setup(app)
    session_auth.setup(app)
    seat_link.setup(app, hub_id=config.hub_id)
    seat_link.setup_session_notices(app)
    live.setup_live(app)
    talkback.setup_talkback(app)
    evaluation_events.setup_evaluation_events(app)
    ops.setup(app)
    return app
