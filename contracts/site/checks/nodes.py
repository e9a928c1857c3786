"""nodes/<id>.yaml: each edge node, its cameras' zones and its sensors' wiring; device ids site-wide."""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Iterator
from pathlib import Path

from shapely.geometry import Point, Polygon, box
from shapely.validation import explain_validity

from contracts.site.checks.draft import SiteDraft
from contracts.site.models import Camera, EdgeNodeConfig, ModbusSource, Sensor, Zigbee2MqttSource
from contracts.site.problems import Problem, Severity, validate
from contracts.site.reading import NODES_DIR


def read_nodes(draft: SiteDraft) -> None:
    for name in _node_files(draft):
        cfg = validate(name, EdgeNodeConfig, draft.reader.yaml(name), draft.problems)
        if cfg is None:
            continue
        stem = Path(name).stem
        if cfg.node.id != stem:
            draft.report(
                name,
                "node.id",
                f"id {cfg.node.id!r} differs from the file name",
                f"rename the file to {cfg.node.id}.yaml or fix the id",
            )
        if cfg.node.id in draft.nodes:
            draft.report(
                name, "node.id", f"duplicate node id {cfg.node.id!r}", "give each node its own id and file"
            )
        draft.nodes[cfg.node.id] = cfg
        _register_devices(draft, name, cfg)
        for cam in cfg.cameras:
            draft.locate(name, f"cameras[{cam.id}].location", "camera", cam.location)
        for sensor in cfg.sensors:
            draft.locate(name, f"sensors[{sensor.id}].location", "sensor", sensor.location)
        check_node(name, cfg, draft.problems)


def _node_files(draft: SiteDraft) -> list[str]:
    """``nodes/*.yaml`` by name; other files there are named, since they are never read."""
    node_dir = draft.root / NODES_DIR
    add = f"add {NODES_DIR}/<node id>.yaml for each edge node"
    try:
        entries = sorted(os.listdir(node_dir))
    except OSError as exc:
        why = {
            errno.ENOENT: "is missing",
            errno.ENOTDIR: "is a file, not a directory",
            errno.ELOOP: "is a symbolic link loop",
        }.get(exc.errno or 0, f"cannot be listed: {exc.strerror}")
        draft.report(NODES_DIR, "(directory)", f"no edge node files: {NODES_DIR} {why}", add)
        return []
    names = []
    for entry in entries:
        if entry.startswith("."):
            continue  # editors' swap and lock files
        if entry.endswith(".yaml"):
            names.append(f"{NODES_DIR}/{entry}")
        elif entry.endswith((".yml", ".YAML", ".YML")):
            draft.report(
                f"{NODES_DIR}/{entry}",
                "(file)",
                "never read: only files ending in .yaml are node files",
                f"rename it to {Path(entry).stem}.yaml",
                Severity.WARNING,
            )
    if not names:
        draft.report(NODES_DIR, "(directory)", "no edge node files", add)
    return names


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


def check_node(file: str, cfg: EdgeNodeConfig, problems: list[Problem]) -> None:
    """One node's own rules: zones inside their camera's frame, sensors wired once."""
    for cam in cfg.cameras:
        _check_camera(file, cam, problems)
    cameras = {c.id for c in cfg.cameras}
    for sensor in cfg.sensors:
        for cam_id in sensor.near_cameras:
            if cam_id not in cameras:
                problems.append(
                    Problem(
                        file,
                        f"sensors[{sensor.id}].near_cameras",
                        f"unknown camera {cam_id!r} on node {cfg.node.id!r}",
                        f"cameras on this node: {', '.join(sorted(cameras)) or 'none'}",
                    )
                )
    _check_sensor_wiring(file, cfg, problems)


def _check_camera(file: str, cam: Camera, problems: list[Problem]) -> None:
    frame = box(0, 0, cam.resolution[0], cam.resolution[1])
    base = f"cameras[{cam.id}]"
    seen: set[str] = set()
    for zone in cam.zones:
        if zone.id in seen:
            problems.append(
                Problem(file, f"{base}.zones[{zone.id}]", "duplicate zone id", "give each zone its own id")
            )
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
        where = f"{base}.ignore_masks[{i}]"
        if len(mask) < 3:
            problems.append(
                Problem(file, where, "needs at least 3 vertices", "a mask is a polygon of [x, y] pixels")
            )
            continue
        for msg in _polygon_problems(list(mask), frame):
            problems.append(Problem(file, where, msg, "mask vertices are pixels of the camera frame"))


def _polygon_problems(points: list[tuple[float, float]], frame: Polygon) -> Iterator[str]:
    odd = [p for p in points if not all(math.isfinite(c) for c in p)]
    if odd:
        yield f"vertex {list(odd[0])} is not a number (NaN or infinite)"
        return
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
