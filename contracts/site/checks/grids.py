"""grids.geojson: the polygons of the grid hierarchy, their nesting and their borders."""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import shapely
from shapely import STRtree, affinity
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from contracts.geo import metres_per_degree
from contracts.site.checks.draft import SiteDraft
from contracts.site.models import GridLevel, GridProperties
from contracts.site.problems import item_label, short_repr, validate
from contracts.site.reading import GRIDS_FILE
from contracts.site.site import GridArea

# Shared borders drawn by hand never line up exactly; below these, it's not an overlap.
OVERLAP_TOLERANCE_M2 = 1.0
OUTSIDE_PARENT_TOLERANCE = 0.01  # share of the child's area

_COLLECTION = '{"type": "FeatureCollection", "features": [...]}'
_FEATURE = '{"type": "Feature", "properties": {"id": ..., "level": ...}, "geometry": {...}}'
_POLYGON = '{"type": "Polygon", "coordinates": [[[lon, lat], [lon, lat], ...]]}'
_SWAP_HINT = "GeoJSON positions are [longitude, latitude]: swap the two numbers of every position"


def metric(geom: BaseGeometry, lat: float) -> BaseGeometry:
    """``geom`` scaled from degrees to metres around latitude ``lat`` (for areas)."""
    mx, my = metres_per_degree(lat)
    return affinity.scale(geom, xfact=mx, yfact=my, origin=(0, 0))


def swap_lon_lat(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: xy[:, ::-1])


def read_grids(draft: SiteDraft) -> None:
    doc = draft.reader.json(GRIDS_FILE, "a GeoJSON FeatureCollection of the grid polygons")
    if doc is None:
        return
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        draft.report(
            GRIDS_FILE, "(top level)", "expected a GeoJSON FeatureCollection", f"the file holds {_COLLECTION}"
        )
        return
    features = doc.get("features")
    if not isinstance(features, list):
        draft.report(
            GRIDS_FILE,
            "features",
            f"must be a list of features, not {short_repr(features)}",
            f"the file holds {_COLLECTION}, each feature {_FEATURE}",
        )
        return
    draft.grids_read = True
    swapped = [label for i, feature in enumerate(features) if (label := _read_feature(draft, i, feature))]
    if len(swapped) > 1 and len(swapped) == len(draft.areas):
        draft.report(
            GRIDS_FILE,
            "features[*].geometry.coordinates",
            "every polygon has latitude and longitude swapped (positions read as [lat, lon])",
            _SWAP_HINT,
        )
    else:
        for label in swapped:
            draft.report(
                GRIDS_FILE,
                f"{label}.geometry.coordinates",
                "latitude and longitude are swapped (positions read as [lat, lon])",
                _SWAP_HINT,
            )


def _read_feature(draft: SiteDraft, i: int, feature: Any) -> str | None:
    """Add one feature's area (or its problems); the feature's label when its positions are swapped."""
    props_raw = feature.get("properties") if isinstance(feature, dict) else None
    label = f"features[{item_label(props_raw, i)}]"
    ident = props_raw.get("id") if isinstance(props_raw, dict) else None
    # Until it is read whole, the feature counts as broken: its users need not hear of it twice.
    if isinstance(ident, str):
        draft.broken_areas.add(ident)
    else:
        draft.nameless_broken = True
    if not isinstance(feature, dict):
        draft.report(GRIDS_FILE, label, f"is {short_repr(feature)}, not a feature", f"write {_FEATURE}")
        return None
    if feature.get("type") != "Feature":
        draft.report(
            GRIDS_FILE,
            f"{label}.type",
            f"is {short_repr(feature.get('type'))}, not 'Feature'",
            f"write {_FEATURE}",
        )
        return None
    props = validate(
        GRIDS_FILE,
        GridProperties,
        props_raw if props_raw is not None else {},
        draft.problems,
        prefix=f"{label}.properties",
    )
    geometry = _geometry(draft, label, feature.get("geometry"))
    if geometry is None or props is None:
        return None
    geom, swapped = geometry
    if props.id in draft.areas:
        draft.report(GRIDS_FILE, label, f"duplicate id {props.id!r}", "give each area its own id")
        return None
    draft.broken_areas.discard(props.id)
    if props.guides and props.level is not GridLevel.GRID:
        draft.report(
            GRIDS_FILE,
            f"{label}.properties.guides",
            f"{props.id!r} is a {props.level.value}: guides are named per grid",
            "move 'guides' to the grids of this area",
        )
    draft.areas[props.id] = GridArea(
        props.id,
        props.name,
        props.level,
        props.parent,
        props.leader,
        props.households,
        geom,
        tuple(props.guides),
    )
    return label if swapped else None


def _geometry(draft: SiteDraft, label: str, raw: Any) -> tuple[BaseGeometry, bool] | None:
    """The feature's polygon (put right when its positions are [lat, lon]) and whether they were."""
    where = f"{label}.geometry"
    if not isinstance(raw, dict):
        draft.report(GRIDS_FILE, where, f"is {short_repr(raw)}, not a geometry", f"write {_POLYGON}")
        return None
    try:
        with np.errstate(invalid="ignore"):  # NaN positions: reported below, not as a numpy warning
            geom = shape(raw)
    except Exception as exc:  # shapely raises several types for bad GeoJSON
        draft.report(GRIDS_FILE, where, f"not a polygon: {exc}", f"write {_POLYGON}")
        return None
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        draft.report(
            GRIDS_FILE,
            where,
            f"is a {geom.geom_type}; grids must be Polygon or MultiPolygon",
            f"draw the area's outline: {_POLYGON}",
        )
        return None
    if geom.is_empty:
        draft.report(GRIDS_FILE, where, "the polygon has no positions", f"write {_POLYGON}")
        return None
    xy = shapely.get_coordinates(geom)
    if not np.isfinite(xy).all():
        draft.report(
            GRIDS_FILE, where, "a position is not a number (NaN or infinite)", "write [lon, lat] numbers"
        )
        return None
    swapped = False
    if not _on_earth(xy):
        if not _on_earth(xy[:, ::-1]):
            lon, lat = xy[~_on_earth_each(xy)][0]
            draft.report(
                GRIDS_FILE,
                f"{where}.coordinates",
                f"position [{lon:g}, {lat:g}] is not on Earth: longitude -180..180, latitude -90..90",
                "write positions as [lon, lat] in WGS-84 degrees (not projected metres)",
            )
            return None
        geom, swapped = swap_lon_lat(geom), True
    if not geom.is_valid:
        draft.report(
            GRIDS_FILE,
            where,
            f"invalid polygon: {explain_validity(geom)}",
            "remove self-intersections; close the ring",
        )
        return None
    return geom, swapped


def _on_earth_each(xy: np.ndarray) -> np.ndarray:
    return (np.abs(xy[:, 0]) <= 180) & (np.abs(xy[:, 1]) <= 90)


def _on_earth(xy: np.ndarray) -> bool:
    return bool(_on_earth_each(xy).all())


def check_hierarchy(draft: SiteDraft) -> None:
    """Each area sits in a parent one level up, and inside its parent's polygon."""
    areas = draft.areas
    for area in areas.values():
        where = f"features[{area.id}].properties.parent"
        expected = area.level.parent_level
        if expected is None:
            if area.parent is not None:
                draft.report(GRIDS_FILE, where, "a district has no parent", "remove 'parent'")
            continue
        parent = areas.get(area.parent) if area.parent else None
        if area.parent is None:
            draft.report(
                GRIDS_FILE,
                where,
                f"a {area.level.value} needs a parent",
                f"set it to the id of the enclosing {expected.value}",
            )
        elif parent is None:
            if area.parent not in draft.broken_areas:
                draft.report(GRIDS_FILE, where, f"unknown parent {area.parent!r}", _parent_hint(draft, area))
        elif parent.level is not expected:
            draft.report(
                GRIDS_FILE,
                where,
                f"parent {parent.id!r} is a {parent.level.value}; "
                f"a {area.level.value} belongs in a {expected.value}",
                f"set 'parent' to the enclosing {expected.value}, or fix 'level'",
            )
        else:
            _check_inside(draft, area, parent)


def _parent_hint(draft: SiteDraft, area: GridArea) -> str:
    expected = area.level.parent_level
    same_level = [a.id for a in draft.areas.values() if a.level is expected]
    close = difflib.get_close_matches(area.parent or "", same_level, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"use the id of the enclosing {expected.value if expected else 'area'}"


def _outside_share(geom: BaseGeometry, parent: BaseGeometry) -> float:
    lat = geom.centroid.y
    total = metric(geom, lat).area
    return metric(geom.difference(parent), lat).area / total if total else 0.0


def _check_inside(draft: SiteDraft, area: GridArea, parent: GridArea) -> None:
    outside = _outside_share(area.geometry, parent.geometry)
    if outside <= OUTSIDE_PARENT_TOLERANCE:
        return
    where = f"features[{area.id}].geometry"
    swapped = swap_lon_lat(area.geometry)
    if swapped.is_valid and _outside_share(swapped, parent.geometry) <= OUTSIDE_PARENT_TOLERANCE:
        draft.report(
            GRIDS_FILE,
            f"{where}.coordinates",
            f"latitude and longitude are swapped: read as [lat, lon] it lies inside its parent {parent.id!r}",
            _SWAP_HINT,
        )
        return
    draft.report(
        GRIDS_FILE,
        where,
        f"{outside:.0%} of it lies outside its parent {parent.id!r}",
        "redraw the polygon inside its parent, or fix 'parent'",
    )


def check_overlaps(draft: SiteDraft) -> None:
    """Same-level polygons must not overlap, or a point would belong to two grids."""
    by_level: dict[GridLevel, list[GridArea]] = {}
    for area in draft.areas.values():
        by_level.setdefault(area.level, []).append(area)
    for level, members in by_level.items():
        tree = STRtree([m.geometry for m in members])
        # Pairs whose boxes meet, in file order (a tree instead of every pair: districts have thousands).
        pairs = tree.query([m.geometry for m in members], predicate="intersects").T
        for i, j in sorted((int(i), int(j)) for i, j in pairs if i < j):
            a, b = members[i], members[j]
            lat = a.geometry.centroid.y
            overlap = metric(a.geometry.intersection(b.geometry), lat).area
            if overlap > OVERLAP_TOLERANCE_M2:
                draft.report(
                    GRIDS_FILE,
                    f"features[{a.id}].geometry",
                    f"overlaps {level.value} {b.id!r} by {overlap:,.0f} m²",
                    "neighbouring grids may share a border but not area",
                )
