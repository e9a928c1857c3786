"""Estimated time of arrival, for re-ranking the best few candidates.

The default estimate is straight-line distance times a detour factor at a
travel speed from the site configuration, plus a penalty when the worker's
position is only their home-grid centroid. A routing engine can stand in by
implementing :class:`EtaEstimator`.
"""

from __future__ import annotations

from typing import Protocol

from contracts.geo import GeoPoint
from contracts.site.models import DispatchSettings


class Placed(Protocol):
    distance_m: float
    position: str  # "fix" or "home_centroid"


class EtaEstimator(Protocol):
    def eta_s(self, candidate: Placed, site: GeoPoint) -> float: ...


class StraightLineEta:
    def __init__(self, settings: DispatchSettings) -> None:
        self.speed = settings.travel_speed_m_s
        self.detour = settings.detour_factor
        self.penalty = settings.unknown_position_penalty_s

    def eta_s(self, candidate: Placed, site: GeoPoint) -> float:
        travel = candidate.distance_m * self.detour / self.speed
        return travel + (self.penalty if candidate.position != "fix" else 0.0)
