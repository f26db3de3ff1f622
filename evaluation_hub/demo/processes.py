"""The demo's seat terminals: a ``seat-agent run`` process for each demo seat (``DEMO_SEATS``),
with its state and log under ``<state-dir>/seats/``.

``prepare_seats`` gives each seat its keys and enrols it, approved by its venue's admin through
the enrolment use cases (for the demo only: at a real venue the admin types the code the
terminal shows). ``start_seat_agents`` starts the agents, each publishing the test pattern and
serving its expert's page on the port after the hub's (``page_ports``) with a key made for this
start, handed over in the environment (never on the command line). ``stop_seat_agents`` tells
each agent to stop (SIGTERM: it closes its link and its outbox, which keeps any save not yet
acknowledged for the next start) and waits for it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from evaluation_hub.booking.directory import list_venues
from evaluation_hub.demo.data import DEMO_SEATS, load_directory
from evaluation_hub.demo.seed import SEED_ACTOR, venue_admin
from evaluation_hub.seats import enrolment
from evaluation_hub.services import Services
from seat_protocol.seat_key import SeatKey

__all__ = [
    "STOP_TIMEOUT_S",
    "page_ports",
    "prepare_seats",
    "start_seat_agents",
    "stop_seat_agents",
]

#: how long an agent is given to stop before it is killed
STOP_TIMEOUT_S = 15.0


async def prepare_seats(
    hub: Services, seats_dir: Path, hub_url: str, hub_id: str, now: datetime
) -> list[Path]:
    """Keys for each demo seat, enrolled and approved by its venue admin (demo only).

    A seat whose state names another hub URL (the demo moved port) gets fresh keys, approved
    again (the old key is revoked). Returns the seats' state directories."""
    from seat_agent.keys import CONFIG_FILE, init_state_dir, load_identity

    data = load_directory()
    ids = {"venues": {v.code: v.id for v in await list_venues(hub, SEED_ACTOR)}}
    dirs = []
    for seat_id in DEMO_SEATS:
        state = seats_dir / seat_id
        if (
            (state / CONFIG_FILE).exists()
            and load_identity(state).hub_url == hub_url
            and load_identity(state).suite is hub.suite
        ):
            dirs.append(state)
            continue
        if state.exists():
            shutil.rmtree(state)
        identity = init_state_dir(
            state, seat_id=seat_id, hub_url=hub_url, hub_id=hub_id, suite=hub.suite
        )
        await enrolment.record_enrolment(
            hub.db, seat_id, identity.ed25519_public, identity.x25519_public,
            identity.enrolment_code, now,
        )  # fmt: skip
        admin = venue_admin(data, ids, SeatKey(seat_id).venue_code)
        await enrolment.approve_enrolment(
            hub.db, admin, seat_id, now, enrolment_code=identity.enrolment_code
        )
        dirs.append(state)
    return dirs


def page_ports(hub_port: int) -> dict[str, int]:
    """Each demo seat's expert page port: the ports after the hub's."""
    return {seat_id: hub_port + 1 + n for n, seat_id in enumerate(DEMO_SEATS)}


def start_seat_agents(
    dirs: list[Path],
    scripts: dict[str, Path],
    publish: str | None,
    pages: dict[str, int],
    page_keys: dict[str, str],
) -> list[subprocess.Popen[bytes]]:
    """``seat-agent run`` for each seat, logging to ``<seat>.log`` beside its state."""
    from seat_agent.page.guard import PAGE_KEY_ENV

    agents = []
    for state in dirs:
        argv = [sys.executable, "-m", "seat_agent.cli", "run", "--state-dir", str(state)]
        argv += ["--page-port", str(pages[state.name])]
        if publish:
            argv += ["--publish", publish]
        if state.name in scripts:
            argv += ["--script", str(scripts[state.name])]
        with (state.parent / f"{state.name}.log").open("ab") as log:
            env = {**os.environ, PAGE_KEY_ENV: page_keys[state.name]}
            agents.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env))
    return agents


def stop_seat_agents(agents: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every agent still running, then wait for each (killed after
    ``STOP_TIMEOUT_S``: its outbox is on disk, so even then no save is lost)."""
    for agent in agents:
        if agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
    for agent in agents:
        try:
            agent.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
