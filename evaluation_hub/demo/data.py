"""The demo's data and cast: where its files live (``configs/demo``), which away seats run a
seat agent and who sits at each, and the session's host experts.

``configs/demo/directory.yaml`` holds the Yunnan directory (venues and their seats, experts,
users and their password, one session); ``configs/demo/bid_package`` the bid package;
``configs/demo/scores.yaml`` every expert's points and the ranking they lead to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evaluation_hub.errors import ConfigError

__all__ = [
    "DEMO_DIRECTORY",
    "DEMO_PACKAGE",
    "DEMO_SCORES",
    "DEMO_SEATS",
    "HOST",
    "load_directory",
    "played_seat",
]

_CONFIGS = Path(__file__).resolve().parent.parent.parent / "configs" / "demo"
DEMO_DIRECTORY = _CONFIGS / "directory.yaml"
DEMO_PACKAGE = _CONFIGS / "bid_package"
DEMO_SCORES = _CONFIGS / "scores.yaml"

#: The seats that run a seat agent, and the committee member seated at each: every member sits
#: at a seat terminal (the hub takes an expert's saves, answers and signature only from the seat
#: where the expert checked in). The host's own seats come last so the away seats keep their
#: page ports (hub port + 1 … + 5).
DEMO_SEATS = {
    "DL.DL-01": "E03",
    "DL.DL-02": "E04",
    "HH.HH-01": "E05",
    "QJ.QJ-01": "E06",
    "QJ.QJ-02": "E07",
    "KM.KM-01": "E01",
    "KM.KM-02": "E02",
}

#: ``--play host``: the person runs the host site instead of the script.
HOST = "HOST"


def load_directory(path: Path = DEMO_DIRECTORY) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def played_seat(expert: str) -> str:
    """The demo seat of the expert a person may play; ``ConfigError`` for anyone else."""
    for seat_id, code in DEMO_SEATS.items():
        if code == expert:
            return seat_id
    raise ConfigError(
        f"--play {expert}: 只能扮演有工位的专家（{'、'.join(DEMO_SEATS.values())}）或主场（host）"
    )
