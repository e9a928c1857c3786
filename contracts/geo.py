"""Geographic points and distances (WGS-84 lon/lat, metres)."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict

EARTH_RADIUS_M = 6_371_008.8
# A number, never "120.1" or true (the same rule as the wire contracts: contracts.envelope).
_Degrees = Annotated[float, Strict(), AllowInfNan(False)]


class GeoPoint(BaseModel):
    """A WGS-84 position. GeoJSON order: longitude first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lon: _Degrees = Field(ge=-180, le=180, description="Longitude in degrees (WGS-84).")
    lat: _Degrees = Field(ge=-90, le=90, description="Latitude in degrees (WGS-84).")

    def distance_m(self, other: GeoPoint) -> float:
        return haversine_m(self.lon, self.lat, other.lon, other.lat)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of (longitude, latitude) near `lat`; good to ~0.1% over a town."""
    m_lat = math.pi * EARTH_RADIUS_M / 180
    return m_lat * math.cos(math.radians(lat)), m_lat
