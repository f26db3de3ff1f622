"""Typed application state (``web.AppKey``) shared by the hub's handlers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from evaluation_hub.booking.allocation import RegionDistances
from evaluation_hub.bus.base import Bus
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.ops.metrics import HubMetrics
from evaluation_hub.sealing import Sealer
from evaluation_hub.services import Services
from evaluation_hub.timers.runner import Timers
from seat_protocol.suites import SigningKey

__all__ = [
    "BUS",
    "CLOCK",
    "CONFIG",
    "DB",
    "DISTANCES",
    "HUB_KEY",
    "METRICS",
    "SEALER",
    "SERVICES",
    "TIMERS",
]

CONFIG = web.AppKey("config", HubConfig)
DB = web.AppKey("db", Database)
BUS = web.AppKey("bus", Bus)
# The hub's notion of now; tests replace it to move time without sleeping.
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
SEALER = web.AppKey("sealer", Sealer)
DISTANCES = web.AppKey("distances", RegionDistances)
# Signs audit checkpoints (a key of the configured cryptographic suite).
HUB_KEY: web.AppKey[SigningKey] = web.AppKey("hub_key")
# Everything the use cases need; handlers pass it (or its parts) to one use case each.
SERVICES = web.AppKey("services", Services)
# The process's Prometheus registry (api.ops); the problem middleware counts refusals in it.
METRICS = web.AppKey("metrics", HubMetrics)
# The periodic jobs of this process, each run while it holds the job's lease (timers.runner).
TIMERS = web.AppKey("timers", Timers)
