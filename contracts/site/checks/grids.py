"""grids.geojson: the polygons of the grid hierarchy, their nesting and their borders."""

from __future__ import annotations

from shapely import affinity
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from contracts.geo import metres_per_degree
from contracts.site.checks.draft import SiteDraft
from contracts.site.models import GridLevel, GridProperties
from contracts.site.problems import validate
from contracts.site.reading import GRIDS_FILE, read_json
from contracts.site.site import GridArea

# Shared borders drawn by hand never line up exactly; below these, it's not an overlap.
OVERLAP_TOLERANCE_M2 = 1.0
OUTSIDE_PARENT_TOLERANCE = 0.01  # share of the child's area


def metric(geom: BaseGeometry, lat: float) -> BaseGeometry:
    """``geom`` scaled from degrees to metres around latitude ``lat`` (for areas)."""
    mx, my = metres_per_degree(lat)
    return affinity.scale(geom, xfact=mx, yfact=my, origin=(0, 0))


def read_grids(draft: SiteDraft) -> None:
    doc = read_json(
        draft.root, GRIDS_FILE, draft.problems, "a GeoJSON FeatureCollection of the grid polygons"
    )
    if doc is None:
        return
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        draft.report(GRIDS_FILE, "(top level)", "expected a GeoJSON FeatureCollection")
        return
    areas = draft.areas
    for i, feature in enumerate(doc.get("features") or []):
        props_raw = (feature or {}).get("properties") if isinstance(feature, dict) else None
        label = f"features[{i}]"
        if isinstance(props_raw, dict) and isinstance(props_raw.get("id"), str):
            label = f"features[{props_raw['id']}]"
        props = validate(
            GRIDS_FILE, GridProperties, props_raw or {}, draft.problems, prefix=f"{label}.properties"
        )
        try:
            geom = shape(feature["geometry"])
        except Exception as exc:  # shapely raises several types for bad GeoJSON
            draft.report(GRIDS_FILE, f"{label}.geometry", f"not a polygon: {exc}")
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            draft.report(
                GRIDS_FILE,
                f"{label}.geometry",
                f"is a {geom.geom_type}; grids must be Polygon or MultiPolygon",
            )
            continue
        if not geom.is_valid:
            draft.report(
                GRIDS_FILE,
                f"{label}.geometry",
                f"invalid polygon: {explain_validity(geom)}",
                "remove self-intersections; close the ring",
            )
            continue
        if props is None:
            continue
        if props.id in areas:
            draft.report(GRIDS_FILE, label, f"duplicate id {props.id!r}")
            continue
        areas[props.id] = GridArea(
            props.id, props.name, props.level, props.parent, props.leader, props.households, geom
        )


def check_hierarchy(draft: SiteDraft) -> None:
    """Each area sits in a parent one level up, and inside its parent's polygon."""
    areas = draft.areas
    for area in areas.values():
        where = f"features[{area.id}].properties.parent"
        expected = area.level.parent_level
        if expected is None:
            if area.parent is not None:
                draft.report(GRIDS_FILE, where, "a district has no parent")
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
            draft.report(GRIDS_FILE, where, f"unknown parent {area.parent!r}")
        elif parent.level is not expected:
            draft.report(
                GRIDS_FILE,
                where,
                f"parent {parent.id!r} is a {parent.level.value}; "
                f"a {area.level.value} belongs in a {expected.value}",
            )
        else:
            lat = area.geometry.centroid.y
            outside = metric(area.geometry.difference(parent.geometry), lat).area
            total = metric(area.geometry, lat).area
            if total and outside / total > OUTSIDE_PARENT_TOLERANCE:
                draft.report(
                    GRIDS_FILE,
                    f"features[{area.id}].geometry",
                    f"{outside / total:.0%} of it lies outside its parent {parent.id!r}",
                    "redraw the polygon inside its parent, or fix 'parent'",
                )


def check_overlaps(draft: SiteDraft) -> None:
    """Same-level polygons must not overlap, or a point would belong to two grids."""
    by_level: dict[GridLevel, list[GridArea]] = {}
    for area in draft.areas.values():
        by_level.setdefault(area.level, []).append(area)
    for level, members in by_level.items():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if not a.geometry.intersects(b.geometry):
                    continue
                lat = a.geometry.centroid.y
                overlap = metric(a.geometry.intersection(b.geometry), lat).area
                if overlap > OVERLAP_TOLERANCE_M2:
                    draft.report(
                        GRIDS_FILE,
                        f"features[{a.id}].geometry",
                        f"overlaps {level.value} {b.id!r} by {overlap:,.0f} m²",
                        "neighbouring grids may share a border but not area",
                    )
