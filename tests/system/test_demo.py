"""The README's demo command: the whole pipeline, from devices and cameras to assigned cases."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from tests.support.paths import REPO


def test_demo_runs_the_whole_pipeline_and_dispatches_within_30_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gridwatch.cli",
            "demo",
            "--exit-after",
            "25",
            "--api-port",
            "0",
            "--workdir",
            str(tmp_path / "demo"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # every device, node, phone and the gateway logs in as itself, provisioned over dynamic security
    assert re.search(
        r"broker logins: \d+ \(nodes, devices, phones, zigbee2mqtt, gateway\) through dynamic "
        r"security .*no anonymous access",
        proc.stdout,
    )
    assert "is dispatched to w-ma-li in grid g-gongye-01" in proc.stdout
    assert "w-ma-li's phone received task" in proc.stdout
    assert re.search(
        r"curl -s -H 'Authorization: Bearer gwt_\S+' http://127\.0\.0\.1:\d+/api/v1/cases\n", proc.stdout
    )
    # the command centre's console: an operator's sign-in made for this run
    assert re.search(r"console +http://127\.0\.0\.1:\d+/ .*sign in as op-demo / \S{8,}\)", proc.stdout)
    # tokens made for this run: the assigned worker may accept, an operator may confirm
    assert re.search(
        r"w-ma-li accepts .*Authorization: Bearer gwt_\S+' .*/api/v1/tasks/\S+/accept", proc.stdout
    )
    assert re.search(
        r"centre confirms .*Authorization: Bearer gwt_\S+' .*/api/v1/cases/\S+/confirm", proc.stdout
    )
    # the zigbee2mqtt smoke detector's alarm went through its edge node, which also took a
    # snapshot with the camera nearby; the gateway put it on the alarm's case
    assert re.search(r"smoke_alarm.*snapshot http://127\.0\.0\.1:\d+/api/v1/evidence/", proc.stdout)
    # the GridWatch-speaking gas detector's 32 %LEL is a major gas leak in its own grid
    assert "new case gas_leak (major) from gas-restaurant-3 in g-donghu-03" in proc.stdout
    # the sealed workshop's camera plays the fire clip: a critical case with its snapshot
    assert "new case fire_smoke (critical) from cam-workshop-b/sealed" in proc.stdout
    # the Modbus detector and the RTSP camera of the site file do not exist here: maintenance
    assert "new case device_offline (major) from gas-workshop-b1" in proc.stdout
    assert "gridwatch.log" in proc.stdout and (tmp_path / "demo" / "gridwatch.log").stat().st_size > 0
    assert time.monotonic() - started < 80
