"""Running a real edge node (no video) against the test broker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from contracts.site.models import EdgeNodeConfig
from edge.node import EdgeNode
from edge.settings import BrokerSettings, EdgeSettings, OutboxSettings
from gridwatch.broker import Mosquitto

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
