"""Edge outbox throughput through a real Mosquitto, against raw paho-mqtt in the same run.

Measures, alternating the runs so machine noise hits both alike:

- ``raw``: paho-mqtt publishing pre-encoded payloads at QoS 1 (MQTT 5, the
  uplink's protocol; also MQTT 3.1.1 for reference) until every PUBACK is in.
- ``outbox``: ``Outbox.emit`` of pre-built sensor readings (numbered, encoded,
  committed to SQLite), published at QoS 1 and deleted after each PUBACK; timed
  until the outbox is empty.
- ``replay``: messages queued while the broker is down, then the broker comes
  back; time from reconnect to an empty outbox, unlimited and at the shipped
  default rate bound.

Prints one JSON line. Usage: ``.venv/bin/python bench/outbox_throughput.py [--messages N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import Measurement, SensorReading, Unit, encode, topics
from edge.emit import Priority
from edge.outbox import Outbox
from edge.settings import BrokerSettings, OutboxSettings
from gridwatch.broker import Mosquitto

NODE = "node-bench"
TOPIC = topics.node_reading(NODE)


def readings(n: int) -> list[SensorReading]:
    return [
        SensorReading(
            source=NODE,
            seq=0,
            device_id="gas-bench-1",
            measurements=[Measurement(quantity="gas", value=i % 100, unit=Unit.PERCENT_LEL)],
        )
        for i in range(n)
    ]


def raw_paho(broker: Mosquitto, payloads: list[bytes], protocol: int) -> float:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=protocol
    )
    client.max_inflight_messages_set(0)  # paho's own limit is quadratic in the window; unlimited is fastest
    done = threading.Event()
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1
        if acked == len(payloads):
            done.set()

    client.on_publish = on_publish
    client.connect(broker.host, broker.port)
    client.loop_start()
    time.sleep(0.2)
    start = time.perf_counter()
    for p in payloads:
        client.publish(TOPIC, p, qos=1)
    if not done.wait(120):
        raise RuntimeError(f"raw paho: only {acked}/{len(payloads)} acknowledged")
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return len(payloads) / elapsed


def _outbox(broker: Mosquitto, work: Path, rate: float, settings: BrokerSettings | None = None) -> Outbox:
    shutil.rmtree(work, ignore_errors=True)
    return Outbox(
        NODE,
        work / "outbox.sqlite3",
        settings or BrokerSettings(host=broker.host, port=broker.port),
        OutboxSettings(publish_rate=rate, capacity=1_000_000),
    )


def _wait_empty(outbox: Outbox, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while outbox.store.depth:
        if time.monotonic() > deadline:
            raise RuntimeError(f"outbox still holds {outbox.store.depth} messages")
        time.sleep(0.002)


def outbox_sustained(broker: Mosquitto, work: Path, n: int, settings: BrokerSettings | None = None) -> float:
    """Messages per second through the outbox; ``settings``: another way to the broker (TLS)."""
    outbox = _outbox(broker, work, rate=0, settings=settings)
    outbox.start()
    if not outbox.uplink.connected.wait(15):
        raise RuntimeError(f"outbox did not connect: {outbox.uplink.stats.last_error}")
    messages = readings(n)
    start = time.perf_counter()
    for m in messages:
        outbox.emit(TOPIC, m, Priority.TELEMETRY)
    _wait_empty(outbox)
    elapsed = time.perf_counter() - start
    outbox.stop()
    return n / elapsed


def outbox_replay(broker: Mosquitto, work: Path, n: int, rate: float) -> float:
    broker.stop()
    outbox = _outbox(broker, work, rate=rate)
    outbox.start()
    for m in readings(n):
        outbox.emit(TOPIC, m, Priority.TELEMETRY)
    broker.start()
    if not outbox.uplink.connected.wait(60):
        raise RuntimeError("outbox did not reconnect")
    start = time.perf_counter()
    _wait_empty(outbox)
    elapsed = time.perf_counter() - start
    outbox.stop()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    payloads = [encode(m.model_copy(update={"seq": i + 1})) for i, m in enumerate(readings(args.messages))]
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    broker = Mosquitto(tmp / "broker").start()
    raw5, raw311, sustained, ratios = [], [], [], []
    try:
        for r in range(args.rounds):
            raw5.append(raw_paho(broker, payloads, mqtt.MQTTv5))
            raw311.append(raw_paho(broker, payloads, mqtt.MQTTv311))
            sustained.append(outbox_sustained(broker, tmp / f"ob-{r}", args.messages))
            ratios.append(sustained[-1] / raw5[-1])
        replay_unlimited = outbox_replay(broker, tmp / "replay", args.messages, rate=0)
        default_rate = OutboxSettings().publish_rate
        replay_bounded = outbox_replay(
            broker, tmp / "replay-bounded", int(default_rate * 3), rate=default_rate
        )
    finally:
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median
    print(
        json.dumps(
            {
                "bench": "edge_outbox",
                "messages": args.messages,
                "rounds": args.rounds,
                "payload_bytes": round(statistics.mean(len(p) for p in payloads)),
                "raw_paho_mqtt5_msg_s": round(med(raw5)),
                "raw_paho_mqtt311_msg_s": round(med(raw311)),
                "outbox_sustained_msg_s": round(med(sustained)),
                "outbox_vs_raw_mqtt5": round(med(ratios), 3),
                "replay_unlimited_msg_s": round(replay_unlimited),
                "replay_bounded_msg_s": round(replay_bounded),
                "replay_bound_msg_s": default_rate,
                "targets": {"sustained_msg_s": 5000, "vs_raw": 0.5},
            }
        )
    )


if __name__ == "__main__":
    main()
