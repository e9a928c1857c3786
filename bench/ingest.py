"""Gateway ingest benchmarks (issue 5): prints ONE JSON line of figures.

    .venv/bin/python bench/ingest.py [--messages 40000] [--quick] [--no-postgres] [--gateways 1,2]
                                     [--no-latency] [--hostile 0.01] [--code DIR] [--spy FILE]

Everything real and on this machine: a private Mosquitto, a private
VictoriaMetrics (telemetry through influxdb-client), the gateway as its own
process (the same ``Gateway`` that ``gridwatch gateway`` runs, plus a hook
that notes the time of each commit), SQLite or PostgreSQL.

- ``ceiling``: Mosquitto's own QoS 1 pass-through in this run — the same
  payloads from the same publishers to one paho MQTT 5 subscriber in a
  shared-subscription group that acknowledges each message and does nothing
  else, through the gateway's own (read-ahead) paho client: the gateway's
  receive path without the work. ``ceiling_plain_paho``: the same with paho's
  stock client (the ceiling of the figures before the read-ahead);
  ``ceiling_mosquitto_sub``: the same to Mosquitto's own C subscriber (``mosquitto_sub -q 1``);
- ``sqlite`` / ``postgres``: sustained messages/s from the first publish to
  the last commit *and* the last telemetry point written: half hazard events
  (40 places: a case each, then repeats folded into it), half sensor
  readings (to VictoriaMetrics); ``sqlite_2gw`` / ``postgres_2gw``: the same
  through two gateway processes sharing the subscription and the store
  (``--gateways``); ``cases``/``events_in_cases`` check exactly-once (40 cases,
  every event counted once); ``cpu_s_per_gateway``: CPU seconds per thread
  (``cpu_s_since_ready``: from the moment it was subscribed, without its start-up); ``--code
  DIR`` runs the gateway from another checkout (a same-run comparison by this same script);
  ``--spy FILE``: py-spy samples the one-gateway SQLite run's process (raw stacks to FILE; the
  batch loop's shares by ``bench/spy_shares.py FILE``);
- ``sqlite_hostile`` / ``postgres_hostile``: the same messages with a share
  (``--hostile``, 1 %) replaced by hostile ones — integers past BIGINT,
  coerced types, timestamps of year 1, 9999 or a day ahead, NUL in text, a
  source the site does not know, a node speaking for another node's device —
  each must be a dead letter; ``of_clean`` is the rate over the clean run's
  rate in the same run (the target is at least 0.8);
- ``latency_*``: a Python publisher at 500 messages/s (half of them hazard
  events) for 2 s of warm-up (the 40 cases open) and 10 s measured; per
  hazard event, publish → committed in the case store, p50/p99.

Publishers are ``mosquitto_pub`` processes (one per topic, the C client), so
the machine's cores go to the broker and the gateway rather than to a
Python publisher. ``load_before`` is the 1-minute load average when the run
started: other work on the machine lowers every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# --code DIR: the gateway (and the ceiling's client) from another checkout, for a same-run comparison
# measured by this script (the bench itself stays this one).
CODE = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else str(REPO)
sys.path.insert(0, CODE)

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from contracts import (  # noqa: E402
    ContractError,
    HazardEvent,
    Measurement,
    SensorReading,
    decode,
    encode,
    topics,
)
from gridwatch.broker import Mosquitto  # noqa: E402
from gridwatch.victoria import VictoriaMetrics  # noqa: E402

DEMO_SITE = REPO / "device_configs" / "demo_site"
NODES = ("node-bench-1", "node-bench-2", "node-bench-3", "node-bench-4")
PLACES = 40
PG_URL = os.environ.get("GRIDWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RUNNING: list[subprocess.Popen[bytes]] = []  # gateways to stop if the bench fails
_ID = re.compile(rb'"id":"([0-9a-f-]{36})"')


# -- the workload ------------------------------------------------------------------
def bench_site(workdir: Path) -> Path:
    """The demo site plus the bench's four edge nodes (the gateway admits only nodes it knows)."""
    site = workdir / "site"
    if not site.exists():
        shutil.copytree(DEMO_SITE, site)
        for node in NODES:
            (site / "nodes" / f"{node}.yaml").write_text(
                f"node: {{id: {node}, name: bench, location: {{lon: 120.3118, lat: 31.4958}}}}\n"
            )
    return site


# What an attacker or a broken source sends (issue 11), each a dead letter; cycled through.
HOSTILE: list[tuple[str, dict[str, object]]] = [
    ("seq_past_bigint", {"seq": 2**63}),
    ("seq_bool", {"seq": True}),
    ("version_list", {"schema_version": [1]}),
    ("year_1", {"ts": "0001-01-01T00:00:00+01:00"}),
    ("year_9999", {"ts": "9999-12-31T23:59:59Z"}),
    ("day_ahead", {"ts": "+1d"}),
    ("confidence_str", {"confidence": "0.5"}),
    ("nul_text", {"summary": "fire\u0000"}),
    ("unknown_source", {"source": "node-stranger"}),
    ("other_nodes_device", {"device_id": "smk-factory-a1"}),
]


def workload(n: int, hostile_share: float = 0.0) -> dict[str, list[bytes]]:
    """n messages, half hazard events and half readings, grouped by topic (one publisher each);
    with ``hostile_share``, that share of all messages (taken from the events) is hostile."""
    by_topic: dict[str, list[bytes]] = {}
    seq = dict.fromkeys(NODES, 0)
    ts = datetime.now(UTC)
    every = round(1 / hostile_share) if hostile_share else 0
    hostile = 0
    for i in range(n):
        node = NODES[i % len(NODES)]
        seq[node] += 1
        place = (i // 2) % PLACES
        common = {"source": node, "seq": seq[node], "ts": ts, "device_id": f"smk-bench-{place:03d}"}
        if i % 2 == 0:
            msg = HazardEvent(
                **common,
                hazard_type="smoke_alarm",
                severity="major",
                confidence=0.9,
                state="update",
                episode_id=f"ep-{place}",
                location={"lon": 120.28 + (place % 20) * 0.0055, "lat": 31.49 + (place // 20) * 0.0055},
            )
            topic = topics.node_event(node)
        else:
            msg = SensorReading(
                **common, measurements=[Measurement(quantity="smoke_density", value=(i % 100) / 100)]
            )
            topic = topics.node_reading(node)
        payload = encode(msg)
        if every and i % every == every // 2 and isinstance(msg, HazardEvent):
            _, changes = HOSTILE[hostile % len(HOSTILE)]
            hostile += 1
            doc = {**json.loads(payload), **changes}
            if doc["ts"] == "+1d":
                doc["ts"] = (ts + timedelta(days=1)).isoformat()
            topic = topics.node_event(str(doc["source"]))
            payload = json.dumps(doc).encode()
        by_topic.setdefault(topic, []).append(payload)
    return by_topic


def counts(by_topic: dict[str, list[bytes]]) -> tuple[int, int, int]:
    """(valid hazard events, readings, hostile messages) of a workload."""
    readings = sum(len(v) for t, v in by_topic.items() if t.endswith("/reading"))
    hostile = 0
    for topic, payloads in by_topic.items():
        if topic.endswith("/event"):
            for p in payloads:
                try:
                    decoded = decode(topic, p)
                    late = decoded.ts > datetime.now(UTC) + timedelta(minutes=5)
                    foreign = topics.parse(topic).owner not in NODES or decoded.device_id == "smk-factory-a1"  # type: ignore[union-attr]
                    hostile += late or foreign
                except ContractError:
                    hostile += 1
    total = sum(len(v) for v in by_topic.values())
    return total - readings - hostile, readings, hostile


def publish_with_mosquitto_pub(port: int, by_topic: dict[str, list[bytes]], workdir: Path) -> float:
    """Start one mosquitto_pub per topic at once; returns the start time (time.time())."""
    files = []
    for k, (topic, payloads) in enumerate(by_topic.items()):
        path = workdir / f"load-{k}.txt"
        path.write_bytes(b"\n".join(payloads) + b"\n")
        files.append((topic, path))
    started = time.time()
    procs = [
        subprocess.Popen(
            ["mosquitto_pub", "-p", str(port), "-q", "1", "-t", topic, "-l", "-M", "200", "-i", f"pub-{k}"],
            stdin=path.open("rb"),
        )
        for k, (topic, path) in enumerate(files)
    ]
    for p in procs:
        if p.wait(300) != 0:
            raise RuntimeError("mosquitto_pub failed")
    return started


# -- ceiling: pass-through with no work ------------------------------------------------
def ceiling(
    broker: Mosquitto, by_topic: dict[str, list[bytes]], workdir: Path, read_ahead: bool = True
) -> dict[str, float]:
    total = sum(len(v) for v in by_topic.values())
    got = 0
    last = 0.0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal got, last
        client.ack(msg.mid, msg.qos)
        got += 1
        last = time.time()
        if got == total:
            done.set()

    # The gateway's own receive path (its read-ahead paho client), or plain paho (the ceiling
    # of the figures before the read-ahead, kept for comparison).
    from gateway.ingest.paho_client import ReadAheadClient

    sub = (ReadAheadClient if read_ahead else mqtt.Client)(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="ceiling-sub",
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    sub.on_message = on_message
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.connect(broker.host, broker.port)
    sub.loop_start()
    sub.subscribe([(f, 1) for f in topics.gateway_subscriptions("ceiling")])
    assert subscribed.wait(10)
    started = publish_with_mosquitto_pub(broker.port, by_topic, workdir)
    if not done.wait(300):
        raise RuntimeError(f"ceiling: only {got} of {total} arrived")
    sub.disconnect()
    sub.loop_stop()
    return {"messages": total, "seconds": round(last - started, 3), "rate": round(total / (last - started))}


def ceiling_c(broker: Mosquitto, by_topic: dict[str, list[bytes]], workdir: Path) -> dict[str, float]:
    """The same pass-through to Mosquitto's own C client (``mosquitto_sub -q 1``, a shared
    subscription to the gateway's filters, acknowledging each message in libmosquitto): what the
    broker hands over when the receiver costs next to nothing — the third reference."""
    total = sum(len(v) for v in by_topic.values())
    filters = [a for f in topics.gateway_subscriptions("ceiling-c") for a in ("-t", f)]
    command = ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-V", "mqttv5"]
    command += ["-i", "ceiling-c", "-C", str(total), *filters]
    sub = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    RUNNING.append(sub)
    time.sleep(1.0)  # connected and subscribed (mosquitto_sub does not say when)
    started = publish_with_mosquitto_pub(broker.port, by_topic, workdir)
    if sub.wait(300) != 0:
        raise RuntimeError("mosquitto_sub failed")
    ended = time.time()
    RUNNING.remove(sub)
    return {"messages": total, "seconds": round(ended - started, 3), "rate": round(total / (ended - started))}


# -- the gateway, in its own process -------------------------------------------------
def gateway_role(args: argparse.Namespace) -> None:
    """Run the real Gateway; note when each batch committed; report at SIGTERM."""
    from gateway.service import Gateway
    from gateway.settings import GatewaySettings, MqttSettings
    from gateway.telemetry_influx import InfluxSettings

    settings = GatewaySettings(
        gateway_id=args.gateway_id,
        # Each run's gateways start afresh: a session left behind would keep receiving its share
        # of the next run's messages in the broker (queued for an absent member).
        session_expiry_s=0,
        site_dir=args.site,
        database_url=args.db,
        batch_max=args.batch_max,
        mqtt=MqttSettings(port=args.mqtt_port),
        influx=InfluxSettings(url=args.influx_url),
    )
    gw = Gateway(settings)
    commits: list[tuple[float, int]] = []
    committed_at: dict[str, float] = {}
    telemetry_done: list[float] = []
    telemetry_last: list[float] = []

    def hook(batch: list, _outcomes: list) -> None:
        now = time.time()
        commits.append((now, len(batch)))
        if args.ids:
            for m in batch:
                found = _ID.search(m.payload)
                if found:
                    committed_at[found.group(1).decode()] = now

    gw.pipeline.after_commit.append(hook)

    def watch_telemetry() -> None:
        # With several gateways each writes its share: note when this one last wrote a line.
        seen = 0
        while not telemetry_done:
            written = gw.telemetry.status().get("written_lines", 0)
            if written != seen:
                seen = written
                telemetry_last.append(time.time())
            if written >= args.expect_lines > 0:
                telemetry_done.append(time.time())
            time.sleep(0.005)

    cpu: dict[str, float] = {}

    def on_term(*_: object) -> None:
        cpu.update(thread_cpu())  # before the threads stop
        gw.stop()

    threading.Thread(target=watch_telemetry, daemon=True).start()
    signal.signal(signal.SIGTERM, on_term)
    ready = Path(args.out).with_suffix(".ready")
    cpu_at_ready: dict[str, float] = {}

    def on_ready() -> None:  # once the broker granted the subscriptions, not at CONNACK
        cpu_at_ready.update(thread_cpu())  # start-up (imports, migrations, site) is not the stream's
        ready.touch()

    gw.link.on_subscribed = on_ready
    gw.run()
    Path(args.out).write_text(
        json.dumps(
            {
                "commits": commits,
                "committed_at": committed_at,
                "telemetry_done": telemetry_done[0] if telemetry_done else None,
                "telemetry_last": telemetry_last[-1] if telemetry_last else None,
                "cpu_s": cpu,
                "cpu_s_since_ready": {k: round(v - cpu_at_ready.get(k, 0.0), 2) for k, v in cpu.items()},
                "batch_retries": batch_retries(),
                "telemetry": gw.telemetry.status(),
            }
        )
    )


def batch_retries() -> dict[str, int]:
    """Batches this gateway redid, by why (e.g. 'transient': a lock held by the other gateway)."""
    from gateway import metrics

    return {
        sample.labels["why"]: int(sample.value)
        for family in metrics.BATCH_RETRIES.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def thread_cpu() -> dict[str, float]:
    """CPU seconds per live thread of this process (Linux /proc), by thread name."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for t in threading.enumerate():
        try:
            fields = Path(f"/proc/self/task/{t.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        name = "paho" if t.name.startswith("paho") else t.name
        out[name] = round(out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick, 2)
    return out


def start_gateway(
    db: str,
    broker: Mosquitto,
    vm: VictoriaMetrics,
    out: Path,
    batch_max: int,
    expect_lines: int,
    ids: bool,
    gateway_id: str = "bench-gw",
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, __file__, "--role", "gateway", "--gateway-id", gateway_id,
        "--site", str(bench_site(out.parent)),
        "--db", db, "--mqtt-port", str(broker.port),
        "--influx-url", vm.url, "--out", str(out), "--batch-max", str(batch_max),
        "--expect-lines", str(expect_lines),
    ]  # fmt: skip
    if ids:
        cmd.append("--ids")
    if "--code" in sys.argv:
        cmd += ["--code", CODE]
    log = out.with_suffix(".log")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    ready = out.with_suffix(".ready")
    deadline = time.time() + 60
    while not ready.exists():
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"the gateway did not connect: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    RUNNING.append(proc)
    return proc


def stop_gateway(proc: subprocess.Popen[bytes], out: Path) -> dict:
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    RUNNING.remove(proc)
    if not out.exists():
        raise RuntimeError(f"the gateway left no report: {out.with_suffix('.log').read_text()[-2000:]}")
    return json.loads(out.read_text())


def throughput(
    db: str,
    broker: Mosquitto,
    vm: VictoriaMetrics,
    by_topic: dict[str, list[bytes]],
    workdir: Path,
    batch_max: int,
    gateways: int = 1,
    spy: Path | None = None,
) -> dict[str, object]:
    """All messages through ``gateways`` gateway processes sharing the subscription and the store
    (``spy``: py-spy samples the first one's process into that file)."""
    total = sum(len(v) for v in by_topic.values())
    events, lines, hostile = counts(by_topic)
    tag = uuid.uuid4().hex[:6]
    outs = [workdir / f"gw-{tag}-{k}.json" for k in range(gateways)]
    procs = [
        start_gateway(
            db, broker, vm, out, batch_max, lines if gateways == 1 else 0, ids=False,
            gateway_id=f"bench-gw-{k + 1}" if gateways > 1 else "bench-gw",
        )
        for k, out in enumerate(outs)
    ]  # fmt: skip
    spying = None
    if spy is not None:  # attached once subscribed: the samples are the stream's, not the start-up's
        command = [str(Path(sys.executable).with_name("py-spy")), "record", "--threads", "--nonblocking"]
        command += ["-r", "400", "-f", "raw", "-o", str(spy), "-p", str(procs[0].pid)]
        spying = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    started = publish_with_mosquitto_pub(broker.port, by_topic, workdir)
    # The gateways report at exit; meanwhile watch the store for the last case event.
    from sqlalchemy import create_engine, func, select

    from gateway.cases.models import Case
    from gateway.events.models import DeadLetter, EventRecord

    # Plain engine: the store's own SQLite engine begins IMMEDIATE (takes the write lock),
    # which a polling reader must not do to the gateway it is timing.
    engine = create_engine(db)
    deadline = time.time() + 600
    while True:
        with engine.connect() as conn:
            done = conn.execute(select(func.count()).select_from(EventRecord)).scalar_one()
            refused = conn.execute(select(func.count()).select_from(DeadLetter)).scalar_one()
        if done >= events and refused >= hostile:
            break
        if time.time() > deadline:
            raise RuntimeError(f"the gateway did not finish: {done} of {events} events")
        time.sleep(0.2)
    time.sleep(0.5)
    reports = [stop_gateway(proc, out) for proc, out in zip(procs, outs, strict=True)]
    if spying is not None:
        spying.wait(60)  # py-spy writes its file when the process it samples exits
    with engine.connect() as conn:  # exactly once: one case per place, every event counted in it once
        cases, folded = conn.execute(select(func.count(), func.sum(Case.event_count))).one()
        reasons = dict(
            conn.execute(select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)).all()
        )
    engine.dispose()
    processed = sum(n for r in reports for _, n in r["commits"])
    last_commit = max(r["commits"][-1][0] for r in reports if r["commits"])
    written = sum(r["telemetry"].get("written_lines") or 0 for r in reports)
    if gateways == 1:
        tele = reports[0]["telemetry_done"] or float("nan")
    else:  # each wrote its share; all were written when the last one wrote its last line
        tele = max(r["telemetry_last"] or 0.0 for r in reports) if written >= lines else float("nan")
    end = max(last_commit, tele)
    figures: dict[str, object] = {
        "messages": total,
        "processed": processed,
        "batch_max": batch_max,
        "batches": sum(len(r["commits"]) for r in reports),  # committed: how full they were on average
        "gateways": gateways,
        "seconds": round(end - started, 3),
        "rate": round(total / (end - started)),
        "cases_done_s": round(last_commit - started, 3),
        "telemetry_done_s": round(tele - started, 3),
        "telemetry_lines_written": written,
        "telemetry_dropped": sum(r["telemetry"].get("dropped_messages") or 0 for r in reports),
        "cases": cases,
        "events_in_cases": folded,
        "hostile": hostile,
        "dead_letters": reasons,
        "cpu_s_per_gateway": [r["cpu_s"] for r in reports],
        # the same from the moment the gateway was subscribed: without its start-up
        "cpu_s_since_ready": [r.get("cpu_s_since_ready", {}) for r in reports],
        "batch_retries": [r.get("batch_retries", {}) for r in reports],
    }
    return figures


def latency(
    db: str, broker: Mosquitto, vm: VictoriaMetrics, workdir: Path, rate: float, seconds: float, warmup: float
) -> dict[str, float]:
    """Publish at `rate` for warmup + seconds; quantiles over the measured part (and over all of it).

    The warm-up is when the 40 places open their cases (dispatch, SLA timers, escalation
    for the places nobody can reach); afterwards events fold into open cases, as they
    mostly do in a real site.
    """
    n = int(rate * (warmup + seconds))
    by_topic = workload(n)
    ordered = [(t, p) for t, ps in by_topic.items() for p in ps]
    ordered.sort(key=lambda tp: json.loads(tp[1])["seq"] * 10 + NODES.index(json.loads(tp[1])["source"]))
    out = workdir / f"gw-latency-{uuid.uuid4().hex[:6]}.json"
    proc = start_gateway(db, broker, vm, out, 200, 0, ids=True)
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="latency-pub")
    client.max_inflight_messages_set(65535)
    client.connect(broker.host, broker.port)
    client.loop_start()
    sent_at: dict[str, tuple[int, float]] = {}
    started = time.time()
    for i, (topic, payload) in enumerate(ordered):
        ahead = started + i / rate - time.time()
        if ahead > 0:
            time.sleep(ahead)
        found = _ID.search(payload)
        assert found
        if topic.endswith("/event"):
            sent_at[found.group(1).decode()] = (i, time.time())
        client.publish(topic, payload, qos=1)
    time.sleep(2)
    client.disconnect()
    client.loop_stop()
    report = stop_gateway(proc, out)
    missing = [i for i in sent_at if i not in report["committed_at"]]
    if missing:
        raise RuntimeError(f"latency: {len(missing)} of {len(sent_at)} events not committed")
    first_measured = int(rate * warmup)
    measured = sorted(
        (report["committed_at"][k] - t) * 1000 for k, (i, t) in sent_at.items() if i >= first_measured
    )
    everything = sorted((report["committed_at"][k] - t) * 1000 for k, (_, t) in sent_at.items())

    def q(samples: list[float], p: float) -> float:
        return round(samples[min(len(samples) - 1, int(p * len(samples)))], 1)

    return {
        "rate": rate,
        "seconds": seconds,
        "events": len(measured),
        "p50_ms": q(measured, 0.50),
        "p99_ms": q(measured, 0.99),
        "max_ms": round(measured[-1], 1),
        "warmup_s": warmup,
        "p99_ms_incl_warmup": q(everything, 0.99),
    }


def fresh_pg_schema() -> tuple[str, callable]:  # type: ignore[valid-type]
    from sqlalchemy import text

    from gateway.store.db import make_engine

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--role", default="bench")
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--batch-max", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="10,000 messages, 5 s of latency")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-latency", action="store_true", help="throughput runs only")
    parser.add_argument(
        "--hostile", type=float, default=0.01, help="share of hostile messages in the extra runs; 0: none"
    )
    parser.add_argument(
        "--gateways",
        default="1,2",
        help="gateway processes sharing the subscription and the store, one throughput run per count",
    )
    # gateway role
    parser.add_argument("--db")
    parser.add_argument("--mqtt-port", type=int)
    parser.add_argument("--influx-url")
    parser.add_argument("--out")
    parser.add_argument("--expect-lines", type=int, default=0)
    parser.add_argument("--ids", action="store_true")
    parser.add_argument("--gateway-id", default="bench-gw")
    parser.add_argument("--site")
    parser.add_argument("--code", help="run the gateway from this checkout (a same-run comparison)")
    parser.add_argument("--spy", type=Path, help="py-spy's raw samples of the one-gateway SQLite run")
    args = parser.parse_args()
    if args.role == "gateway":
        gateway_role(args)
        return
    n = 10_000 if args.quick else args.messages
    load_before = os.getloadavg()[0]
    figures: dict[str, object] = {
        "bench": "gateway_ingest",
        "cpus": os.cpu_count(),
        "load_before": load_before,
    }
    by_topic = workload(n)
    try:
        run(args, n, figures, by_topic)
    finally:
        for proc in RUNNING:
            proc.kill()
    ceiling_rate = figures["ceiling"]["rate"]  # type: ignore[index]
    for key, value in figures.items():
        if key.startswith(("sqlite", "postgres")):
            value["of_ceiling"] = round(value["rate"] / ceiling_rate, 2)  # type: ignore[index]
        if key.endswith("_hostile"):
            clean = figures[key.removesuffix("_hostile")]
            value["of_clean"] = round(value["rate"] / clean["rate"], 2)  # type: ignore[index]
    print(json.dumps(figures))


def run(
    args: argparse.Namespace, n: int, figures: dict[str, object], by_topic: dict[str, list[bytes]]
) -> None:
    counts = [int(c) for c in str(args.gateways).split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with Mosquitto(work / "broker") as broker, VictoriaMetrics(work / "vm") as vm:
            figures["ceiling"] = ceiling(broker, by_topic, work)
            figures["ceiling_plain_paho"] = ceiling(broker, workload(n), work, read_ahead=False)
            figures["ceiling_mosquitto_sub"] = ceiling_c(broker, workload(n), work)
            for k in counts:
                suffix = "" if k == 1 else f"_{k}gw"
                figures[f"sqlite{suffix}"] = throughput(
                    f"sqlite:///{work / f'bench-{k}.db'}", broker, vm, workload(n), work, args.batch_max, k,
                    spy=args.spy if k == 1 else None,
                )  # fmt: skip
                if not args.no_postgres:
                    url, drop = fresh_pg_schema()
                    try:
                        figures[f"postgres{suffix}"] = throughput(
                            url, broker, vm, workload(n), work, args.batch_max, k
                        )
                    finally:
                        drop()
            if args.hostile:  # same run, one gateway: the clean figures above are the reference
                hostile = workload(n, args.hostile)
                figures["sqlite_hostile"] = throughput(
                    f"sqlite:///{work / 'bench-hostile.db'}", broker, vm, hostile, work, args.batch_max
                )
                if not args.no_postgres:
                    url, drop = fresh_pg_schema()
                    try:
                        figures["postgres_hostile"] = throughput(
                            url, broker, vm, hostile, work, args.batch_max
                        )
                    finally:
                        drop()
            if args.no_latency:
                return
            seconds = 5 if args.quick else 10
            figures["latency_sqlite"] = latency(
                f"sqlite:///{work / 'latency.db'}", broker, vm, work, 500, seconds, warmup=2
            )
            if not args.no_postgres:
                url, drop = fresh_pg_schema()
                try:
                    figures["latency_postgres"] = latency(url, broker, vm, work, 500, seconds, warmup=2)
                finally:
                    drop()


if __name__ == "__main__":
    main()
