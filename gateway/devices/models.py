"""One row per edge node, camera and sensor: inventory, lifecycle and the latest health.

The site files (``nodes/*.yaml``) say what a device *is* (its id, node, configured place,
zones, thresholds); this table says what became of it: the serial on its label, who put it
up where, when it was commissioned, whether it is online now (docs/devices.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime


class DeviceKind(StrEnum):
    NODE = "node"
    CAMERA = "camera"
    SENSOR = "sensor"


class Lifecycle(StrEnum):
    PLANNED = "planned"  # a serial is expected (CSV) but the site files do not have the device yet
    PROVISIONED = "provisioned"  # in the site files; no valid message seen yet
    COMMISSIONED = "commissioned"  # its first valid message arrived
    ONLINE = "online"  # its node says online, or it spoke lately
    OFFLINE = "offline"  # its node's last will, its own status, or its node's health says so
    RETIRED = "retired"  # taken off the site files (or by hand): nothing it sends counts any more


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[str | None] = mapped_column(String(64), index=True, doc="a camera's or sensor's node")
    type: Mapped[str] = mapped_column(String(32), default="", doc="camera, or the sensor's kind")
    name: Mapped[str] = mapped_column(String(200), default="")
    serial: Mapped[str | None] = mapped_column(String(64), unique=True)
    model: Mapped[str] = mapped_column(String(100), default="")
    # Where the site files put it, and the grid that contains it.
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    grid_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Where the installer's phone (or the map) says it was put, and that position's grid.
    installed_lon: Mapped[float | None] = mapped_column(Float)
    installed_lat: Mapped[float | None] = mapped_column(Float)
    installed_grid_id: Mapped[str | None] = mapped_column(String(64))
    installer: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    status_since: Mapped[datetime] = mapped_column(UtcDateTime)
    planned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    provisioned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    installed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    commissioned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The commissioning check the installer started last (what it waits for comes after this).
    check_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    config_version: Mapped[str | None] = mapped_column(String(64), doc="what the node runs (its health)")
    config_desired: Mapped[str | None] = mapped_column(
        String(64), doc="the version the centre pushed last (flows/config_push.py)"
    )
    software: Mapped[str] = mapped_column(String(40), default="", doc="the node's version (NodeStatus)")
    # The latest of its node's EdgeHealth about it: a camera's or sensor's state and error.
    health: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_devices_status_since", "status", "status_since"),)


class LoginRefusal(Base):
    """A login the broker refused (its CONNACK "not authorised"), read from its own log.

    Mosquitto 2.0 names neither the username nor the client id of a refused CONNECT ("Client
    <unknown> disconnected, not authorised."): what it gives is the peer address of the
    connection (its "New connection from ADDR:PORT on port LISTENER." line). ``login`` is a
    hint: the one login ever accepted from that address while the gateway watched;
    ``client_id`` is set only by a broker that names the refused client (docs/devices.md).
    """

    __tablename__ = "login_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    refused_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True, doc="on the gateway's clock")
    # The broker's own stamp and the connection's address: several gateways each watch the log,
    # this keeps one row per refused connection.
    key: Mapped[str] = mapped_column(String(160), unique=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    port: Mapped[int | None] = mapped_column(Integer)
    listener: Mapped[int | None] = mapped_column(Integer, doc="the broker's port it knocked on")
    client_id: Mapped[str | None] = mapped_column(String(128))
    login: Mapped[str | None] = mapped_column(String(64), index=True)
    line: Mapped[str] = mapped_column(Text, default="", doc="the broker's words")
