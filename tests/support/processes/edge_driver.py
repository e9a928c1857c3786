"""A real edge node process that emits the hazard events a test gives it.

The node is :class:`edge.node.EdgeNode` as ``gridwatch edge run`` builds it — outbox,
uplink, receipts, status and last will, periodic health — with no sensors or cameras;
instead this script feeds it the events listed in a JSON-lines file (what the test asked
the edge to send), at a steady rate, through the node's own emitter. It writes the
outbox's health to a status file twice a second and stops cleanly on SIGTERM. With ``--go``
it starts emitting only once that file exists (the test starts it while the gateway starts).

    python -m tests.system.edge_driver --config node.yaml --events events.jsonl \
        --mqtt-port 1883 --state-dir var/edge --rate 600 --status status.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from pathlib import Path

from contracts import HazardEvent, topics
from contracts.logs import setup_logging
from contracts.site import load_node_config
from edge.emit import Priority
from edge.node import EdgeNode
from edge.settings import BrokerSettings, EdgeSettings, OutboxSettings


def write_status(path: Path, node: EdgeNode, emitted: int, done: bool) -> None:
    health, warnings = node.outbox.health()
    status = {
        "emitted": emitted,
        "done": done,
        "connected": node.outbox.uplink.stats.connected,
        "warnings": warnings,
        **health.model_dump(mode="json"),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status))
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--status", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=600, help="events emitted per second")
    parser.add_argument("--publish-rate", type=float, default=OutboxSettings().publish_rate)
    parser.add_argument("--health-interval", type=float, default=1.0)
    parser.add_argument("--go", type=Path, help="start emitting once this file exists")
    args = parser.parse_args()
    setup_logging("WARNING")
    config = load_node_config(args.config)
    node_id = config.node.id
    settings = EdgeSettings(
        state_dir=args.state_dir,
        uplink=BrokerSettings(port=args.mqtt_port, keepalive_s=5),
        # No fsync per event: these tests break the broker and the gateway, not the power.
        outbox=OutboxSettings(fsync_events=False, publish_rate=args.publish_rate),
        health_interval_s=args.health_interval,
    )
    node = EdgeNode(config, settings, video=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    node.start()
    while args.go and not args.go.exists() and not stop.wait(0.02):
        write_status(args.status, node, 0, False)
    topic = topics.node_event(node_id)
    lines = args.events.read_text().splitlines()
    emitted = 0
    started = time.monotonic()
    next_status = 0.0
    for line in lines:
        if stop.is_set():
            break
        # Numbered by the outbox, timestamped now by the node: as a real node makes its events.
        event = HazardEvent.model_validate({**json.loads(line), "source": node_id, "seq": 0})
        node.outbox.emit(topic, event, Priority.EVENT)
        emitted += 1
        ahead = started + emitted / args.rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        if time.monotonic() >= next_status:
            write_status(args.status, node, emitted, False)
            next_status = time.monotonic() + 0.5
    while not stop.wait(0.5):
        write_status(args.status, node, emitted, True)
    node.stop()


if __name__ == "__main__":
    main()
