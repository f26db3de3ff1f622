"""The pure cores import no I/O framework, and the protocol imports neither end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("asyncio", "aiohttp", "websockets", "redis", "sqlalchemy", "socket")


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import json, sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


@pytest.mark.parametrize(
    "modules",
    [
        [
            "seat_protocol.hub_side",
            "seat_protocol.seat_side",
            "seat_protocol.backoff",
            "seat_protocol.closecodes",
        ],
        [
            "evaluation_hub.sessions.lifecycle",
            "evaluation_hub.sessions.outage",
            "evaluation_hub.sessions.committee",
        ],
    ],
)
def test_pure_cores_import_no_io(modules: list[str]) -> None:
    loaded = _loaded_after_import(modules)
    assert loaded.isdisjoint(FORBIDDEN), loaded & set(FORBIDDEN)
    if modules[0].startswith("seat_protocol"):
        assert loaded.isdisjoint({"evaluation_hub", "seat_agent"})
