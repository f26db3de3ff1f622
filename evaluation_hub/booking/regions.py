"""Loader for region tables (``configs/regions/*.yaml``) used by the seat allocator.

It reads and validates one YAML file and builds a :class:`RegionDistances`; it never computes
distances itself (that is the pure allocator's job) and never guesses a missing coordinate.
Problems with the file are :class:`ConfigError`, raised when the table is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evaluation_hub.booking.allocation import Region, RegionDistances
from evaluation_hub.errors import AllocationError, ConfigError

__all__ = ["YUNNAN_REGIONS_FILE", "load_distances", "load_regions"]

# configs/ sits beside the packages in the repository (editable installs and the demo use it).
YUNNAN_REGIONS_FILE = Path(__file__).resolve().parents[2] / "configs" / "regions" / "yunnan.yaml"


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read region table {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"region table {path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("regions"), list):
        raise ConfigError(f"region table {path} needs a top-level `regions:` list")
    return doc


def _region(path: Path, index: int, item: Any) -> Region:
    if not isinstance(item, dict):
        raise ConfigError(f"region table {path}: regions[{index}] must be a mapping")
    try:
        code, name = item["code"], item["name"]
        latitude, longitude = float(item["latitude"]), float(item["longitude"])
    except KeyError as exc:
        raise ConfigError(f"region table {path}: regions[{index}] lacks `{exc.args[0]}`") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"region table {path}: regions[{index}] has a non-numeric latitude or longitude"
        ) from exc
    if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
        raise ConfigError(
            f"region table {path}: regions[{index}] code {code!r} is not a 6-digit string "
            f'(quote it in YAML, for example code: "530100")'
        )
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ConfigError(f"region table {path}: region {code} has coordinates out of range")
    return Region(code, str(name), latitude, longitude)


def load_regions(path: Path = YUNNAN_REGIONS_FILE) -> tuple[Region, ...]:
    """The regions of one table, in file order."""
    doc = _read(path)
    return tuple(_region(path, i, item) for i, item in enumerate(doc["regions"]))


def load_distances(path: Path = YUNNAN_REGIONS_FILE) -> RegionDistances:
    """A distance model from the table's coordinates and its optional ``overrides`` list."""
    doc = _read(path)
    regions = [_region(path, i, item) for i, item in enumerate(doc["regions"])]
    overrides: dict[tuple[str, str], float] = {}
    for i, item in enumerate(doc.get("overrides") or []):
        try:
            overrides[(str(item["from"]), str(item["to"]))] = float(item["km"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"region table {path}: overrides[{i}] needs `from`, `to` (region codes) and `km`"
            ) from exc
    try:
        return RegionDistances(regions, overrides)
    except AllocationError as exc:
        raise ConfigError(f"region table {path}: {exc}") from exc
