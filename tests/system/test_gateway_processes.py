"""`gridwatch gateway --processes 2`: two gateway processes share the stream and the SQLite store.

Every event applied once, one case per place, both processes did part of the work; a process
SIGKILLed mid-stream is started again under its id by the supervisor and nothing is lost or
doubled; SIGTERM stops the supervisor and its processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from gateway.events.models import DeadLetter, EventRecord
from gateway.heartbeat.models import GatewayHeartbeat
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.support.brokers.mqtt import publish_all
from tests.support.fuzzing import cases_by_device, count, events
from tests.support.paths import DEMO_SITE, REPO
from tests.support.waiting import wait_until


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_two_processes_share_the_stream_and_survive_a_sigkill(
    mosquitto: Mosquitto, sqlite_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "gateway.log"
    env = {**os.environ, "GRIDWATCH_HEARTBEAT_S": "0.3", "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        supervisor = subprocess.Popen(
            [
                sys.executable, "-m", "gridwatch.cli", "gateway", "--processes", "2",
                "--site", str(DEMO_SITE), "--db", sqlite_url, "--mqtt-port", str(mosquitto.port),
                "--gateway-id", "gw-multi", "--batch-max", "200", "--log-level", "INFO",
            ],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    stream = events(6_000, seed=21)
    try:

        def subscribed() -> bool:
            if not Path(sqlite_url.removeprefix("sqlite:///")).exists():
                return False
            try:
                with sessions() as s:
                    beats = s.scalars(select(GatewayHeartbeat)).all()
            except OperationalError:  # the file exists before the supervisor's migrations made the table
                return False
            return {b.gateway_id for b in beats if b.mqtt_connected} == {"gw-multi-1", "gw-multi-2"}

        wait_until(subscribed, timeout=60, what="both gateway processes to subscribe")
        publisher = threading.Thread(
            target=publish_all, args=(mosquitto, stream.messages, "edge-multi"), kwargs={"rate": 1000}
        )
        publisher.start()
        wait_until(lambda: count(sessions, EventRecord) > 1_500, timeout=60, what="progress")
        victim = children(supervisor.pid)[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: len(children(supervisor.pid)) == 2 and victim not in children(supervisor.pid),
            timeout=30,
            what="the supervisor to start the killed process again",
        )
        publisher.join(120)
        assert not publisher.is_alive()
        wait_until(
            lambda: count(sessions, EventRecord) == len(stream.hazard_ids),
            timeout=120,
            what=f"all {len(stream.hazard_ids)} events",
        )
        time.sleep(1)  # a late redelivery must still be recognised as one
        assert count(sessions, EventRecord) == len(stream.hazard_ids) == 6_000
        assert cases_by_device(sessions) == dict(stream.events_per_device)  # zero lost, zero doubled
        assert count(sessions, DeadLetter) == 0
        with sessions() as s:
            by_gateway = dict(
                s.execute(select(EventRecord.handled_by, func.count()).group_by(EventRecord.handled_by)).all()
            )
        assert set(by_gateway) == {"gw-multi-1", "gw-multi-2"}
        assert min(by_gateway.values()) > 500  # the broker really split the stream
        pids = children(supervisor.pid)
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(60) == 0
        assert not [p for p in pids if Path(f"/proc/{p}").exists() and _alive(p)]
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait(10)
        engine.dispose()
    text = log.read_text(errors="replace")
    assert "exited with -9; starting it again" in text
    assert "Traceback" not in text


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
