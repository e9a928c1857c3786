"""One edge node process: outbox + uplink, status and health, sensors, video.

Composition only; each part does its own job:

- :class:`edge.outbox.Outbox` — the node's emitter (disk first, QoS 1, PUBACK,
  replay). Its connection publishes the retained ``online`` NodeStatus first
  thing on every (re)connect, leaves a retained ``offline`` last will with the
  broker, and says a retained ``offline`` goodbye on a clean stop. Status
  messages are tied to the live connection, so they are not queued and carry
  ``seq`` 0 (unsequenced; the gateway skips 0).
- :class:`edge.sensors.SensorService` with its inputs (the sensor bus for
  zigbee2mqtt / GridWatch devices, one Modbus poller per line).
- :class:`edge.video.service.VideoService` for the cameras, sharing the
  emitter and the fusion hub.
- a health loop: an ``EdgeHealth`` every ``health_interval_s`` (outbox depth and
  oldest unsent age, each sensor's and camera's state, warnings).
"""

from __future__ import annotations

import logging
import threading
import time
from importlib import metadata
from typing import TYPE_CHECKING

from prometheus_client import start_http_server

from contracts import EdgeHealth, NodeStatus, encode, topics
from contracts.clock import Clock, SystemClock
from contracts.site.models import EdgeNodeConfig
from edge.emit import Priority
from edge.fusion import FusionHub
from edge.outbox import Outbox, retention
from edge.sensors.bus import SensorBus
from edge.sensors.modbus import ModbusPoller, lines_for
from edge.sensors.service import SensorService
from edge.settings import EdgeSettings

if TYPE_CHECKING:
    from edge.video.service import VideoService
    from edge.video.settings import VideoSettings

log = logging.getLogger(__name__)

MAX_WARNINGS = 50


def _version() -> str:
    try:
        return metadata.version("gridwatch")
    except metadata.PackageNotFoundError:
        return ""


class EdgeNode:
    def __init__(
        self,
        config: EdgeNodeConfig,
        settings: EdgeSettings | None = None,
        clock: Clock | None = None,
        video_settings: VideoSettings | None = None,
        video: bool = True,
    ) -> None:
        self.config = config
        self.settings = settings or EdgeSettings()
        self.clock = clock or SystemClock()
        self.node_id = config.node.id
        self.started_at = self.clock.now()
        self._started_mono = time.monotonic()
        self._stop = threading.Event()
        self._health_thread: threading.Thread | None = None
        self._metrics_server: object | None = None
        self.outbox = Outbox(
            self.node_id,
            self.settings.outbox_path(self.node_id),
            self.settings.uplink,
            self.settings.outbox,
            self.clock,
            will=(topics.node_status(self.node_id), self._status("offline", "connection lost (last will)")),
            birth=lambda: [(topics.node_status(self.node_id), self._status("online", ""))],
            farewell=lambda: [(topics.node_status(self.node_id), self._status("offline", "stopped"))],
            downlink=([topics.node_config(self.node_id)], self._on_config),
        )
        self.config_notes: list[str] = []  # what the last ConfigPush did, for the health warnings
        self.config_version = ""  # the last ConfigPush applied ("" = the node's own file)
        self.config_error = ""  # why the last one was refused, reported in the health
        self.fusion = FusionHub()
        self.sensors = SensorService(config, self.outbox, self.fusion, self.clock, state=self.outbox.store)
        self.bus = SensorBus(config, self.sensors, self.settings.sensors_broker, self.clock)
        self.modbus = [ModbusPoller(line, self.sensors, self.clock) for line in lines_for(config)]
        self.video: VideoService | None = None
        if video and any(c.enabled for c in config.cameras):
            from edge.video.service import VideoService  # heavy (OpenCV, onnxruntime): only when needed

            self.video = VideoService(config, self.outbox, self.fusion, self.clock, video_settings)

    def _status(self, state: str, reason: str) -> bytes:
        return encode(
            NodeStatus(
                source=self.node_id,
                seq=0,  # bound to the connection, not numbered (see module docstring)
                ts=self.clock.now(),
                state=state,  # type: ignore[arg-type]
                reason=reason,
                version=_version(),
                started_at=self.started_at,
            )
        )

    # -- life ----------------------------------------------------------------------------
    def start(self) -> None:
        if self.settings.metrics_port is not None:
            self._metrics_server = start_http_server(self.settings.metrics_port)
        self.outbox.start()
        self.sensors.start()
        if self.bus.needed:
            self.bus.start()
        for poller in self.modbus:
            poller.start()
        if self.video is not None:
            self.video.start()
        self._health_thread = threading.Thread(target=self._health_loop, name="edge-health", daemon=True)
        self._health_thread.start()
        log.info(
            "edge node started: %d sensor(s), %d camera(s), outbox %s (%d queued)",
            len(self.config.sensors),
            len(self.video.runners) if self.video else 0,
            self.settings.outbox_path(self.node_id),
            self.outbox.store.depth,
            extra={"node_id": self.node_id},
        )

    def stop(self) -> None:
        self._stop.set()
        if self.video is not None:
            self.video.stop()
        for poller in self.modbus:
            poller.stop()
        if self.bus.needed:
            self.bus.stop()
        self.sensors.stop()
        if self._health_thread:
            self._health_thread.join(timeout=5)
        self.outbox.stop()  # last: flushes what the others queued, then says goodbye
        if self._metrics_server is not None:
            server, _thread = self._metrics_server  # type: ignore[misc]
            server.shutdown()
            server.server_close()
        log.info("edge node stopped", extra={"node_id": self.node_id})

    def run(self, stop: threading.Event) -> None:
        self.start()
        try:
            stop.wait()
        finally:
            self.stop()

    # -- configuration from the centre --------------------------------------------------------
    def _on_config(self, topic: str, payload: bytes) -> None:
        """A ConfigPush (retained) for this node: what can change live (its cameras' marked
        objects, masks and zones) is applied; the rest waits for a restart, and the health
        warnings say so. A push that fails the contract changes nothing and is reported."""
        from contracts import ConfigPush, decode
        from contracts.codec import ContractError

        try:
            push = decode(topic, payload)
            if not isinstance(push, ConfigPush) or push.node_id != self.node_id:
                raise ValueError(f"expected a ConfigPush for {self.node_id}")
            config = EdgeNodeConfig.model_validate(push.node_config)
        except (ContractError, ValueError) as exc:
            self.config_notes = [f"configuration push refused, nothing changed: {exc}"[:300]]
            self.config_error = f"{exc}"[:300]
            log.error("configuration push refused: %s", exc, extra={"node_id": self.node_id})
            return
        notes = self.video.apply_node_config(config) if self.video is not None else []
        self.config_version, self.config_error = push.config_version, ""
        self.config_notes = [
            f"configuration {push.config_version}: {n}"[:300] for n in notes if "restart" in n
        ]
        log.info(
            "configuration %s received: %s",
            push.config_version,
            "; ".join(notes) or "nothing to change",
            extra={"node_id": self.node_id},
        )

    # -- health ------------------------------------------------------------------------------
    def _health_loop(self) -> None:
        # First report soon after start, so a freshly installed node shows up at once.
        delay = min(5.0, self.settings.health_interval_s)
        next_sweep = 0.0
        while not self._stop.wait(delay):
            try:
                self.outbox.emit(topics.node_health(self.node_id), self.health(), Priority.HEALTH)
            except Exception:
                log.exception("could not queue edge health", extra={"node_id": self.node_id})
            if (
                time.monotonic() >= next_sweep
            ):  # unsent evidence and refused messages past their days or quota
                next_sweep = time.monotonic() + self.settings.retention.interval_s
                self.sweep_retention()
            delay = self.settings.health_interval_s

    def sweep_retention(self) -> None:
        try:
            retention.sweep(self.outbox, self.settings.retention, self.clock.now())
        except Exception:
            log.exception("retention sweep failed", extra={"node_id": self.node_id})

    def health(self) -> EdgeHealth:
        outbox, warnings = self.outbox.health()
        warnings += self.sensors.warnings()
        cameras, detector = [], None
        if self.video is not None:
            cameras = self.video.health()
            detector = self.video.detector_health()
            warnings += self.video.warnings()
        warnings += self.config_notes
        for s in self.sensors.health():
            if s.state in ("offline", "silent", "fault"):
                warnings.append(f"sensor {s.device_id} {s.state}: {s.error}"[:300])
        return EdgeHealth(
            source=self.node_id,
            seq=0,
            ts=self.clock.now(),
            uptime_s=round(time.monotonic() - self._started_mono, 3),
            cameras=cameras[:256],
            sensors=self.sensors.health()[:1024],
            outbox=outbox,
            detector=detector,
            warnings=warnings[:MAX_WARNINGS],
            config_version=self.config_version,
            config_error=self.config_error,
        )
