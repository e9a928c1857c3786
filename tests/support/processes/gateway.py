"""The gateway and the gridwatch command, run for real: in a thread on a real broker, or as a process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from contracts.clock import Clock
from gateway.service import Gateway
from gateway.settings import GatewaySettings, MqttSettings
from gridwatch.broker import Mosquitto
from tests.support.clock import site_time
from tests.support.paths import REPO


@contextmanager
def running_gateway(
    broker: Mosquitto,
    db_url: str,
    site_dir: Path,
    gateway_id: str = "gateway-1",
    clock: Clock | None = None,
    login: tuple[str, str] | None = None,
    **settings: object,
) -> Iterator[Gateway]:
    # Daytime by default: the demo rota has most workers on duty (see site_time).
    clock = clock or site_time(10)
    username, password = login or (None, None)
    gw = Gateway(
        GatewaySettings(
            gateway_id=gateway_id,
            site_dir=site_dir,
            database_url=db_url,
            mqtt=MqttSettings(host=broker.host, port=broker.port, username=username, password=password),
            **settings,  # type: ignore[arg-type]
        ),
        clock=clock,
    )
    thread = threading.Thread(target=gw.run, name=f"gw-{gateway_id}", daemon=True)
    thread.start()
    try:
        assert gw.link.connected.wait(10), "gateway did not connect to the broker"
        yield gw
    finally:
        gw.stop()
        thread.join(timeout=15)
        assert not thread.is_alive(), "gateway thread did not stop"


def run_gridwatch(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """This checkout's ``gridwatch`` command in its own process, as a user runs it: from ``cwd``
    (default: the checkout) and without the GRIDWATCH_* settings of the test's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    return subprocess.run(
        [str(Path(sys.executable).with_name("gridwatch")), *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
