"""What the hub's use cases need from the running hub (服务), handed to them by the shells.

A use case takes ``Services`` (or only the parts it needs), the acting principal, plain
arguments and ``now``; it never reaches into an aiohttp application, a request or a global.
The HTTP shell builds one ``Services`` per application (``evaluation_hub.api.app``), the CLI and
the demo build their own, and tests build them around a test database and a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from evaluation_hub.booking.allocation import RegionDistances
from evaluation_hub.bus.base import Bus
from evaluation_hub.checkin.picture import NoPictures, PictureSource
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.regulation import Regulation
from evaluation_hub.sealing import Sealer
from evaluation_hub.seats.outlet import NoSeats, SeatOutlet
from seat_protocol.suites import SigningKey, Suite

__all__ = ["Services"]


@dataclass
class Services:
    config: HubConfig
    db: Database
    sealer: Sealer
    bus: Bus
    #: signs audit checkpoints and archives (a key of ``config.suite``)
    hub_key: SigningKey
    distances: RegionDistances
    #: the hub's notion of now; shells read it once per request and pass ``now`` on
    clock: Callable[[], datetime]
    #: seat terminals connected to this process (set by the seat websocket shell)
    seats: SeatOutlet = field(default_factory=NoSeats)
    #: what each seat's conduct monitor sees now (set by the live media shell)
    pictures: PictureSource = field(default_factory=NoPictures)

    @property
    def regulation(self) -> Regulation:
        return self.config.regulation

    @property
    def suite(self) -> Suite:
        """The cryptographic suite the deployment chose (``HubConfig.crypto_suite``)."""
        return self.config.suite
