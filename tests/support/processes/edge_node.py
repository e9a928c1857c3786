"""Running a real edge node (no video) against the test broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from contracts.site.models import EdgeNodeConfig
from edge.node import EdgeNode
from edge.settings import BrokerSettings, EdgeSettings, OutboxSettings
from gridwatch.broker import Mosquitto
from tests.support.paths import REPO

HERE = {"lon": 120.3186, "lat": 31.4969}


def node_config(
    node_id: str, sensors: list[dict[str, Any]], cameras: list[dict[str, Any]] | None = None
) -> EdgeNodeConfig:
    return EdgeNodeConfig.model_validate(
        {
            "node": {"id": node_id, "location": HERE},
            "sensors": [{"location": HERE, **s} for s in sensors],
            "cameras": cameras or [],
        }
    )


def edge_settings(broker: Mosquitto, state_dir: Path, **outbox: Any) -> EdgeSettings:
    return EdgeSettings(
        state_dir=state_dir,
        uplink=BrokerSettings(host=broker.host, port=broker.port, keepalive_s=5),
        outbox=OutboxSettings(**{"publish_rate": 0, **outbox}),
        health_interval_s=3600,
    )


@contextmanager
def running_node(config: EdgeNodeConfig, settings: EdgeSettings, **kwargs: Any) -> Iterator[EdgeNode]:
    node = EdgeNode(config, settings, video=False, **kwargs)
    node.start()
    try:
        assert node.outbox.uplink.connected.wait(10), "node did not reach the broker"
        if node.bus.needed:
            assert node.bus.connected.wait(10), "node did not reach the sensor broker"
        yield node
    finally:
        node.stop()


@contextmanager
def edge_node(config: Path, broker: Mosquitto, state: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``EdgeNode`` as ``gridwatch edge run`` builds it (outbox, status, last will, health), alone."""
    events = state / "none.jsonl"
    events.parent.mkdir(parents=True, exist_ok=True)
    events.write_text("")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.processes.edge_driver",
            "--config",
            str(config),
            "--events",
            str(events),
            "--mqtt-port",
            str(broker.port),
            "--state-dir",
            str(state),
            "--status",
            str(state / "status.json"),
            "--health-interval",
            "0.5",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
