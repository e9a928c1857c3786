"""Command-centre console live feed (issue 13): prints ONE JSON line of figures.

    flock /work/bench.lock .venv/bin/python bench/console_live.py    # ~2 min
        [--consoles 50] [--rate 200] [--burst 10000] [--rounds 5] [--quiet-s 8] [--py-spy PATH]

Everything real, on this machine, each in its own process: a private Mosquitto and
VictoriaMetrics, the gateway (the same ``Gateway`` that ``gridwatch gateway`` runs, through
bench/ingest.py's gateway role, which notes the time of each commit and the ids it held),
``gridwatch api`` (uvicorn) on a SQLite store, and the consoles.

- **Consoles**: 50 operators, each signed in through ``POST /api/v1/auth/sign-in`` (the
  shipped argon2 cost) and holding ``GET /api/v1/live`` open with the session cookie, as the
  console page does; one asyncio process reads all 50 streams and notes, per update, when it
  arrived, which case (by device) and the case's event count. They are HTTP clients, not
  browsers: what is measured is the product's side (change log → hub → 50 streams).
- **Changes at 200/s**: 200 cameras' ``illegal_workshop`` alarms (200 open cases, opened
  before the measurement) each clear and come back once a second, published over MQTT as
  edge nodes would: every event is a change a person notices (``source_cleared_at`` and the
  case's trail), committed by the gateway. The k-th change of a place is the one that brings
  its case to event count k + 1, so a console has seen it once it got an update of that case
  with that count or more.
- **Delivery and latency** are computed from what the gateway committed (its commit times of
  the bench's own event ids): every change committed while the consoles were connected (up to
  2 s before they close) must reach every console; latency = arrival at a console − the
  gateway's commit, p50/p99 over all (change, console) pairs, also split into quiet time and
  time under an ingest burst. ``live_1_console``: the same with one console open (quiet time,
  before the 50 connect): the delay of the path itself on this machine, without the fan-out.
  The store is checked afterwards: every case holds exactly the events the bench sent it.
- **Ingest with and without consoles**: while the changes go on, bursts of ``--burst``
  messages (half ``occupied_factory_dorm`` events folding into 40 other open cases, half
  sensor readings to VictoriaMetrics, ``mosquitto_pub`` per topic) are timed from the first
  publish to the gateway's last commit of them, alternating without / with the 50 consoles
  (AB BA AB BA AB: a drift over the run hits both alike; the consoles connect 2 s before their
  burst and close 2 s after it). ``with_vs_without``: ratio of the mean rates; also the
  median of the rounds' ratios. ``gateway_cpu_us_per_msg``: the gateway process's CPU per burst
  message in each; ``api_cpu_share``: the API process's CPU (cores) in each.

``load_before``/``load_after``: 1-minute load average (the machine is shared; compare the
ratios of one run, not absolute figures across runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from bench import ingest  # noqa: E402
from contracts import HazardEvent, Measurement, SensorReading, Unit, encode, topics  # noqa: E402
from gridwatch.broker import Mosquitto, free_port, wait_for_port  # noqa: E402
from gridwatch.victoria import VictoriaMetrics  # noqa: E402

LIVE_NODES = tuple(f"node-live-{k}" for k in range(1, 5))  # the changing cases' edge nodes
BURST_NODES = tuple(f"node-burst-{k}" for k in range(1, 5))  # the ingest bursts' edge nodes
BURST_PLACES = 40
# Camera-detected emergencies whose first SLA deadline (centre_accept, 300 s) lies beyond the
# run: their offers and escalations happen at the warm-up, so no timer of 240 cases fires in
# the middle of a timed burst (smoke alarms' 60 s worker_accept did, and hit only the middle).
CHANGING = "illegal_workshop"  # production seen at night: it stops and starts again
FOLDING = "occupied_factory_dorm"
PASSWORD = "console-bench-password-1"
_DEVICE = re.compile(r'"device_id":"([^"]+)"')
_COUNT = re.compile(r'"event_count":(\d+)')


# -- the site and its people ------------------------------------------------------------
def make_site(work: Path) -> Path:
    """The demo site plus the bench's edge nodes (the gateway admits only nodes it knows)."""
    site = work / "site"  # where bench/ingest.py's gateway role looks (bench_site)
    shutil.copytree(ingest.DEMO_SITE, site)
    for node in LIVE_NODES + BURST_NODES:
        (site / "nodes" / f"{node}.yaml").write_text(
            f"node: {{id: {node}, name: bench, location: {{lon: 120.3118, lat: 31.4958}}}}\n"
        )
    return site


def add_operators(db: str, n: int) -> list[str]:
    """n whole-site operators with a chosen password (one argon2 hash at the shipped cost)."""
    from gateway.people import service
    from gateway.people.models import Role
    from gateway.people.passwords import Passwords
    from gateway.schema.migrate import upgrade
    from gateway.store.db import make_engine, session_factory

    engine = make_engine(db)
    upgrade(engine)
    digest = Passwords().hash(PASSWORD)
    ids = [f"op-bench-{k:02d}" for k in range(1, n + 1)]
    with session_factory(engine)() as session, session.begin():
        for person_id in ids:
            spec = service.PersonSpec(person_id, person_id, (Role.OPERATOR,), ("s-qingshan",), "", None, None)
            person = service.add_person(session, spec, "bench", datetime.now(UTC), digest)
            person.must_change_password = False
    engine.dispose()
    return ids


def sign_in_all(base: str, ids: list[str]) -> list[str]:
    """Each operator signs in as the page does; returns their access cookies."""
    cookies = []
    with httpx.Client(base_url=base, timeout=60) as http:
        for person_id in ids:
            r = http.post("/api/v1/auth/sign-in", json={"username": person_id, "password": PASSWORD})
            r.raise_for_status()
            cookies.append(r.cookies["gw_access"])
            http.cookies.clear()
    return cookies


# -- the changes: 200 places clearing and coming back ---------------------------------------
class Places:
    """The changing cases' places, their nodes' sequence numbers and what was sent to each."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seq = dict.fromkeys(LIVE_NODES, 0)
        self.sent: dict[str, tuple[int, int]] = {}  # event id -> (place, k: the place's k-th change)
        self.changes = [0] * n  # changes sent per place

    @staticmethod
    def device(place: int) -> str:
        return f"cam-live-{place:03d}"

    def event(self, place: int, state: str) -> tuple[str, bytes, str]:
        node = LIVE_NODES[place % len(LIVE_NODES)]
        self.seq[node] += 1
        event = HazardEvent(
            source=node,
            seq=self.seq[node],
            ts=datetime.now(UTC),
            hazard_type=CHANGING,
            severity="major",
            confidence=0.9,
            state=state,
            episode_id=f"ep-live-{place}",
            device_id=self.device(place),
            # 20 × 10 places 550 m apart (beyond the correlation radius: a case each)
            location={"lon": 120.20 + (place % 20) * 0.0055, "lat": 31.44 + (place // 20) * 0.0055},
        )
        return topics.node_event(node), encode(event), event.id

    def opening(self) -> list[tuple[str, bytes]]:
        return [self.event(p, "new")[:2] for p in range(self.n)]

    def next_change(self, i: int) -> tuple[str, bytes]:
        place = i % self.n
        k = self.changes[place] + 1
        # odd: the alarm clears; even: it comes back (each moves source_cleared_at and the trail)
        topic, payload, event_id = self.event(place, "clear" if k % 2 else "update")
        self.changes[place] = k
        self.sent[event_id] = (place, k)
        return topic, payload


class Changer(threading.Thread):
    """Publishes one change every 1/rate s until stopped (QoS 1, one MQTT client for the nodes)."""

    def __init__(self, broker: Mosquitto, places: Places, rate: float) -> None:
        super().__init__(name="changer", daemon=True)
        self.places = places
        self.rate = rate
        self.stopping = threading.Event()
        self.published = 0
        self.started_at = 0.0
        self.stopped_at = 0.0
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-changer")
        self.client.max_inflight_messages_set(1000)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def run(self) -> None:
        self.started_at = time.time()
        i = 0
        while not self.stopping.is_set():
            ahead = self.started_at + i / self.rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
            topic, payload = self.places.next_change(i)
            self.client.publish(topic, payload, qos=1)
            i += 1
        self.published = i
        self.stopped_at = time.time()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        time.sleep(0.5)  # the last PUBACKs
        self.client.disconnect()
        self.client.loop_stop()


# -- ingest bursts ---------------------------------------------------------------------------
class Bursts:
    """Bursts of half hazard events (folding into 40 open cases: no change a person sees) and
    half sensor readings, numbered on from burst to burst."""

    def __init__(self) -> None:
        self.seq = dict.fromkeys(BURST_NODES, 0)
        self.events_sent = 0

    def messages(self, n: int, opening: bool = False) -> dict[str, list[bytes]]:
        by_topic: dict[str, list[bytes]] = {}
        ts = datetime.now(UTC)
        for i in range(n):
            node = BURST_NODES[i % len(BURST_NODES)]
            self.seq[node] += 1
            place = (i // 2) % BURST_PLACES
            common = {"source": node, "seq": self.seq[node], "ts": ts, "device_id": f"cam-burst-{place:02d}"}
            if opening or i % 2 == 0:
                msg: HazardEvent | SensorReading = HazardEvent(
                    **common,
                    hazard_type=FOLDING,
                    severity="major",
                    confidence=0.9,
                    state="new" if opening else "update",
                    episode_id=f"ep-burst-{place}",
                    location={"lon": 120.40 + (place % 10) * 0.0055, "lat": 31.40 + (place // 10) * 0.0055},
                )
                topic = topics.node_event(node)
                self.events_sent += 1
            else:
                msg = SensorReading(
                    **common,
                    measurements=[Measurement(quantity="gas", value=(i % 100) / 10, unit=Unit.PERCENT_LEL)],
                )
                topic = topics.node_reading(node)
            by_topic.setdefault(topic, []).append(encode(msg))
        return by_topic


def ids_of(by_topic: dict[str, list[bytes]]) -> list[str]:
    return [m.group(1).decode() for ps in by_topic.values() for p in ps if (m := ingest._ID.search(p))]


def burst_events_stored(db: str) -> int:
    from sqlalchemy import create_engine, func, select

    from gateway.cases.models import Case

    engine = create_engine(db)  # a plain reader: takes no write lock from the gateway it times
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.coalesce(func.sum(Case.event_count), 0)).where(Case.hazard_type == FOLDING)
                ).scalar_one()
            )
    finally:
        engine.dispose()


def cases_stored(db: str) -> int:
    from sqlalchemy import create_engine, func, select

    from gateway.cases.models import Case

    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Case)).scalar_one())
    finally:
        engine.dispose()


def run_burst(broker: Mosquitto, bursts: Bursts, n: int, db: str, work: Path) -> dict[str, object]:
    by_topic = bursts.messages(n)
    expected = bursts.events_sent
    started = ingest.publish_with_mosquitto_pub(broker.port, by_topic, work)
    deadline = time.time() + 120
    while burst_events_stored(db) < expected:
        if time.time() > deadline:
            raise RuntimeError("a burst did not finish in 120 s")
        time.sleep(0.1)
    time.sleep(1.0)  # its last readings (telemetry batches behind the events)
    return {"started": started, "ids": ids_of(by_topic), "messages": n}


# -- the consoles, in their own process ---------------------------------------------------
async def _console(
    host: str,
    port: int,
    cookie: str,
    seen: list[tuple[float, str, int]],
    hello: asyncio.Event,
    notes: dict[str, int],
) -> None:
    """One console's stream: notes each case update's arrival, device and event count."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"GET /api/v1/live HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
            f"Cookie: gw_access={cookie}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"the live feed answered {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass  # headers; the body is chunked
    buffer = ""
    while True:
        size_line = await reader.readline()
        if not size_line:
            notes["closed"] = notes.get("closed", 0) + 1
            return
        size = int(size_line.strip() or b"0", 16)
        if size == 0:
            notes["closed"] = notes.get("closed", 0) + 1
            return
        chunk = await reader.readexactly(size + 2)
        now = time.time()
        buffer += chunk[:-2].decode()
        *events, buffer = buffer.split("\n\n")
        for text in events:
            if "event: case" in text:
                device, count = _DEVICE.search(text), _COUNT.search(text)
                if device and count:
                    seen.append((now, device.group(1), int(count.group(1))))
            elif "event: hello" in text:
                hello.set()
            elif "event: reset" in text:
                notes["reset"] = notes.get("reset", 0) + 1


def consoles_role(args: argparse.Namespace) -> None:
    cookies = json.loads(Path(args.cookies).read_text())
    seen: list[list[tuple[float, str, int]]] = [[] for _ in cookies]
    notes: dict[str, int] = {}
    host, port = args.api.removeprefix("http://").split(":")

    async def main() -> None:
        hellos = [asyncio.Event() for _ in cookies]
        tasks = [
            asyncio.create_task(_console(host, int(port), c, seen[k], hellos[k], notes))
            for k, c in enumerate(cookies)
        ]
        await asyncio.wait_for(asyncio.gather(*(h.wait() for h in hellos)), 60)
        Path(args.out).with_suffix(".ready").write_text(str(time.time()))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        for t in tasks:
            if t.done() and t.exception():
                notes["failed"] = notes.get("failed", 0) + 1
            t.cancel()

    asyncio.run(main())
    cpu = os.times()
    Path(args.out).write_text(json.dumps({"seen": seen, "notes": notes, "cpu_s": cpu.user + cpu.system}))


def start_consoles(api: str, cookies: list[str], work: Path) -> tuple[subprocess.Popen[bytes], Path, float]:
    out = work / f"consoles-{uuid.uuid4().hex[:6]}.json"
    cookie_file = out.with_suffix(".cookies")
    cookie_file.write_text(json.dumps(cookies))
    proc = subprocess.Popen(
        [sys.executable, __file__, "--role", "consoles", "--api", api, "--cookies", str(cookie_file),
         "--out", str(out)],
        cwd=REPO, stderr=out.with_suffix(".log").open("wb"),
    )  # fmt: skip
    ready = out.with_suffix(".ready")
    deadline = time.time() + 60
    while not ready.exists():
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"the consoles did not connect: {out.with_suffix('.log').read_text()[-2000:]}")
        time.sleep(0.05)
    return proc, out, float(ready.read_text())


def stop_consoles(proc: subprocess.Popen[bytes], out: Path) -> dict:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    return json.loads(out.read_text())


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- figures ---------------------------------------------------------------------------------
def quantile(samples: list[float], p: float) -> float:
    return round(samples[min(len(samples) - 1, int(p * len(samples)))], 1) if samples else float("nan")


def delivery(
    places: Places,
    committed_at: dict[str, float],
    windows: list[tuple[dict, tuple[float, float]]],
    bursts: list[tuple[float, float]],
) -> dict[str, object]:
    """Every change committed while consoles were open, against every console's record of it."""
    expected = 0
    consoles = 0
    quiet: list[float] = []
    busy: list[float] = []
    missing = 0
    for seen, (w0, w1) in windows:
        changes = [
            (committed_at[eid], place, k)
            for eid, (place, k) in places.sent.items()
            if eid in committed_at and w0 <= committed_at[eid] <= w1
        ]
        consoles = max(consoles, len(seen["seen"]))
        expected += len(changes) * len(seen["seen"])
        for record in seen["seen"]:
            # per device, in arrival order: the first arrival with count ≥ k + 1 brought change k
            by_device: dict[str, list[tuple[float, int]]] = {}
            for t, device, count in record:
                by_device.setdefault(device, []).append((t, count))
            for committed, place, k in changes:
                arrivals = by_device.get(places.device(place), [])
                at = next((t for t, count in arrivals if count >= k + 1), None)
                if at is None:
                    missing += 1
                    continue
                in_burst = any(b0 <= committed <= b1 for b0, b1 in bursts)
                (busy if in_burst else quiet).append((at - committed) * 1000)
    everything = sorted(quiet + busy)
    quiet.sort()
    busy.sort()
    return {
        "consoles": consoles,
        "windows": len(windows),
        "expected_deliveries": expected,
        "delivered": len(everything),
        "missing": missing,
        "p50_ms": quantile(everything, 0.5),
        "p99_ms": quantile(everything, 0.99),
        "max_ms": round(everything[-1], 1) if everything else None,
        "quiet": {"samples": len(quiet), "p50_ms": quantile(quiet, 0.5), "p99_ms": quantile(quiet, 0.99)},
        "under_burst": {"samples": len(busy), "p50_ms": quantile(busy, 0.5), "p99_ms": quantile(busy, 0.99)},
    }


def store_check(db: str, places: Places) -> dict[str, int]:
    """Every changing case holds exactly its opening event and the changes the bench sent it."""
    from sqlalchemy import create_engine, select

    from gateway.cases.models import Case

    engine = create_engine(db)
    with engine.connect() as conn:
        rows = dict(
            conn.execute(select(Case.device_id, Case.event_count).where(Case.hazard_type == CHANGING)).all()
        )
    engine.dispose()
    wrong = sum(rows.get(places.device(p)) != 1 + places.changes[p] for p in range(places.n))
    return {"cases": len(rows), "cases_wrong": wrong, "changes_sent": sum(places.changes)}


# -- the run ---------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, object]:
    figures: dict[str, object] = {
        "bench": "console_live",
        "cpus": os.cpu_count(),
        "load_before": round(os.getloadavg()[0], 2),
        "consoles": args.consoles,
        "change_rate": args.rate,
        "burst_messages": args.burst,
    }
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        site = make_site(work)
        db = f"sqlite:///{work / 'store.db'}"
        ids = add_operators(db, args.consoles)
        with Mosquitto(work / "broker") as broker, VictoriaMetrics(work / "vm") as vm:
            out = work / "gw.json"
            gateway = ingest.start_gateway(db, broker, vm, out, 500, 0, ids=True, gateway_id="bench-gw")
            port = free_port()
            api_log = (work / "api.log").open("wb")
            api = subprocess.Popen(
                [str(REPO / ".venv" / "bin" / "gridwatch"), "api", "--site", str(site), "--db", db,
                 "--port", str(port), "--log-level", "WARNING"],
                cwd=REPO, stdout=api_log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                wait_for_port("127.0.0.1", port, 60)
                base = f"http://127.0.0.1:{port}"
                t = time.time()
                cookies = sign_in_all(base, ids)
                figures["sign_in_s_each"] = round((time.time() - t) / len(ids), 3)

                # warm-up: the 200 changing cases and the bursts' 40 open (dispatch, escalation)
                places = Places(args.places)
                bursts = Bursts()
                client = mqtt.Client(
                    callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-opener"
                )
                client.connect(broker.host, broker.port)
                client.loop_start()
                for topic, payload in places.opening():
                    client.publish(topic, payload, qos=1)
                for topic, payloads in bursts.messages(BURST_PLACES * 2, opening=True).items():
                    for payload in payloads:
                        client.publish(topic, payload, qos=1)
                deadline = time.time() + 120
                while cases_stored(db) < args.places + BURST_PLACES:
                    if time.time() > deadline:
                        raise RuntimeError("the warm-up cases did not open in 120 s")
                    time.sleep(0.2)
                client.disconnect()
                client.loop_stop()
                time.sleep(2)

                changer = Changer(broker, places, args.rate)
                changer.start()
                time.sleep(2)
                # one console first: the same path with no fan-out, for the machine's own delay
                one, one_out, one_ready = start_consoles(base, cookies[:1], work)
                procs.append(one)
                time.sleep(args.quiet_s)
                one_closing = time.time()
                alone = stop_consoles(one, one_out)
                procs.remove(one)
                # then bursts without and with the consoles, alternating (AB BA AB ...), the
                # consoles connected from 2 s before their burst to 2 s after it
                runs: list[tuple[str, dict[str, object]]] = []
                windows: list[tuple[list, tuple[float, float]]] = []  # (what each console saw, when)
                cpu = {"with": [0.0, 0.0], "without": [0.0, 0.0]}  # API CPU seconds, wall seconds
                order = [
                    k for r in range(args.rounds) for k in (("without", "with"), ("with", "without"))[r % 2]
                ]
                for n, kind in enumerate(order):
                    cpu_at, wall_at = process_cpu_s(api.pid), time.time()
                    if kind == "with":
                        consoles, consoles_out, ready_at = start_consoles(base, cookies, work)
                        procs.append(consoles)
                        if args.py_spy and n == 1:  # where the API's time goes with the consoles open
                            spy = subprocess.Popen(
                                [args.py_spy, "record", "--pid", str(api.pid), "--format", "raw",
                                 "--rate", "200", "--duration", "6", "--nonblocking", "-o",
                                 str(Path(args.py_spy_out).resolve())],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            )  # fmt: skip
                            procs.append(spy)
                    time.sleep(args.quiet_s if n == 1 else 2)  # the first with: a longer quiet time
                    gw_cpu = process_cpu_s(gateway.pid)
                    runs.append((kind, run_burst(broker, bursts, args.burst, db, work)))
                    runs[-1][1]["gateway_cpu_s"] = process_cpu_s(gateway.pid) - gw_cpu
                    time.sleep(2)
                    if kind == "with":
                        closing = time.time()
                        seen = stop_consoles(consoles, consoles_out)
                        procs.remove(consoles)
                        windows.append((seen, (ready_at + 0.5, closing - 2.0)))
                    cpu[kind][0] += process_cpu_s(api.pid) - cpu_at
                    cpu[kind][1] += time.time() - wall_at
                for p in procs:  # py-spy: let it write its file
                    p.wait(60)
                changer.stop()
                time.sleep(1.0)
                report = ingest.stop_gateway(gateway, out)
            finally:
                for p in procs + ingest.RUNNING:
                    p.kill()
                api.send_signal(signal.SIGTERM)
                api.wait(30)
                api_log.close()
            committed_at: dict[str, float] = report["committed_at"]
            rates: dict[str, list[float]] = {"without": [], "with": []}
            spans = []
            for kind, burst in runs:
                last = max(committed_at[i] for i in burst["ids"])
                spans.append((burst["started"], last))
                rates[kind].append(burst["messages"] / (last - burst["started"]))
            pairs = [w / wo for w, wo in zip(rates["with"], rates["without"], strict=True)]
            # the gateway's own CPU per burst message (its whole process, burst start to end + 1 s):
            # equal with and without consoles means the consoles take cores, not gateway work
            gw_us = {
                k: round(
                    1e6
                    * sum(b["gateway_cpu_s"] for kind, b in runs if kind == k)  # type: ignore[misc]
                    / sum(b["messages"] for kind, b in runs if kind == k)  # type: ignore[misc]
                )
                for k in ("without", "with")
            }
            figures["ingest"] = {
                "without_msg_s": [round(r) for r in rates["without"]],
                "with_msg_s": [round(r) for r in rates["with"]],
                "with_vs_without": round(
                    statistics.mean(rates["with"]) / statistics.mean(rates["without"]), 3
                ),
                "with_vs_without_median_of_rounds": round(statistics.median(pairs), 3),
                "gateway_cpu_us_per_msg": gw_us,
                "target": 0.9,
            }
            figures["changes_per_s"] = round(changer.published / (changer.stopped_at - changer.started_at), 1)
            figures["live"] = delivery(places, committed_at, windows, spans)
            figures["live"]["target_p99_ms"] = 1000  # type: ignore[index]
            figures["live"]["console_notes"] = [seen["notes"] for seen, _ in windows]  # type: ignore[index]
            figures["live_1_console"] = delivery(
                places, committed_at, [(alone, (one_ready + 0.5, one_closing - 2.0))], []
            )
            figures["api_cpu_share"] = {k: round(c / w, 3) for k, (c, w) in cpu.items()}
            figures["consoles_process_cpu_s"] = round(sum(seen["cpu_s"] for seen, _ in windows), 2)
            figures["store"] = store_check(db, places)
            figures["uncommitted_changes"] = sum(1 for e in places.sent if e not in committed_at)
    figures["load_after"] = round(os.getloadavg()[0], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--role", default="bench")
    parser.add_argument("--consoles", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0, help="case changes per second")
    parser.add_argument(
        "--places", type=int, default=200, help="changing cases (each changes rate/places per s)"
    )
    parser.add_argument("--burst", type=int, default=10_000, help="messages per ingest burst")
    parser.add_argument("--rounds", type=int, default=5, help="pairs of bursts, without and with consoles")
    parser.add_argument(
        "--quiet-s", type=float, default=8.0, help="consoles open with only the changes going on"
    )
    parser.add_argument("--py-spy", help="py-spy's path: profile the API while the consoles are open")
    parser.add_argument("--py-spy-out", default="console_live_api.txt", help="its collapsed stacks")
    # consoles role
    parser.add_argument("--api")
    parser.add_argument("--cookies")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.role == "consoles":
        consoles_role(args)
        return
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
