"""End-to-end delivery: an edge event leaves the outbox only when the gateway has committed it.

A real Mosquitto (started here on a free port, with the persistence and queue limit of the
scenario), a real edge node process (tests/support/processes/edge_driver.py: the node's own outbox,
uplink and receipts, fed 6,000 hazard events) and a real gateway process; the store is SQLite
or PostgreSQL. The broker or the gateway is broken mid-stream:

- the broker stopped (SIGTERM) and started again after an outage, persistence off and on,
  the gateway on a shared subscription and on a plain one — Mosquitto 2.0 loses ``$share``
  subscriptions over a restart, and a node back before the gateway hears "no matching
  subscribers";
- the broker SIGKILLed mid-stream (what it had not saved is gone) and started again;
- ``max_queued_messages 100`` with the gateway down: the broker drops what does not fit.

What must arrive is computed from what the edge was asked to send, never from the product's
counters: every event stored exactly once, one case per place with exactly its events, and the
node's outbox empty at the end (each event receipted).

The issue's outage is 45 s and its gateway 60 s down; here both last ``OUTAGE_S``: longer than
every reconnect back-off (the edge's 5 s, the gateway's 3 s), so both sides are in their steady
retry when the broker or gateway comes back, with most of the stream queued in the node or
dropped by the broker — a longer outage only waits longer. The node replays at 3,000 events/s
(the shipped bound is 1,000) so that the drain after it takes seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from edge.outbox.store import OutboxStore
from gateway.events.models import DeadLetter, EventRecord
from gateway.heartbeat.models import GatewayHeartbeat
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.support.fuzzing import cases_by_device, count, place
from tests.support.paths import DEMO_SITE, REPO
from tests.support.stores import migrated_store_url
from tests.support.waiting import wait_until

EVENTS = 6_000
RATE = 1000.0  # events per second the node is asked to emit: a 6 s stream
OUTAGE_S = 8.0
NODE = "node-gongye-1"  # a node of the demo site (the gateway refuses senders it does not know)
GATEWAY = "gw-dl"


@dataclass(frozen=True)
class Scenario:
    failure: str  # "broker_stop", "broker_kill", "gateway_down"
    persistence: bool
    shared: bool
    store: str  # "sqlite" or "postgres"
    max_queued: int = 1_000_000

    @property
    def id(self) -> str:
        sub = "shared" if self.shared else "plain"
        persist = "persist" if self.persistence else "no-persist"
        queue = f"-queue{self.max_queued}" if self.max_queued < 1_000_000 else ""
        return f"{self.failure}-{persist}-{sub}{queue}-{self.store}"


# Each store sees each persistence setting and each kind of subscription (pairwise, not every
# combination: these tests are long).
SCENARIOS = [
    Scenario("broker_stop", persistence=False, shared=True, store="sqlite"),
    Scenario("broker_stop", persistence=True, shared=True, store="postgres"),
    Scenario("broker_stop", persistence=False, shared=False, store="postgres"),
    Scenario("broker_stop", persistence=True, shared=False, store="sqlite"),
    Scenario("broker_kill", persistence=True, shared=True, store="sqlite"),
    Scenario("broker_kill", persistence=True, shared=False, store="postgres"),
    Scenario("gateway_down", persistence=True, shared=True, store="postgres", max_queued=100),
    Scenario("gateway_down", persistence=True, shared=False, store="sqlite", max_queued=100),
]


def asked_to_send(n: int, seed: int) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The events the node is asked to emit (ids, places), and the cases they must make."""
    rng = random.Random(seed)
    events, per_device = [], Counter[str]()
    for i in range(n):
        d = rng.randrange(40)
        device = f"smk-dl-{d:03d}"
        events.append(
            {
                "id": f"{rng.getrandbits(32):08x}-0000-7000-8000-{i:012x}",
                "hazard_type": "smoke_alarm",
                "severity": rng.choice(["minor", "major", "critical"]),
                "confidence": 0.9,
                "state": "update",
                "episode_id": f"ep-{device}",
                "device_id": device,
                "location": place(d),
                "summary": f"delivery test {i}",
            }
        )
        per_device[device] += 1
    return events, per_device


class Processes:
    """The node and gateway processes of one test; killed at the end whatever happened."""

    def __init__(self, tmp: Path, broker: Mosquitto, db_url: str, shared: bool) -> None:
        self.tmp, self.broker, self.db_url, self.shared = tmp, broker, db_url, shared
        self.env = {**os.environ, "GRIDWATCH_HEARTBEAT_S": "0.3", "PYTHONUNBUFFERED": "1"}
        self.gateway: subprocess.Popen[bytes] | None = None
        self.node: subprocess.Popen[bytes] | None = None
        self.status = tmp / "node-status.json"
        self.go = tmp / "go"
        self.marks: list[tuple[str, float]] = [("start", time.monotonic())]

    def start_gateway(self) -> None:
        with (self.tmp / "gateway.log").open("ab") as out:
            self.gateway = subprocess.Popen(
                [
                    sys.executable, "-m", "gridwatch.cli", "gateway",
                    "--site", str(DEMO_SITE), "--db", self.db_url, "--mqtt-port", str(self.broker.port),
                    "--gateway-id", GATEWAY, "--share-group", "gateways" if self.shared else "",
                    "--log-level", "INFO",
                ],
                cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def stop_gateway(self) -> None:
        assert self.gateway is not None
        self.gateway.send_signal(signal.SIGTERM)
        assert self.gateway.wait(30) == 0

    def start_node(self, events: Path) -> None:
        config = self.tmp / f"{NODE}.yaml"
        # The site's node, without its sensors and cameras: this node sends what the test gives it.
        config.write_text(yaml.safe_dump({"node": {"id": NODE, "location": place(0)}}))
        with (self.tmp / "node.log").open("ab") as out:
            self.node = subprocess.Popen(
                [
                    sys.executable, "-m", "tests.support.processes.edge_driver", "--config", str(config),
                    "--events", str(events), "--mqtt-port", str(self.broker.port),
                    "--state-dir", str(self.tmp / "edge"), "--status", str(self.status),
                    "--rate", str(RATE), "--publish-rate", "3000", "--go", str(self.go),
                ],
                cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def node_status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status.read_text())  # type: ignore[no-any-return]
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def close(self) -> None:
        for proc in (self.node, self.gateway):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def mark(self, what: str) -> None:
        self.marks.append((what, time.monotonic()))

    def timeline(self) -> str:
        t0 = self.marks[0][1] if self.marks else 0.0
        return ", ".join(f"{what} {at - t0:.1f} s" for what, at in self.marks)

    def wait(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        try:
            wait_until(predicate, timeout=timeout, interval=0.2, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; node status {self.node_status()}\n{self.logs()}") from None

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n" + (self.tmp / name).read_text(errors="replace")[-3000:]
            for name in ("node.log", "gateway.log")
            if (self.tmp / name).exists()
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    "scenario",
    [pytest.param(s, id=s.id, marks=[pytest.mark.postgres] * (s.store == "postgres")) for s in SCENARIOS],
)
def test_every_event_is_stored_once_whatever_the_broker_and_gateway_do(
    scenario: Scenario, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Migrated already, so that the test can read while the gateway starts (it finds nothing to do).
    db_url = migrated_store_url(scenario.store, tmp_path / "gridwatch.db", request)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    broker = Mosquitto(
        tmp_path / "broker",
        persistence=scenario.persistence,
        max_queued_messages=scenario.max_queued,
        autosave_interval_s=60,  # as shipped: a SIGKILL loses what came since the last save
    ).start()
    events, per_device = asked_to_send(EVENTS, seed=len(scenario.id))
    event_file = tmp_path / "events.jsonl"
    event_file.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    procs = Processes(tmp_path, broker, db_url, scenario.shared)
    try:
        procs.start_gateway()
        procs.start_node(event_file)  # it waits for the go

        def gateway_subscribed(since: float) -> bool:
            with sessions() as s:
                hb = s.get(GatewayHeartbeat, GATEWAY)
                return hb is not None and hb.mqtt_connected and hb.seen_at.timestamp() > since

        started = time.time()
        wait_until(lambda: gateway_subscribed(started), timeout=60, what="the gateway to subscribe")
        procs.mark("gateway subscribed")
        procs.go.touch()
        # Break things early in the stream, with it flowing.
        procs.wait(lambda: procs.node_status().get("emitted", 0) >= EVENTS // 6, 60, "the node to emit")
        emitted_before = procs.node_status()["emitted"]
        procs.mark(f"{emitted_before} emitted")
        if scenario.failure == "broker_stop":
            broker.stop()
            time.sleep(OUTAGE_S)
            broker.start()
        elif scenario.failure == "broker_kill":
            broker.kill()
            time.sleep(0.5)
            broker.start()
        else:
            procs.stop_gateway()
            time.sleep(OUTAGE_S)
            procs.start_gateway()
        procs.mark("failure over")
        assert emitted_before < EVENTS, "the failure must come mid-stream"
        procs.wait(lambda: procs.node_status().get("emitted") == EVENTS, 60, "the node to emit all")
        procs.wait(lambda: count(sessions, EventRecord) >= EVENTS, 120, f"all {EVENTS} events stored")
        procs.mark("all stored")
        # Every event receipted: the node's outbox empties only on the gateway's word.
        procs.wait(lambda: procs.node_status().get("depth") == 0, 60, "the node's outbox to empty")
        status = procs.node_status()
        assert status["awaiting_receipt"] == 0
        procs.mark("outbox empty")
        with sessions() as s:
            stored = s.scalars(select(EventRecord.id).where(EventRecord.source == NODE)).all()
            by_node = s.scalar(select(func.count()).select_from(EventRecord))
        assert by_node == EVENTS and len(stored) == EVENTS
        assert set(stored) == {e["id"] for e in events}  # every one, once (the ledger's key)
        assert cases_by_device(sessions) == dict(per_device)  # one case per place, all its events
        assert count(sessions, DeadLetter) == 0
        print(
            f"{scenario.id}: resent {status['resent_total']}, "
            f"'no matching subscribers' {status['no_subscriber_total']}; {procs.timeline()}"
        )
    finally:
        procs.close()
        broker.stop()
        engine.dispose()
    node_store = OutboxStore(tmp_path / "edge" / NODE / "outbox.sqlite3", capacity=10)
    try:
        assert node_store.count_by_priority() == {}, "an event left in the node's outbox"
    finally:
        node_store.close()
    for name in ("gateway.log", "node.log"):
        assert "Traceback" not in (tmp_path / name).read_text(errors="replace"), procs.logs()
