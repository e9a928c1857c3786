"""The walking skeleton through a real Mosquitto: alarm → case → task on the worker's phone → API."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cloud_api.app import create_app
from contracts import TaskOffer, decode, topics
from contracts.site import Site
from edge.simulator import Broker, sensor_alarm
from gateway.events.models import DeadLetter
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.support.brokers.mqtt import Collector, publisher
from tests.support.clock import site_time
from tests.support.paths import DEMO_SITE
from tests.support.people import add_person, api_settings
from tests.support.processes.gateway import running_gateway
from tests.support.waiting import wait_until


def test_smoke_alarm_reaches_the_nearest_workers_phone_and_the_api(
    mosquitto: Mosquitto, db_url: str, demo_site: Site, tmp_path: Path
) -> None:
    phones = Collector(mosquitto, f"{topics.ROOT}/worker/+/task")
    clock = site_time(10)
    with running_gateway(mosquitto, db_url, DEMO_SITE, clock=clock):
        event = sensor_alarm(
            demo_site, "smk-factory-a1", Broker(mosquitto.host, mosquitto.port), tmp_path, clock=clock
        )
        wait_until(phones.payloads, timeout=15, what="a task offer on a worker topic")
    [msg] = phones.messages
    offer = decode(msg.topic, msg.payload)
    assert isinstance(offer, TaskOffer)
    assert offer.worker_id == "w-ma-li" and msg.topic == topics.worker_task("w-ma-li")
    assert offer.hazard_type == "smoke_alarm" and offer.grid_id == "g-gongye-01"
    phones.close()

    with TestClient(create_app(api_settings(DEMO_SITE, db_url))) as api:
        # the industrial park's operator signs in and reads what the centre sees
        add_person(
            session_factory(make_engine(db_url)), "op-gongye", ["operator"], ["c-gongye"], "park-desk-1"
        )
        signed_in = api.post(
            "/api/v1/auth/sign-in", json={"username": "op-gongye", "password": "park-desk-1"}
        )
        assert signed_in.status_code == 200, signed_in.text
        api.headers["Authorization"] = f"Bearer {signed_in.json()['access_token']}"
        cases = api.get("/api/v1/cases").json()["items"]
        assert [c["id"] for c in cases] == [offer.case_id]
        assert cases[0]["status"] == "dispatched" and cases[0]["device_id"] == "smk-factory-a1"
        detail = api.get(f"/api/v1/cases/{offer.case_id}").json()
        assert [t["to_status"] for t in detail["transitions"]] == ["new", "dispatched"]
        assert detail["transitions"][0]["event_id"] == event.id
        tasks = api.get("/api/v1/workers/w-ma-li/tasks").json()
        assert tasks["count"] == 1 and tasks["items"][0]["id"] == offer.task_id
        assert tasks["items"][0]["reason_code"] == "own_grid"
        assert api.get("/api/v1/workers/w-nobody/tasks").status_code == 404
        assert api.get("/api/v1/cases/nope").status_code == 404


def _malformed(rng: random.Random, good: bytes) -> tuple[str, bytes]:
    """One broken message of a random kind, on a topic the gateway listens to."""
    node = f"node-{rng.randrange(5)}"
    topic = topics.node_event(node)
    data = json.loads(good)
    data["source"] = node
    kind = rng.randrange(8)
    if kind == 0:  # truncated JSON
        return topic, good[: rng.randrange(1, len(good) - 1)]
    if kind == 1:  # binary garbage
        return topic, rng.randbytes(rng.randrange(1, 200))
    if kind == 2:  # wrong type
        data[rng.choice(["seq", "confidence", "severity", "ts", "device_id"])] = rng.choice(
            [[], {}, None, -1]
        )
        return topic, json.dumps(data).encode()
    if kind == 3:  # huge string
        data["summary"] = "火" * rng.randrange(600, 5000)
        return topic, json.dumps(data).encode()
    if kind == 4:  # unknown schema version
        data["schema_version"] = rng.randrange(2, 99)
        return topic, json.dumps(data).encode()
    if kind == 5:  # missing field
        del data[rng.choice(["id", "hazard_type", "state", "episode_id"])]
        return topic, json.dumps(data).encode()
    if kind == 6:  # bad id in the topic
        return f"{topics.ROOT}/node/NODE {rng.randrange(99)}/event", good
    data["source"] = "someone-else"  # speaks for another node
    return topic, json.dumps(data).encode()


@pytest.mark.parametrize("hour", [14, 23], ids=["14h00-shanghai", "23h00-shanghai"])
def test_a_thousand_malformed_payloads_are_dead_lettered_and_the_gateway_keeps_serving(
    mosquitto: Mosquitto, sqlite_url: str, demo_site: Site, tmp_path: Path, hour: int
) -> None:
    """At any hour: the night duty roster (值班) answers the alarm after the flood."""
    from contracts.examples import examples

    good = examples()["hazard_event"].model_dump_json().encode()
    rng = random.Random(20261122)
    bad = [_malformed(rng, good) for _ in range(1000)]
    phones = Collector(mosquitto, f"{topics.ROOT}/worker/+/task")
    clock = site_time(hour)
    with running_gateway(mosquitto, sqlite_url, DEMO_SITE, clock=clock) as gw:
        client = publisher(mosquitto, "fuzzer")
        infos = [client.publish(t, p, qos=1) for t, p in bad]
        for info in infos:
            info.wait_for_publish(10)

        def dead_letters() -> int:
            with gw.sessions() as s:
                return int(s.scalar(select(func.count()).select_from(DeadLetter)) or 0)

        wait_until(lambda: dead_letters() == 1000, timeout=30, what="1000 dead letters")
        # still serving: a real alarm afterwards is dispatched
        sensor_alarm(
            demo_site, "smk-rental-12", Broker(mosquitto.host, mosquitto.port), tmp_path, clock=clock
        )
        wait_until(phones.payloads, timeout=15, what="a task after the flood")
        assert dead_letters() == 1000
        with gw.sessions() as s:
            reasons = dict(
                s.execute(select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)).all()
            )
        assert set(reasons) >= {"bad_json", "invalid", "unsupported_version", "bad_topic", "source_mismatch"}
        client.disconnect()
    phones.close()
    assert threading.active_count() < 50
