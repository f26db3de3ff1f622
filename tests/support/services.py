"""The use cases' services (``evaluation_hub.services.Services``) around a test database, for
the calls tests make without an application (seeding, direct use-case calls)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evaluation_hub.booking.regions import load_distances
from evaluation_hub.bus.memory import MemoryBus
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.sealing import Sealer
from evaluation_hub.services import Services

__all__ = ["services_for"]


def services_for(database: Database) -> Services:
    """Services with the national regulation, an in-process bus and a fresh sealing key
    (whatever it seals is opened only by the same services)."""
    return Services(
        config=HubConfig(database_url=database.url, token_secret="t" * 40),
        db=database,
        sealer=Sealer(os.urandom(32)),
        bus=MemoryBus(),
        hub_key=Ed25519PrivateKey.generate(),
        distances=load_distances(),
        clock=lambda: datetime.now(UTC),
    )
