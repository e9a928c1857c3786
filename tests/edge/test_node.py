"""The edge node process: retained status and last will, periodic health, surviving SIGKILL,
a full outbox keeping hazard events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from contracts import EdgeHealth, HazardEvent, NodeStatus, topics
from edge.emit import Priority
from edge.outbox.store import OutboxStore
from gridwatch.broker import Mosquitto
from tests.support.brokers.edge_mqtt import DurableSubscriber, event_topic, hazard
from tests.support.devices.gas_detector import GasDetector
from tests.support.processes.edge_node import HERE, edge_settings, node_config, running_node
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def statuses(sub: DurableSubscriber) -> list[NodeStatus]:
    return [r.message for r in sub.messages(NodeStatus)]  # type: ignore[misc]


def start_node(config: Path, state: Path, broker: Mosquitto, log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "gridwatch.cli",
        "edge",
        "run",
        "--config",
        str(config),
        "--state-dir",
        str(state),
        "--mqtt-host",
        broker.host,
        "--mqtt-port",
        str(broker.port),
        "--publish-rate",
        "400",
        "--no-video",
    ]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log.open("ab"))


def test_sigkill_mid_publish_loses_nothing_and_the_last_will_says_offline(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    node = "node-k"
    config = tmp_path / f"{node}.yaml"
    config.write_text(yaml.safe_dump({"node": {"id": node, "location": HERE}}))
    state = tmp_path / "state"
    # Events the node queued before: its outbox holds them when the process starts.
    store = OutboxStore(state / node / "outbox.sqlite3", capacity=100_000)
    produced = []
    for i in range(3000):
        event = hazard(node, i)
        store.append(event_topic(node), event, Priority.EVENT)
        produced.append(event.id)
    store.close()

    sub = DurableSubscriber(mosquitto, f"gridwatch/v1/node/{node}/#", receipts=True)  # a gateway's receipts
    log = tmp_path / "node.log"
    proc = start_node(config, state, mosquitto, log)
    try:
        wait_until(lambda: len(sub.messages(HazardEvent)) >= 600, timeout=30, what="publishing under way")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        wait_until(lambda: statuses(sub) and statuses(sub)[-1].state == "offline", what="the last will")
        assert (
            statuses(sub)[0].state == "online" and statuses(sub)[-1].reason == "connection lost (last will)"
        )
        left = OutboxStore(state / node / "outbox.sqlite3", capacity=100_000)
        assert 0 < left.depth < 3000, "killed in the middle of publishing"
        left.close()

        proc = start_node(config, state, mosquitto, log)
        wait_until(
            lambda: len({r.message.id for r in sub.messages(HazardEvent)}) == 3000,
            timeout=60,
            what=f"all 3000 events after the restart (log: {log})",
        )
        assert statuses(sub)[-1].state == "online"
        firsts: dict[str, HazardEvent] = {}
        for r in sub.messages(HazardEvent):
            firsts.setdefault(r.message.id, r.message)  # type: ignore[arg-type]
        assert list(firsts) == produced, "every event once, in the order it was queued"
        assert [e.seq for e in firsts.values()] == list(range(1, 3001))
        duplicates = len(sub.messages(HazardEvent)) - 3000
        assert duplicates <= 500, "redelivery is bounded by the in-flight window"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        wait_until(lambda: statuses(sub)[-1].reason == "stopped", what="the goodbye")
        assert statuses(sub)[-1].state == "offline"
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()


def test_status_and_periodic_health_report_outbox_and_sensors(mosquitto: Mosquitto, tmp_path: Path) -> None:
    sensor = {
        "id": "smk-h",
        "kind": "smoke",
        "source": {"protocol": "zigbee2mqtt", "friendly_name": "hall_smoke"},
        "report_interval_s": 3600,
    }
    settings = edge_settings(mosquitto, tmp_path).model_copy(update={"health_interval_s": 0.5})
    sub = DurableSubscriber(mosquitto, "gridwatch/v1/node/node-h/#")
    try:
        with running_node(node_config("node-h", [sensor]), settings):
            wait_until(lambda: len(sub.messages(EdgeHealth)) >= 2, what="two health messages")
            online = statuses(sub)[0]
            assert online.state == "online" and online.started_at is not None and online.seq == 0
            health: EdgeHealth = sub.messages(EdgeHealth)[-1].message  # type: ignore[assignment]
            assert health.outbox is not None and health.outbox.capacity == 100_000
            assert [(s.device_id, s.state) for s in health.sensors] == [("smk-h", "ok")]
            assert health.uptime_s > 0
            assert sub.messages(EdgeHealth)[-1].topic == topics.node_health("node-h")
        wait_until(lambda: statuses(sub)[-1].state == "offline", what="goodbye on stop")
    finally:
        sub.close()


def test_full_outbox_during_an_outage_keeps_hazard_events_and_health_warns(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    detector = GasDetector().start()
    sensor = {
        "id": "gas-f",
        "kind": "combustible_gas",
        "report_interval_s": 60,
        "source": {
            "protocol": "modbus_tcp",
            "host": "127.0.0.1",
            "port": detector.port,
            "value": {"address": 0, "scale": 0.1, "unit": "%LEL"},
            "poll_interval_s": 0.05,
            "timeout_s": 0.3,
            "retries": 0,
        },
    }
    settings = edge_settings(mosquitto, tmp_path, capacity=10)
    sub = DurableSubscriber(mosquitto, "gridwatch/v1/node/node-f/#")
    try:
        with running_node(node_config("node-f", [sensor]), settings) as node:
            mosquitto.stop()
            for i in range(30):  # readings change at every poll: telemetry piles up
                detector.set(lel=1 + i / 10)
                time.sleep(0.06)
            detector.set(lel=30.0)  # a leak while the uplink is down
            wait_until(lambda: node.outbox.store.count_by_priority().get(Priority.EVENT), what="event queued")
            for i in range(20):
                detector.set(lel=30 + i / 10)
                time.sleep(0.06)
            counts = node.outbox.store.count_by_priority()
            assert counts[Priority.EVENT] == 1 and sum(counts.values()) <= 10
            health = node.health()
            assert health.outbox is not None and health.outbox.evicted_total > 0
            assert any("100% full" in w for w in health.warnings), health.warnings
            assert any("evicted" in w for w in health.warnings)

            mosquitto.start()
            wait_until(lambda: sub.messages(HazardEvent), timeout=20, what="the leak after the outage")
            leak = sub.messages(HazardEvent)[0].message
            assert leak.hazard_type == "gas_leak" and leak.state == "new"  # type: ignore[union-attr]
    finally:
        sub.close()
        detector.close()


def test_bad_node_file_is_a_clear_error_from_the_cli(tmp_path: Path) -> None:
    config = tmp_path / "node-x.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "node": {"id": "node-x", "location": HERE},
                "sensors": [
                    {
                        "id": "gas-x",
                        "kind": "combustible_gas",
                        "location": HERE,
                        "source": {"protocol": "modbus_tcp", "value": {"address": 0}},
                    }
                ],
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "gridwatch.cli", "edge", "run", "--config", str(config), "--no-video"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 2
    assert "sensors" in done.stderr and "modbus_tcp needs 'host'" in done.stderr
