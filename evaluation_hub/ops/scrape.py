"""A Prometheus scrape: who may ask (operators only), then the snapshot and its text.

``/metrics`` is for the operations team: a caller whose address (``api.transport``'s client
address, so a request relayed by a trusted proxy is judged by its origin) is in
``HubConfig.metrics_allow``, or who presents ``Authorization: Bearer <metrics_token>``. To
anybody else the address does not exist: the same 404 as any unknown path.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from evaluation_hub.errors import NotFound
from evaluation_hub.live.janus_census import JanusFigures
from evaluation_hub.ops.metrics import HubMetrics, Process, Snapshot, Stored, read_stored
from evaluation_hub.ops.readiness import MediaProbe, readiness
from evaluation_hub.services import Services

__all__ = ["SCRAPE_READ_TIMEOUT_S", "metrics_allowed", "scrape"]

log = structlog.get_logger(__name__)

#: What the database and the bus get within one scrape (Prometheus's default limit is 10 s).
SCRAPE_READ_TIMEOUT_S = 2.0


def metrics_allowed(
    address: str, authorization: str | None, allow: tuple[str, ...], token: str | None
) -> bool:
    if token is not None and authorization is not None:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in allow)


async def _stored(hub: Services, timeout_s: float) -> Stored | None:
    try:
        async with asyncio.timeout(timeout_s):
            return await read_stored(hub)
    except Exception as exc:
        log.warning("metrics.database_unread", error=f"{type(exc).__name__}: {exc}")
        return None


async def _bus_round_trip(hub: Services, timeout_s: float) -> float | None:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            await hub.bus.ping()
    except Exception as exc:
        log.warning("metrics.bus_unanswered", error=f"{type(exc).__name__}: {exc}")
        return None
    return time.perf_counter() - started


async def scrape(
    hub: Services,
    metrics: HubMetrics,
    process: Process,
    media: MediaProbe | None,
    *,
    address: str,
    authorization: str | None,
    now: datetime,
    timeout_s: float = SCRAPE_READ_TIMEOUT_S,
    janus: Callable[[float], Awaitable[JanusFigures]] | None = None,
) -> bytes:
    """``janus``: the Janus plane's figures within a time limit (``media_backend = janus``)."""
    config = hub.config
    if not metrics_allowed(address, authorization, config.metrics_allow, config.metrics_token):
        raise NotFound("not-found", "请求的地址不存在")
    stored, round_trip, ready, figures = await asyncio.gather(
        _stored(hub, timeout_s),
        _bus_round_trip(hub, timeout_s),
        readiness(hub, media, now=now),
        _janus(janus, timeout_s),
    )
    return metrics.render(Snapshot(now, process, stored, round_trip, ready, figures))


async def _janus(
    janus: Callable[[float], Awaitable[JanusFigures]] | None, timeout_s: float
) -> JanusFigures | None:
    return None if janus is None else await janus(timeout_s)
