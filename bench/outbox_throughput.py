"""Edge outbox throughput through a real Mosquitto, against raw paho-mqtt in the same run.

Measures, alternating the runs so machine noise hits both alike:

- ``raw``: paho-mqtt publishing pre-encoded payloads at QoS 1 (MQTT 5, the
  uplink's protocol; also MQTT 3.1.1 for reference) until every PUBACK is in.
- ``outbox``: ``Outbox.emit`` of pre-built sensor readings (numbered, encoded,
  committed to SQLite), published at QoS 1 and deleted after each PUBACK; timed
  until the outbox is empty (the figure of the earlier runs, nobody subscribed).
- ``receipts``: hazard events with a gateway-like responder subscribed in its own
  process, answering with cumulative delivery receipts through the gateway's own
  ``ReceiptSender`` (at most one per 50 ms per node): ``raw_subscribed`` (raw paho
  to the same topic and subscriber), ``events_one_hop`` (receipts off: a row leaves
  on its PUBACK, as before) and ``events_receipted`` (receipts on: a row leaves on
  its receipt), each timed until every message is acknowledged or receipted.
  Events are written without the per-event fsync here, in both outbox runs, so that
  the figure is the receipts' cost, not the disk's.
- ``replay``: messages queued while the broker is down, then the broker comes
  back; time from reconnect to an empty outbox, unlimited and at the shipped
  default rate bound.
- ``gateway``: the real gateway (``gridwatch gateway``, SQLite, its own process):
  hazard events from one node at 500/s and then as fast as it goes, receipts on;
  per event, emit → PUBACK and emit → receipt (p50/p95), and receipt messages per
  1,000 events (counted by a subscriber on the receipt topic).

Prints one JSON line. Usage: ``.venv/bin/python bench/outbox_throughput.py [--messages N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from contracts import HazardEvent, Measurement, SensorReading, Unit, encode, topics  # noqa: E402
from contracts.clock import SystemClock  # noqa: E402
from contracts.delivery import merge_ranges  # noqa: E402
from edge.emit import Priority  # noqa: E402
from edge.outbox import Outbox  # noqa: E402
from edge.settings import BrokerSettings, OutboxSettings  # noqa: E402
from gridwatch.broker import Mosquitto  # noqa: E402

NODE = "node-bench"
TOPIC = topics.node_reading(NODE)
SITE = REPO / "device_configs" / "demo_site"


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


def events(n: int, node: str) -> list[HazardEvent]:
    """Smoke alarms from 40 places 520 m apart in the demo town (a case each, then repeats)."""
    return [
        HazardEvent(
            source=node,
            seq=0,
            hazard_type="smoke_alarm",
            severity="major",
            confidence=0.9,
            state="update",
            episode_id=f"ep-bench-{i % 40}",
            device_id=f"smk-bench-{i % 40:02d}",
            location={"lon": 120.28 + (i % 40 % 20) * 0.0055, "lat": 31.49 + (i % 40 // 20) * 0.0055},
            summary="outbox benchmark",
        )
        for i in range(n)
    ]


def raw_paho(broker: Mosquitto, payloads: list[bytes], protocol: int, topic: str = TOPIC) -> float:
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
        client.publish(topic, p, qos=1)
    if not done.wait(120):
        raise RuntimeError(f"raw paho: only {acked}/{len(payloads)} acknowledged")
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return len(payloads) / elapsed


def _outbox(
    broker: Mosquitto,
    work: Path,
    rate: float,
    node: str = NODE,
    connection: BrokerSettings | None = None,
    **settings: object,
) -> Outbox:
    shutil.rmtree(work, ignore_errors=True)
    return Outbox(
        node,
        work / "outbox.sqlite3",
        connection or BrokerSettings(host=broker.host, port=broker.port),
        OutboxSettings(**{"publish_rate": rate, "capacity": 1_000_000, "receipts": False, **settings}),  # type: ignore[arg-type]
    )


def _wait_empty(outbox: Outbox, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while outbox.store.depth:
        if time.monotonic() > deadline:
            raise RuntimeError(f"outbox still holds {outbox.store.depth} messages")
        time.sleep(0.002)


def outbox_sustained(broker: Mosquitto, work: Path, n: int, settings: BrokerSettings | None = None) -> float:
    """Messages per second through the outbox; ``settings``: another way to the broker (TLS)."""
    outbox = _outbox(broker, work, rate=0, connection=settings)
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


def outbox_events(broker: Mosquitto, work: Path, n: int, node: str, receipts: bool) -> float:
    """Hazard events until every one has left the outbox: on its PUBACK, or on its receipt."""
    outbox = _outbox(broker, work, rate=0, node=node, receipts=receipts, fsync_events=False)
    outbox.start()
    if not outbox.uplink.connected.wait(10):
        raise RuntimeError("outbox did not connect")
    topic = topics.node_event(node)
    messages = events(n, node)
    start = time.perf_counter()
    for m in messages:
        outbox.emit(topic, m, Priority.EVENT)
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


# -- the responder: receipts like a gateway's, without its store --------------------------------
def responder(port: int) -> None:
    """Subscribe to every node's events; answer with cumulative receipts (its own process)."""
    from gateway.ingest.receipts import ReceiptSender

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lock = threading.Lock()
    fresh: dict[str, list[int]] = defaultdict(list)
    received = 0

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal received
        data = json.loads(msg.payload)
        with lock:
            fresh[data["source"]].append(data["seq"])
            received += 1

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-responder", protocol=mqtt.MQTTv5
    )
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(f"{topics.ROOT}/node/+/event", qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    sender = ReceiptSender("bench-gateway", SystemClock())
    held: dict[str, list[tuple[int, int]]] = {}
    while not stop.wait(0.005):  # the gateway's loop: commit a batch, then flush due receipts
        with lock:
            batch = {s: seqs for s, seqs in fresh.items() if seqs}
            fresh.clear()
        for source, seqs in batch.items():
            held[source] = merge_ranges([*held.get(source, []), *((n, n) for n in seqs)])
            sender.offer({source: (topics.node_receipt(source), held[source])})
        sender.flush(client, True)
    client.loop_stop()
    print(json.dumps({"received": received, "receipts": sender.sent_total}), flush=True)


def start_responder(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--responder", str(port)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    time.sleep(1.5)  # imports and the SUBACK
    return proc


def stop_process(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    return out


# -- through the real gateway ------------------------------------------------------------------
def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class ReceiptCounter:
    def __init__(self, broker: Mosquitto, node: str) -> None:
        self.count = 0
        ready = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-count")
        self.client.on_connect = lambda c, *_: c.subscribe(topics.node_receipt(node), qos=1)
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = lambda *_: setattr(self, "count", self.count + 1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        ready.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def through_gateway(broker: Mosquitto, work: Path, n: int, rate: float, node: str) -> dict[str, float]:
    """Events from a receipting outbox to the real gateway: latencies, receipts per 1,000 events."""
    outbox = _outbox(broker, work / node, rate=0, node=node, receipts=True, fsync_events=False)
    emitted: dict[int, float] = {}
    settled: dict[str, dict[int, float]] = {"acked": {}, "receipted": {}}
    puback_at: dict[int, float] = {}

    def on_settled(how: str, positions: list[int]) -> None:
        now = time.perf_counter()
        for p in positions:
            settled[how][p] = now

    original = outbox.uplink._on_publish  # PUBACK times of the events (they stay for their receipt)
    outbox.uplink.on_settled = on_settled
    inflight_pos: dict[int, int] = {}

    def spy_publish(c: mqtt.Client, u: object, mid: int, rc: object, p: object) -> None:
        pos = inflight_pos.pop(mid, None)
        if pos is not None:
            puback_at.setdefault(pos, time.perf_counter())
        original(c, u, mid, rc, p)  # type: ignore[arg-type]

    outbox.uplink._on_publish = spy_publish  # type: ignore[method-assign]
    counter = ReceiptCounter(broker, node)
    outbox.start()
    if not outbox.uplink.connected.wait(10):
        raise RuntimeError("outbox did not connect")
    client = outbox.uplink.client
    assert client is not None
    original_publish = client.publish

    def tracking_publish(topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> object:
        info = original_publish(topic, payload, qos=qos, retain=retain)
        seq = json.loads(payload)["seq"]
        inflight_pos[info.mid] = seq  # one node, no telemetry: position == sequence number
        return info

    client.publish = tracking_publish  # type: ignore[method-assign]
    topic = topics.node_event(node)
    start = time.perf_counter()
    for i, m in enumerate(events(n, node), start=1):
        emitted[i] = time.perf_counter()
        outbox.emit(topic, m, Priority.EVENT)
        if rate:
            ahead = start + i / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    _wait_empty(outbox, timeout=600)
    elapsed = time.perf_counter() - start
    time.sleep(0.3)
    outbox.stop()
    counter.close()
    to_puback = [puback_at[p] - t for p, t in emitted.items() if p in puback_at]
    to_receipt = [settled["receipted"][p] - t for p, t in emitted.items() if p in settled["receipted"]]
    ms = 1000.0
    return {
        "events": n,
        "events_per_s": round(n / elapsed),
        "emit_to_puback_p50_ms": round(_percentile(to_puback, 0.5) * ms, 1),
        "emit_to_puback_p95_ms": round(_percentile(to_puback, 0.95) * ms, 1),
        "emit_to_receipt_p50_ms": round(_percentile(to_receipt, 0.5) * ms, 1),
        "emit_to_receipt_p95_ms": round(_percentile(to_receipt, 0.95) * ms, 1),
        "receipts_per_1000_events": round(counter.count / n * 1000, 1),
        "receipted": len(to_receipt),
    }


def gateway_runs(broker: Mosquitto, work: Path) -> dict[str, dict[str, float]]:
    log = (work / "gateway.log").open("wb")
    gateway = subprocess.Popen(
        [
            sys.executable, "-m", "gridwatch.cli", "gateway", "--site", str(SITE),
            "--db", f"sqlite:///{work / 'gw.db'}", "--mqtt-port", str(broker.port),
            "--gateway-id", "gw-bench", "--log-level", "WARNING",
        ],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "GRIDWATCH_HEARTBEAT_S": "1"},
    )  # fmt: skip
    try:
        time.sleep(6)  # start-up: migrations, site, subscriptions
        warm = through_gateway(broker, work, 400, 0, "node-bench-warm")  # the 40 cases open
        del warm
        steady = through_gateway(broker, work, 5000, 500, "node-bench-g1")
        burst = through_gateway(broker, work, 10_000, 0, "node-bench-g2")
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(30)
        log.close()
    return {"at_500_per_s": steady, "unbounded": burst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-gateway", action="store_true", help="skip the runs through the real gateway")
    parser.add_argument("--responder", type=int, help=argparse.SUPPRESS)  # internal: the responder role
    args = parser.parse_args()
    if args.responder:
        responder(args.responder)
        return
    logging.basicConfig(level=logging.ERROR)
    load_before = os.getloadavg()[0]
    payloads = [encode(m.model_copy(update={"seq": i + 1})) for i, m in enumerate(readings(args.messages))]
    raw_events = events(args.messages, "node-bench-raw")
    event_payloads = [encode(m.model_copy(update={"seq": i + 1})) for i, m in enumerate(raw_events)]
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    broker = Mosquitto(tmp / "broker").start()
    series: dict[str, list[float]] = defaultdict(list)
    responses = ""
    try:
        for r in range(args.rounds):
            series["raw5"].append(raw_paho(broker, payloads, mqtt.MQTTv5))
            series["raw311"].append(raw_paho(broker, payloads, mqtt.MQTTv311))
            series["sustained"].append(outbox_sustained(broker, tmp / f"ob-{r}", args.messages))
            series["ratio"].append(series["sustained"][-1] / series["raw5"][-1])
        responder_proc = start_responder(broker.port)
        try:
            for r in range(args.rounds):
                series["raw_sub"].append(
                    raw_paho(broker, event_payloads, mqtt.MQTTv5, topics.node_event("node-bench-raw"))
                )
                series["one_hop"].append(
                    outbox_events(broker, tmp / f"oh-{r}", args.messages, f"node-bench-h{r}", receipts=False)
                )
                series["receipted"].append(
                    outbox_events(broker, tmp / f"rc-{r}", args.messages, f"node-bench-r{r}", receipts=True)
                )
                series["receipted_vs_raw"].append(series["receipted"][-1] / series["raw_sub"][-1])
                series["receipted_vs_one_hop"].append(series["receipted"][-1] / series["one_hop"][-1])
        finally:
            responses = stop_process(responder_proc)
        replay_unlimited = outbox_replay(broker, tmp / "replay", args.messages, rate=0)
        default_rate = OutboxSettings().publish_rate
        replay_bounded = outbox_replay(
            broker, tmp / "replay-bounded", int(default_rate * 3), rate=default_rate
        )
        gateway = {} if args.no_gateway else gateway_runs(broker, tmp)
    finally:
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median
    responded = json.loads(responses.strip().splitlines()[-1]) if responses.strip() else {}
    print(
        json.dumps(
            {
                "bench": "edge_outbox",
                "messages": args.messages,
                "rounds": args.rounds,
                "load_before": round(load_before, 2),
                "payload_bytes": round(statistics.mean(len(p) for p in payloads)),
                "raw_paho_mqtt5_msg_s": round(med(series["raw5"])),
                "raw_paho_mqtt311_msg_s": round(med(series["raw311"])),
                "outbox_sustained_msg_s": round(med(series["sustained"])),
                "outbox_vs_raw_mqtt5": round(med(series["ratio"]), 3),
                "event_payload_bytes": round(statistics.mean(len(p) for p in event_payloads)),
                "raw_paho_mqtt5_subscribed_msg_s": round(med(series["raw_sub"])),
                "events_one_hop_msg_s": round(med(series["one_hop"])),
                "events_receipted_msg_s": round(med(series["receipted"])),
                "receipted_vs_raw_mqtt5": round(med(series["receipted_vs_raw"]), 3),
                "receipted_vs_one_hop": round(med(series["receipted_vs_one_hop"]), 3),
                "responder": responded,
                "replay_unlimited_msg_s": round(replay_unlimited),
                "replay_bounded_msg_s": round(replay_bounded),
                "replay_bound_msg_s": default_rate,
                "gateway": gateway,
                "targets": {"sustained_msg_s": 5000, "vs_raw": 0.5},
            }
        )
    )


if __name__ == "__main__":
    main()
