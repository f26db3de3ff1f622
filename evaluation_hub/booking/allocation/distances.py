"""Distances between regions (地区距离) for the nearest-venue policy: whole kilometres between
prefecture-level divisions, great-circle unless a table overrides a pair.

Pure: no I/O (``evaluation_hub.booking.regions`` loads the tables).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from evaluation_hub.errors import AllocationError

__all__ = ["EARTH_RADIUS_KM", "Region", "RegionDistances", "haversine_km"]

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Region:
    """A prefecture-level division (地级行政区) with the coordinates of its seat of government."""

    code: str
    name: str
    latitude: float
    longitude: float


def haversine_km(a: Region, b: Region) -> float:
    """Great-circle distance between the two regions' seats of government."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class RegionDistances:
    """Whole-kilometre distances between regions: haversine, or an explicit override.

    Distances are whole kilometres on purpose: with integer costs a tie-break smaller than one
    kilometre in total can never change which total distance is optimal.
    """

    def __init__(
        self,
        regions: Iterable[Region],
        overrides: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        self._regions: dict[str, Region] = {}
        for region in regions:
            if region.code in self._regions:
                raise AllocationError(f"地区代码 {region.code} 在地区表中重复出现")
            self._regions[region.code] = region
        self._overrides: dict[frozenset[str], int] = {}
        for (a, b), km in (overrides or {}).items():
            self.region(a)
            self.region(b)
            if not math.isfinite(km) or km < 0:
                raise AllocationError(f"地区 {a} 与 {b} 之间的距离 {km} km 无效，应为非负数")
            self._overrides[frozenset((a, b))] = round(km)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._regions)

    def region(self, code: str) -> Region:
        try:
            return self._regions[code]
        except KeyError:
            raise AllocationError(
                f"未知地区代码 {code}：距离表中没有该地区，请更正地区代码或在地区配置中补充该地区",
                [f"未知地区代码 {code}"],
            ) from None

    def name(self, code: str) -> str:
        return self.region(code).name

    def km(self, a: str, b: str) -> int:
        ra, rb = self.region(a), self.region(b)
        override = self._overrides.get(frozenset((a, b)))
        if override is not None:
            return override
        if a == b:
            return 0
        return round(haversine_km(ra, rb))
