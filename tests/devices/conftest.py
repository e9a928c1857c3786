"""An API on the pipeline harness's store and clock, with an installer of the industrial park signed in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cloud_api.app import create_app
from contracts.clock import Clock
from gateway.people.models import Role
from gridwatch.broker import Mosquitto
from tests.conftest import DEMO_SITE, REPO
from tests.gateway.conftest import Harness, harness  # noqa: F401  (the same pipeline harness)
from tests.people import add_person, api_settings

PASSWORD = "installer-pass-1"
PARK = "c-gongye"  # the industrial park community: node-gongye-1's devices


class SteppedClock:
    """Real speed from a chosen instant, and a test may jump it ahead (an offline wait, a timeout)."""

    def __init__(self, inner: Clock) -> None:
        self.inner = inner
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.inner.now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class Desk:
    client: TestClient
    harness: Harness

    def sign_in(self, person_id: str, roles: tuple[Role, ...], areas: tuple[str, ...]) -> dict[str, str]:
        add_person(self.harness.sessions, person_id, roles, areas, PASSWORD)
        signed = self.client.post("/api/v1/auth/sign-in", json={"username": person_id, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        self.client.cookies.clear()
        return {"Authorization": f"Bearer {signed.json()['access_token']}"}


@pytest.fixture
def desk(harness: Harness, db_url: str) -> Iterator[Desk]:  # noqa: F811
    settings = api_settings(DEMO_SITE, db_url, access_check_s=0)
    with TestClient(create_app(settings, clock=harness.clock)) as client:
        yield Desk(client, harness)


@contextmanager
def edge_node(config: Path, broker: Mosquitto, state: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``EdgeNode`` as ``gridwatch edge run`` builds it (outbox, status, last will, health), alone."""
    events = state / "none.jsonl"
    events.parent.mkdir(parents=True, exist_ok=True)
    events.write_text("")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.system.edge_driver",
            "--config",
            str(config),
            "--events",
            str(events),
            "--mqtt-port",
            str(broker.port),
            "--state-dir",
            str(state),
            "--status",
            str(state / "status.json"),
            "--health-interval",
            "0.5",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
