"""Load a site directory and check it: every file, every cross-file rule.

A site directory holds::

    site.yaml          SiteFile        identity, time zone, gateway settings
    grids.geojson      GridProperties  district > street > community > grid > micro_grid
    workers.yaml       WorkersFile     grid workers and their duty hours
    escalation.yaml    EscalationFile  SLAs per hazard, tiers, departments
    patrols.yaml       PatrolsFile     (optional) checkpoints and daily patrol routes
    nodes/<id>.yaml    EdgeNodeConfig  one per edge node: cameras, zones, sensors

:func:`check_site` collects *every* problem (it never stops at the first);
:func:`load_site` returns a :class:`Site` or raises :class:`SiteConfigError`.
"""

from __future__ import annotations

import contextlib
import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from shapely import affinity
from shapely.geometry import Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from contracts.geo import GeoPoint, metres_per_degree
from contracts.site.access import ACCESS_FILE, check_grants, grants_from_file
from contracts.site.models import (
    AccessFile,
    Camera,
    Checkpoint,
    EdgeNodeConfig,
    EscalationFile,
    GridLevel,
    GridProperties,
    ModbusSource,
    PatrolRoute,
    PatrolsFile,
    Sensor,
    SiteFile,
    Worker,
    WorkersFile,
    Zigbee2MqttSource,
)
from contracts.site.problems import Problem, SiteConfigError, problems_from_validation

SITE_FILE = "site.yaml"
GRIDS_FILE = "grids.geojson"
WORKERS_FILE = "workers.yaml"
ESCALATION_FILE = "escalation.yaml"
PATROLS_FILE = "patrols.yaml"
NODES_DIR = "nodes"

# Shared borders drawn by hand never line up exactly; below these, it's not an overlap.
OVERLAP_TOLERANCE_M2 = 1.0
OUTSIDE_PARENT_TOLERANCE = 0.01  # share of the child's area

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class GridArea:
    """One polygon of the grid hierarchy, any level."""

    id: str
    name: str
    level: GridLevel
    parent: str | None
    leader: str | None
    households: int | None
    geometry: BaseGeometry

    @cached_property
    def centroid(self) -> GeoPoint:
        c = self.geometry.centroid
        return GeoPoint(lon=c.x, lat=c.y)


@dataclass(frozen=True)
class Site:
    root: Path
    settings: SiteFile
    areas: dict[str, GridArea]
    workers: dict[str, Worker]
    escalation: EscalationFile
    nodes: dict[str, EdgeNodeConfig]
    _devices: dict[str, tuple[str, Camera | Sensor]] = field(default_factory=dict, repr=False)
    patrols: PatrolsFile = field(default_factory=PatrolsFile)
    access: AccessFile = field(default_factory=AccessFile)

    @property
    def grids(self) -> list[GridArea]:
        """Areas at level 'grid' (the unit a full-time worker owns)."""
        return [a for a in self.areas.values() if a.level is GridLevel.GRID]

    def ancestor(self, area_id: str, level: GridLevel) -> GridArea | None:
        area = self.areas.get(area_id)
        while area is not None and area.level is not level:
            area = self.areas.get(area.parent) if area.parent else None
        return area

    def device(self, device_id: str) -> tuple[str, Camera | Sensor] | None:
        """(node id, camera or sensor) for a device id."""
        return self._devices.get(device_id)

    def grid_containing(self, point: GeoPoint) -> GridArea | None:
        """Plain scan; the gateway keeps an STRtree for the hot path."""
        p = Point(point.lon, point.lat)
        for grid in self.grids:
            if grid.geometry.covers(p):
                return grid
        return None


# ---------------------------------------------------------------- file reading
def _read_yaml(root: Path, name: str, problems: list[Problem]) -> Any:
    path = root / name
    if not path.is_file():
        problems.append(Problem(name, "(file)", "file is missing", f"create {path}"))
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problems.append(
            Problem(
                name,
                where,
                f"not valid YAML: {getattr(exc, 'problem', exc)}",
                "check indentation and quoting around that line",
            )
        )
        return None
    except UnicodeDecodeError:
        problems.append(Problem(name, "(file)", "not UTF-8 text", "save the file as UTF-8"))
        return None
    if data is None:
        problems.append(Problem(name, "(file)", "file is empty"))
    return data


def _validate(name: str, model: type[M], data: Any, problems: list[Problem], prefix: str = "") -> M | None:
    if data is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_from_validation(name, exc, model, data, prefix))
        return None


def _metric(geom: BaseGeometry, lat: float) -> BaseGeometry:
    mx, my = metres_per_degree(lat)
    return affinity.scale(geom, xfact=mx, yfact=my, origin=(0, 0))


def _load_grids(root: Path, problems: list[Problem]) -> dict[str, GridArea]:
    path = root / GRIDS_FILE
    if not path.is_file():
        problems.append(
            Problem(
                GRIDS_FILE, "(file)", "file is missing", "a GeoJSON FeatureCollection of the grid polygons"
            )
        )
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(Problem(GRIDS_FILE, "(file)", f"not valid JSON: {exc}"))
        return {}
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        problems.append(Problem(GRIDS_FILE, "(top level)", "expected a GeoJSON FeatureCollection"))
        return {}
    areas: dict[str, GridArea] = {}
    for i, feature in enumerate(doc.get("features") or []):
        props_raw = (feature or {}).get("properties") if isinstance(feature, dict) else None
        label = f"features[{i}]"
        if isinstance(props_raw, dict) and isinstance(props_raw.get("id"), str):
            label = f"features[{props_raw['id']}]"
        props = _validate(GRIDS_FILE, GridProperties, props_raw or {}, problems, prefix=f"{label}.properties")
        try:
            geom = shape(feature["geometry"])
        except Exception as exc:  # shapely raises several types for bad GeoJSON
            problems.append(Problem(GRIDS_FILE, f"{label}.geometry", f"not a polygon: {exc}"))
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(
                Problem(
                    GRIDS_FILE,
                    f"{label}.geometry",
                    f"is a {geom.geom_type}; grids must be Polygon or MultiPolygon",
                )
            )
            continue
        if not geom.is_valid:
            problems.append(
                Problem(
                    GRIDS_FILE,
                    f"{label}.geometry",
                    f"invalid polygon: {explain_validity(geom)}",
                    "remove self-intersections; close the ring",
                )
            )
            continue
        if props is None:
            continue
        if props.id in areas:
            problems.append(Problem(GRIDS_FILE, label, f"duplicate id {props.id!r}"))
            continue
        areas[props.id] = GridArea(
            props.id, props.name, props.level, props.parent, props.leader, props.households, geom
        )
    return areas


def _check_hierarchy(areas: dict[str, GridArea], problems: list[Problem]) -> None:
    by_level: dict[GridLevel, list[GridArea]] = {}
    for area in areas.values():
        by_level.setdefault(area.level, []).append(area)
        where = f"features[{area.id}].properties.parent"
        expected = area.level.parent_level
        if expected is None:
            if area.parent is not None:
                problems.append(Problem(GRIDS_FILE, where, "a district has no parent"))
            continue
        parent = areas.get(area.parent) if area.parent else None
        if area.parent is None:
            problems.append(
                Problem(
                    GRIDS_FILE,
                    where,
                    f"a {area.level.value} needs a parent",
                    f"set it to the id of the enclosing {expected.value}",
                )
            )
        elif parent is None:
            problems.append(Problem(GRIDS_FILE, where, f"unknown parent {area.parent!r}"))
        elif parent.level is not expected:
            problems.append(
                Problem(
                    GRIDS_FILE,
                    where,
                    f"parent {parent.id!r} is a {parent.level.value}; "
                    f"a {area.level.value} belongs in a {expected.value}",
                )
            )
        else:
            lat = area.geometry.centroid.y
            outside = _metric(area.geometry.difference(parent.geometry), lat).area
            total = _metric(area.geometry, lat).area
            if total and outside / total > OUTSIDE_PARENT_TOLERANCE:
                problems.append(
                    Problem(
                        GRIDS_FILE,
                        f"features[{area.id}].geometry",
                        f"{outside / total:.0%} of it lies outside its parent {parent.id!r}",
                        "redraw the polygon inside its parent, or fix 'parent'",
                    )
                )
    # Same-level polygons must not overlap, or a point would belong to two grids.
    for level, members in by_level.items():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if not a.geometry.intersects(b.geometry):
                    continue
                lat = a.geometry.centroid.y
                overlap = _metric(a.geometry.intersection(b.geometry), lat).area
                if overlap > OVERLAP_TOLERANCE_M2:
                    problems.append(
                        Problem(
                            GRIDS_FILE,
                            f"features[{a.id}].geometry",
                            f"overlaps {level.value} {b.id!r} by {overlap:,.0f} m²",
                            "neighbouring grids may share a border but not area",
                        )
                    )


# ---------------------------------------------------------------- cross-file rules
def _polygon_problems(points: list[tuple[float, float]], frame: Polygon) -> Iterator[str]:
    poly = Polygon(points)
    if not poly.is_valid:
        yield f"invalid polygon: {explain_validity(poly)}"
    outside = [p for p in points if not frame.covers(Point(p))]
    if outside:
        w, h = frame.bounds[2], frame.bounds[3]
        yield f"vertices {outside[:3]} lie outside the {w:.0f}x{h:.0f} camera frame"


def _check_node(file: str, cfg: EdgeNodeConfig, site_grids: list[GridArea], problems: list[Problem]) -> None:
    def locate(what: str, where: str, point: GeoPoint) -> None:
        p = Point(point.lon, point.lat)
        if site_grids and not any(g.geometry.covers(p) for g in site_grids):
            problems.append(
                Problem(
                    file,
                    where,
                    f"{what} at ({point.lon:.6f}, {point.lat:.6f}) is outside every grid",
                    "check the coordinates (lon first) or draw the grid",
                )
            )

    cameras = {c.id for c in cfg.cameras}
    for cam in cfg.cameras:
        frame = box(0, 0, cam.resolution[0], cam.resolution[1])
        base = f"cameras[{cam.id}]"
        locate("camera", f"{base}.location", cam.location)
        seen: set[str] = set()
        for zone in cam.zones:
            if zone.id in seen:
                problems.append(Problem(file, f"{base}.zones[{zone.id}]", "duplicate zone id"))
            seen.add(zone.id)
            for msg in _polygon_problems(list(zone.polygon), frame):
                problems.append(
                    Problem(
                        file,
                        f"{base}.zones[{zone.id}].polygon",
                        msg,
                        "zone vertices are pixels of the camera frame",
                    )
                )
        for i, mask in enumerate(cam.ignore_masks):
            if len(mask) < 3:
                problems.append(Problem(file, f"{base}.ignore_masks[{i}]", "needs at least 3 vertices"))
                continue
            for msg in _polygon_problems(list(mask), frame):
                problems.append(Problem(file, f"{base}.ignore_masks[{i}]", msg))
    for sensor in cfg.sensors:
        base = f"sensors[{sensor.id}]"
        locate("sensor", f"{base}.location", sensor.location)
        for cam_id in sensor.near_cameras:
            if cam_id not in cameras:
                problems.append(
                    Problem(
                        file,
                        f"{base}.near_cameras",
                        f"unknown camera {cam_id!r} on node {cfg.node.id!r}",
                        f"cameras on this node: {', '.join(sorted(cameras)) or 'none'}",
                    )
                )
    _check_sensor_wiring(file, cfg, problems)


def _check_sensor_wiring(file: str, cfg: EdgeNodeConfig, problems: list[Problem]) -> None:
    """Two sensors cannot be one zigbee2mqtt device, nor run one serial line at two speeds."""
    names: dict[tuple[str, str], str] = {}
    lines: dict[str, Sensor] = {}
    for sensor in cfg.sensors:
        src = sensor.source
        where = f"sensors[{sensor.id}].source"
        if isinstance(src, Zigbee2MqttSource):
            key = (src.base_topic, src.friendly_name)
            if key in names:
                problems.append(
                    Problem(
                        file,
                        f"{where}.friendly_name",
                        f"{src.friendly_name!r} is also sensors[{names[key]}]",
                        "each zigbee2mqtt device has its own friendly name",
                    )
                )
            names.setdefault(key, sensor.id)
        elif isinstance(src, ModbusSource) and src.protocol == "modbus_rtu" and src.serial_port:
            first = lines.setdefault(src.serial_port, sensor)
            if isinstance(first.source, ModbusSource) and first.source.baudrate != src.baudrate:
                problems.append(
                    Problem(
                        file,
                        f"{where}.baudrate",
                        f"{src.baudrate} differs from sensors[{first.id}] ({first.source.baudrate}) "
                        f"on the same serial line {src.serial_port}",
                        "every device on one RS-485 line runs at the line's speed",
                    )
                )


def _salvage_patrols(raw: Any) -> tuple[PatrolsFile, set[str]]:
    """The entries of a patrols file that are valid on their own, and every checkpoint id declared."""
    if not isinstance(raw, dict):
        return PatrolsFile(), set()
    checkpoints, routes, declared = [], [], set()
    for item in raw.get("checkpoints") or []:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            declared.add(item["id"])
        with contextlib.suppress(ValidationError):
            checkpoints.append(Checkpoint.model_validate(item))
    for item in raw.get("routes") or []:
        with contextlib.suppress(ValidationError):
            routes.append(PatrolRoute.model_validate(item))
    return PatrolsFile(checkpoints=checkpoints, routes=routes), declared


def _check_patrols(
    patrols: PatrolsFile,
    workers: dict[str, Worker] | None,
    grids: list[GridArea],
    problems: list[Problem],
    declared: set[str] | None = None,
) -> None:
    known: set[str] = set()
    for cp in patrols.checkpoints:
        where = f"checkpoints[{cp.id}]"
        if cp.id in known:
            problems.append(Problem(PATROLS_FILE, where, f"duplicate checkpoint id {cp.id!r}"))
        known.add(cp.id)
        p = Point(cp.location.lon, cp.location.lat)
        if grids and not any(g.geometry.covers(p) for g in grids):
            problems.append(
                Problem(
                    PATROLS_FILE,
                    f"{where}.location",
                    f"checkpoint at ({cp.location.lon:.6f}, {cp.location.lat:.6f}) is outside every grid",
                    "check the coordinates (lon first) or draw the grid",
                )
            )
    known |= declared or set()
    walkers: set[str] = set()
    for i, route in enumerate(patrols.routes):
        where = f"routes[{i}]"
        if workers is not None and route.worker not in workers:
            close = difflib.get_close_matches(route.worker, list(workers), n=1)
            problems.append(
                Problem(
                    PATROLS_FILE,
                    f"{where}.worker",
                    f"unknown worker {route.worker!r}",
                    f"did you mean {close[0]!r}?" if close else f"use a worker id from {WORKERS_FILE}",
                )
            )
        if route.worker in walkers:
            problems.append(
                Problem(
                    PATROLS_FILE,
                    f"{where}.worker",
                    f"worker {route.worker!r} already has a route",
                    "merge the two routes: one daily route per worker",
                )
            )
        walkers.add(route.worker)
        seen: set[str] = set()
        for j, cp_id in enumerate(route.checkpoints):
            if cp_id not in known:
                close = difflib.get_close_matches(cp_id, sorted(known), n=1)
                problems.append(
                    Problem(
                        PATROLS_FILE,
                        f"{where}.checkpoints[{j}]",
                        f"unknown checkpoint {cp_id!r}",
                        f"did you mean {close[0]!r}?" if close else "declare it under 'checkpoints'",
                    )
                )
            elif cp_id in seen:
                problems.append(
                    Problem(
                        PATROLS_FILE,
                        f"{where}.checkpoints[{j}]",
                        f"checkpoint {cp_id!r} is listed twice",
                        "a daily route visits each checkpoint once",
                    )
                )
            seen.add(cp_id)


def check_site(root: str | Path) -> tuple[Site | None, list[Problem]]:
    """Read and check a site directory; return the site (if usable) and every problem."""
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        return None, [Problem(str(root), "(directory)", "not a directory")]

    settings = _validate(SITE_FILE, SiteFile, _read_yaml(root, SITE_FILE, problems), problems)
    areas = _load_grids(root, problems)
    _check_hierarchy(areas, problems)
    workers_file = _validate(WORKERS_FILE, WorkersFile, _read_yaml(root, WORKERS_FILE, problems), problems)
    escalation = _validate(
        ESCALATION_FILE, EscalationFile, _read_yaml(root, ESCALATION_FILE, problems), problems
    )

    workers: dict[str, Worker] = {}
    for w in workers_file.workers if workers_file else []:
        where = f"workers[{w.id}]"
        if w.id in workers:
            problems.append(Problem(WORKERS_FILE, where, f"duplicate worker id {w.id!r}"))
        workers[w.id] = w
        home = areas.get(w.home_grid)
        if home is None:
            problems.append(
                Problem(
                    WORKERS_FILE,
                    f"{where}.home_grid",
                    f"unknown grid {w.home_grid!r}",
                    f"use a grid id from {GRIDS_FILE}",
                )
            )
        elif home.level is not GridLevel.GRID:
            problems.append(
                Problem(
                    WORKERS_FILE, f"{where}.home_grid", f"{w.home_grid!r} is a {home.level.value}, not a grid"
                )
            )
    for area in areas.values():
        if area.leader and workers_file and area.leader not in workers:
            problems.append(
                Problem(
                    GRIDS_FILE,
                    f"features[{area.id}].properties.leader",
                    f"unknown worker {area.leader!r}",
                    f"add them to {WORKERS_FILE}",
                )
            )

    nodes: dict[str, EdgeNodeConfig] = {}
    devices: dict[str, tuple[str, Camera | Sensor]] = {}
    grids = [a for a in areas.values() if a.level is GridLevel.GRID]
    node_dir = root / NODES_DIR
    node_files = sorted(node_dir.glob("*.yaml")) if node_dir.is_dir() else []
    if not node_files:
        problems.append(
            Problem(NODES_DIR, "(directory)", "no edge node files", f"add {NODES_DIR}/<node id>.yaml")
        )
    for path in node_files:
        name = f"{NODES_DIR}/{path.name}"
        cfg = _validate(name, EdgeNodeConfig, _read_yaml(root, name, problems), problems)
        if cfg is None:
            continue
        if cfg.node.id != path.stem:
            problems.append(
                Problem(
                    name,
                    "node.id",
                    f"id {cfg.node.id!r} differs from the file name",
                    f"rename the file to {cfg.node.id}.yaml or fix the id",
                )
            )
        if cfg.node.id in nodes:
            problems.append(Problem(name, "node.id", f"duplicate node id {cfg.node.id!r}"))
        nodes[cfg.node.id] = cfg
        for dev in [*cfg.cameras, *cfg.sensors]:
            if dev.id in devices or dev.id in nodes:
                other = devices[dev.id][0] if dev.id in devices else dev.id
                problems.append(
                    Problem(
                        name,
                        f"{type(dev).__name__.lower()}s[{dev.id}]",
                        f"device id {dev.id!r} is already used on node {other!r}",
                        "device ids are unique across the whole site",
                    )
                )
            devices[dev.id] = (cfg.node.id, dev)
        _check_node(name, cfg, grids, problems)

    if escalation is not None:
        for hazard, policy in [("default", escalation.default), *escalation.hazards.items()]:
            base = f"hazards.{hazard}" if hazard != "default" else "default"
            if policy.department and policy.department not in escalation.departments:
                problems.append(
                    Problem(
                        ESCALATION_FILE,
                        f"{base}.department",
                        f"unknown department {policy.department!r}",
                        "declare it under 'departments'",
                    )
                )
            for kind, department in policy.department_by_sensor.items():
                if department not in escalation.departments:
                    problems.append(
                        Problem(
                            ESCALATION_FILE,
                            f"{base}.department_by_sensor.{kind}",
                            f"unknown department {department!r}",
                            "declare it under 'departments'",
                        )
                    )
        for community_id in escalation.communities:
            area = areas.get(community_id)
            if areas and (area is None or area.level is not GridLevel.COMMUNITY):
                problems.append(
                    Problem(
                        ESCALATION_FILE,
                        f"communities.{community_id}",
                        f"{community_id!r} is not a community in {GRIDS_FILE}",
                    )
                )
        if len(set(escalation.tiers)) != len(escalation.tiers):
            problems.append(Problem(ESCALATION_FILE, "tiers", "a tier is listed twice"))

    patrols: PatrolsFile | None = PatrolsFile()
    if (root / PATROLS_FILE).is_file():
        raw = _read_yaml(root, PATROLS_FILE, problems)
        patrols = _validate(PATROLS_FILE, PatrolsFile, raw, problems)
        # Cross-check what did validate too, so that one bad entry does not hide the others' problems.
        checkable, declared = (patrols, None) if patrols is not None else _salvage_patrols(raw)
        _check_patrols(checkable, workers if workers_file else None, grids, problems, declared)

    access: AccessFile | None = AccessFile()
    if (root / ACCESS_FILE).is_file():
        access = _validate(ACCESS_FILE, AccessFile, _read_yaml(root, ACCESS_FILE, problems), problems)
        if access is not None and workers_file is not None:
            problems += check_grants(grants_from_file(access), workers, ACCESS_FILE)

    if problems or settings is None or escalation is None or patrols is None or access is None:
        return None, problems
    site = Site(root, settings, areas, workers, escalation, nodes, devices, patrols, access)
    return site, problems


def load_site(root: str | Path) -> Site:
    site, problems = check_site(root)
    if site is None:
        raise SiteConfigError(str(root), problems)
    return site


def load_node_config(path: str | Path) -> EdgeNodeConfig:
    """One node's file on its own (what an edge node reads at start-up)."""
    path = Path(path)
    problems: list[Problem] = []
    cfg = _validate(path.name, EdgeNodeConfig, _read_yaml(path.parent, path.name, problems), problems)
    if cfg is not None:
        _check_node(path.name, cfg, [], problems)
    if cfg is None or problems:
        raise SiteConfigError(str(path), problems)
    return cfg
