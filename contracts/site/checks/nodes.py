"""nodes/<id>.yaml: each edge node, its cameras' zones and its sensors' wiring; device ids site-wide."""

from __future__ import annotations

from collections.abc import Iterator

from shapely.geometry import Point, Polygon, box
from shapely.validation import explain_validity

from contracts.geo import GeoPoint
from contracts.site.checks.draft import SiteDraft
from contracts.site.models import EdgeNodeConfig, ModbusSource, Sensor, Zigbee2MqttSource
from contracts.site.problems import Problem, validate
from contracts.site.reading import NODES_DIR, read_yaml
from contracts.site.site import GridArea


def read_nodes(draft: SiteDraft) -> None:
    node_dir = draft.root / NODES_DIR
    node_files = sorted(node_dir.glob("*.yaml")) if node_dir.is_dir() else []
    if not node_files:
        draft.report(NODES_DIR, "(directory)", "no edge node files", f"add {NODES_DIR}/<node id>.yaml")
    grids = draft.grids
    for path in node_files:
        name = f"{NODES_DIR}/{path.name}"
        cfg = validate(name, EdgeNodeConfig, read_yaml(draft.root, name, draft.problems), draft.problems)
        if cfg is None:
            continue
        if cfg.node.id != path.stem:
            draft.report(
                name,
                "node.id",
                f"id {cfg.node.id!r} differs from the file name",
                f"rename the file to {cfg.node.id}.yaml or fix the id",
            )
        if cfg.node.id in draft.nodes:
            draft.report(name, "node.id", f"duplicate node id {cfg.node.id!r}")
        draft.nodes[cfg.node.id] = cfg
        _register_devices(draft, name, cfg)
        check_node(name, cfg, grids, draft.problems)


def _register_devices(draft: SiteDraft, file: str, cfg: EdgeNodeConfig) -> None:
    """Device ids are unique across the whole site (and never a node's id)."""
    devices = draft.devices
    for dev in [*cfg.cameras, *cfg.sensors]:
        if dev.id in devices or dev.id in draft.nodes:
            other = devices[dev.id][0] if dev.id in devices else dev.id
            draft.report(
                file,
                f"{type(dev).__name__.lower()}s[{dev.id}]",
                f"device id {dev.id!r} is already used on node {other!r}",
                "device ids are unique across the whole site",
            )
        devices[dev.id] = (cfg.node.id, dev)


def check_node(file: str, cfg: EdgeNodeConfig, site_grids: list[GridArea], problems: list[Problem]) -> None:
    """One node's own rules; with ``site_grids``, its devices must stand inside some grid."""

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


def _polygon_problems(points: list[tuple[float, float]], frame: Polygon) -> Iterator[str]:
    poly = Polygon(points)
    if not poly.is_valid:
        yield f"invalid polygon: {explain_validity(poly)}"
    outside = [p for p in points if not frame.covers(Point(p))]
    if outside:
        w, h = frame.bounds[2], frame.bounds[3]
        yield f"vertices {outside[:3]} lie outside the {w:.0f}x{h:.0f} camera frame"


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
