"""Camera zones in frame pixels: scaling, clipping, masks, schedules, membership.

Zone polygons are written in pixels of the camera's configured resolution; if
the stream delivers another size they are scaled. A polygon that reaches
outside the frame is clipped (and the camera's health says so); one entirely
outside is ignored with an error, never a crash. Membership uses the
bottom-centre of a box (where a person stands or lies) with a few observations
of inertia, so one jittery box does not flip a person in and out of a zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import cv2
import numpy as np
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from contracts import HazardType
from contracts.site.models import Camera, Zone, ZoneType
from contracts.site.schedule import any_active

VIDEO_RULES = frozenset(
    {HazardType.OCCUPIED_FACTORY_DORM, HazardType.ILLEGAL_WORKSHOP, HazardType.FIRE_SMOKE}
)

# What a zone watches for when its configuration lists no rules.
DEFAULT_RULES: dict[ZoneType, frozenset[HazardType]] = {
    ZoneType.FACTORY_FLOOR: frozenset({HazardType.OCCUPIED_FACTORY_DORM, HazardType.FIRE_SMOKE}),
    ZoneType.NO_PRODUCTION_SITE: frozenset(
        {HazardType.ILLEGAL_WORKSHOP, HazardType.OCCUPIED_FACTORY_DORM, HazardType.FIRE_SMOKE}
    ),
    ZoneType.STORAGE: frozenset({HazardType.OCCUPIED_FACTORY_DORM, HazardType.FIRE_SMOKE}),
    ZoneType.DORMITORY: frozenset({HazardType.FIRE_SMOKE}),  # people may live here
    ZoneType.PUBLIC_AREA: frozenset({HazardType.FIRE_SMOKE}),
}
# Rules that follow the zone's schedule; fire is critical at any hour.
SCHEDULED_RULES = frozenset({HazardType.OCCUPIED_FACTORY_DORM, HazardType.ILLEGAL_WORKSHOP})


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom] if not geom.is_empty else []
    if isinstance(geom, MultiPolygon):
        return [g for g in geom.geoms if not g.is_empty]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]


def fit_polygon(
    points: Sequence[tuple[float, float]], scale: tuple[float, float], frame: tuple[int, int], what: str
) -> tuple[np.ndarray | None, list[str]]:
    """Scale a configured polygon to the frame and clip it; returns (points or None, problems)."""
    problems: list[str] = []
    w, h = frame
    scaled = [(x * scale[0], y * scale[1]) for x, y in points]
    poly = Polygon(scaled)
    if not poly.is_valid:
        poly = poly.buffer(0)
        problems.append(f"{what}: polygon crosses itself; using its repaired outline")
    inside = poly.intersection(box(0, 0, w, h))
    parts = _polygons(inside)
    if not parts or inside.area < 1.0:
        problems.append(
            f"{what}: polygon lies outside the {w}x{h} frame; ignored (fix its pixel coordinates)"
        )
        return None, problems
    if inside.area < poly.area * 0.999:
        problems.append(f"{what}: polygon reaches outside the {w}x{h} frame; clipped to the frame")
    largest = max(parts, key=lambda p: p.area)
    if len(parts) > 1:
        problems.append(
            f"{what}: polygon splits into {len(parts)} pieces inside the frame; using the largest"
        )
    coords = np.asarray(largest.exterior.coords[:-1], dtype=np.float32)
    return coords, problems


def polygon_mask(polygon: np.ndarray, size: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    """uint8 mask (255 inside) of ``size`` (w, h) for a polygon given in full-frame pixels."""
    mask = np.zeros((size[1], size[0]), dtype=np.uint8)
    pts = np.round(polygon / scale).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255)
    return mask


@dataclass
class ZoneArea:
    zone: Zone
    polygon: np.ndarray  # float32 Nx2, frame pixels
    rules: frozenset[HazardType]
    small_mask: np.ndarray  # at motion scale

    @property
    def id(self) -> str:
        return self.zone.id

    def contains(self, x: float, y: float) -> bool:
        return cv2.pointPolygonTest(self.polygon, (float(x), float(y)), False) >= 0

    def armed(self, hazard: HazardType, now: datetime, tz: ZoneInfo) -> bool:
        if hazard not in self.rules:
            return False
        if hazard not in SCHEDULED_RULES or not self.zone.schedules:
            return True
        return any_active(list(self.zone.schedules), now, tz)


@dataclass
class CameraGeometry:
    frame: tuple[int, int]
    zones: list[ZoneArea]
    ignore: list[np.ndarray]  # polygons, frame pixels
    ignore_small: np.ndarray | None  # motion-scale mask, 255 = ignored
    problems: list[str] = field(default_factory=list)
    ignore_objects: list[tuple[str, tuple[float, float, float, float]]] = field(default_factory=list)

    def ignored(self, x: float, y: float) -> bool:
        return any(cv2.pointPolygonTest(p, (float(x), float(y)), False) >= 0 for p in self.ignore)

    def zone(self, zone_id: str) -> ZoneArea | None:
        return next((z for z in self.zones if z.id == zone_id), None)


def zone_rules(zone: Zone) -> tuple[frozenset[HazardType], list[str]]:
    if not zone.rules:
        return DEFAULT_RULES.get(zone.type, frozenset()), []
    wanted = frozenset(zone.rules)
    other = sorted(r.value for r in wanted - VIDEO_RULES)
    problems = (
        [f"zone {zone.id!r}: rules {', '.join(other)} are not video rules; ignored on this camera"]
        if other
        else []
    )
    return wanted & VIDEO_RULES, problems


def build_geometry(camera: Camera, frame: tuple[int, int], small: tuple[int, int]) -> CameraGeometry:
    """Zones and ignore masks for an actual frame size ``frame`` (w, h); ``small`` is the motion size."""
    problems: list[str] = []
    cw, ch = camera.resolution
    w, h = frame
    scale = (w / cw, h / ch)
    if (cw, ch) != (w, h):
        problems.append(f"stream delivers {w}x{h}, configuration says {cw}x{ch}; zones are scaled to match")
    small_scale = w / small[0]
    zones: list[ZoneArea] = []
    for zone in camera.zones:
        polygon, issues = fit_polygon(zone.polygon, scale, frame, f"zone {zone.id!r}")
        problems += issues
        rules, rule_issues = zone_rules(zone)
        problems += rule_issues
        if polygon is not None:
            zones.append(ZoneArea(zone, polygon, rules, polygon_mask(polygon, small, small_scale)))
    ignore: list[np.ndarray] = []
    ignore_small = None
    for i, mask in enumerate(camera.ignore_masks):
        if len(mask) < 3:
            problems.append(f"ignore_masks[{i}]: needs at least 3 vertices; ignored")
            continue
        polygon, issues = fit_polygon(mask, scale, frame, f"ignore_masks[{i}]")
        problems += issues
        if polygon is None:
            continue
        ignore.append(polygon)
        m = polygon_mask(polygon, small, small_scale)
        ignore_small = m if ignore_small is None else cv2.bitwise_or(ignore_small, m)
    objects = [
        (o.label, (o.box[0] * scale[0], o.box[1] * scale[1], o.box[2] * scale[0], o.box[3] * scale[1]))
        for o in camera.ignore_objects
    ]
    return CameraGeometry(frame, zones, ignore, ignore_small, problems, objects)


@dataclass
class _Presence:
    inside: bool = False
    streak: int = 0  # consecutive observations disagreeing with ``inside``
    entered_at: datetime | None = None


class ZoneMembership:
    """Which tracks are in which zone, with ``enter``/``exit`` observations of inertia."""

    def __init__(self, enter_hits: int, exit_hits: int) -> None:
        self.enter_hits = enter_hits
        self.exit_hits = exit_hits
        self._state: dict[tuple[str, int], _Presence] = {}

    def observe(self, zone_id: str, track_id: int, inside_now: bool, now: datetime) -> None:
        p = self._state.setdefault((zone_id, track_id), _Presence())
        if inside_now == p.inside:
            p.streak = 0
            return
        p.streak += 1
        if p.streak >= (self.enter_hits if inside_now else self.exit_hits):
            p.inside = inside_now
            p.streak = 0
            p.entered_at = now if inside_now else None

    def members(self, zone_id: str) -> dict[int, datetime]:
        """track id -> when it entered, for tracks inside the zone."""
        return {
            tid: p.entered_at
            for (zid, tid), p in self._state.items()
            if zid == zone_id and p.inside and p.entered_at is not None
        }

    def forget(self, alive: Iterable[int]) -> None:
        keep = set(alive)
        for key in [k for k in self._state if k[1] not in keep]:
            del self._state[key]
