"""The README's demo command, run once for real (its own Mosquitto with dynamic security, gateway,
API, VictoriaMetrics and both edge nodes with their cameras), and what a reader does with it:

- the whole pipeline, from devices and cameras to assigned cases;
- every command it prints works when pasted into a shell, later;
- its broker lets in only the logins it provisioned (no anonymous client, no wrong password);
- Ctrl-C stops it cleanly, its log kept.

One demo for the module: starting it is most of each test's time (the nodes run YOLOX-Nano)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.brokers.secured import Login as Connect
from tests.support.paths import REPO

READY = "Press Ctrl-C to stop."


class Demo:
    """``gridwatch demo`` as a reader starts it; its output collected as it comes."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gridwatch")),
                "demo",
                "--api-port",
                "0",
                "--workdir",
                str(workdir),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append((time.monotonic() - self.started, line))

    @property
    def text(self) -> str:
        return "".join(line for _, line in list(self._lines))

    def printed_at(self, pattern: str, timeout: float) -> float:
        """Seconds after start at which a line matching ``pattern`` was printed (waits for it)."""
        deadline = time.monotonic() + timeout
        while True:
            for at, line in list(self._lines):
                if re.search(pattern, line):
                    return at
            if time.monotonic() > deadline or (self.proc.poll() is not None and not self._reader.is_alive()):
                raise AssertionError(f"the demo never printed {pattern!r}:\n{self.text}")
            time.sleep(0.2)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    running = Demo(tmp_path_factory.mktemp("demo") / "demo")
    try:
        running.printed_at(re.escape(READY), timeout=120)
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.kill()


def test_demo_runs_the_whole_pipeline_from_devices_to_a_dispatched_case(demo: Demo) -> None:
    # ~20 s on a quiet machine (docs/benchmarks.md); the bound leaves room for a busy test run
    assert demo.printed_at(r"is dispatched to w-ma-li in grid g-gongye-01", timeout=0) < 60
    # every device, node, phone and the gateway logs in as itself, provisioned over dynamic security
    demo.printed_at(
        r"broker logins: \d+ \(nodes, devices, phones, zigbee2mqtt, gateway\) through dynamic "
        r"security .*no anonymous access",
        timeout=0,
    )
    demo.printed_at(r"w-ma-li's phone received task", timeout=0)
    text = demo.text
    assert re.search(
        r"curl -s -H 'Authorization: Bearer gwt_\S+' http://127\.0\.0\.1:\d+/api/v1/cases\n", text
    )
    # the command centre's console: an operator's sign-in made for this run
    assert re.search(r"console +http://127\.0\.0\.1:\d+/ .*sign in as op-demo / \S{8,}\)", text)
    # tokens made for this run: the assigned worker may accept, an operator may confirm
    assert re.search(r"w-ma-li accepts .*Authorization: Bearer gwt_\S+' .*/api/v1/tasks/\S+/accept", text)
    assert re.search(r"centre confirms .*Authorization: Bearer gwt_\S+' .*/api/v1/cases/\S+/confirm", text)
    # the zigbee2mqtt smoke detector's alarm went through its edge node, which also took a
    # snapshot with the camera nearby; the gateway put it on the alarm's case
    demo.printed_at(r"smoke_alarm.*snapshot http://127\.0\.0\.1:\d+/api/v1/evidence/", timeout=20)
    # the GridWatch-speaking gas detector's 32 %LEL is a major gas leak in its own grid
    demo.printed_at(re.escape("new case gas_leak (major) from gas-restaurant-3 in g-donghu-03"), timeout=20)
    # the sealed workshop's camera plays the fire clip: a critical case with its snapshot
    demo.printed_at(re.escape("new case fire_smoke (critical) from cam-workshop-b/sealed"), timeout=40)
    # the Modbus detector and the RTSP camera of the site file do not exist here: maintenance
    demo.printed_at(re.escape("new case device_offline (major) from gas-workshop-b1"), timeout=40)
    assert "gridwatch.log" in demo.text


def _printed(text: str, label: str) -> str:
    match = re.search(rf"^\s+{re.escape(label)}\s+(.+)$", text, re.MULTILINE)
    assert match, f"the demo printed no {label!r} line:\n{text}"
    return match.group(1).strip()


def _paste(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a printed line as a user would: bash, from the directory they ran the demo in,
    with a PATH that does not contain the project's virtualenv."""
    path = ":".join(p for p in os.environ.get("PATH", "").split(":") if ".venv" not in p)
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PATH": path},
    )


def _get(api: str, path: str, auth: str) -> object:
    done = _paste(f"curl -sf {auth} {api}{path}", REPO)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_printed_commands_work_when_pasted(demo: Demo, tmp_path: Path) -> None:
    text = demo.text
    api = re.search(r"console\s+(http://127\.0\.0\.1:\d+)/", text).group(1)  # type: ignore[union-attr]
    case_id = re.search(r"✅ case (\S+) is dispatched", text).group(1)  # type: ignore[union-attr]
    # every read needs credentials: the operator's token from the printed "cases" command
    auth = re.search(r"cases\s+curl -s (-H 'Authorization: Bearer [^']+')", text).group(1)  # type: ignore[union-attr]

    # the demo's broker: every login provisioned through dynamic security, nobody anonymous
    port = int(re.search(r"MQTT broker: Mosquitto on 127\.0\.0\.1:(\d+)", text).group(1))  # type: ignore[union-attr]
    anonymous = Connect(port, None, None, client_id="curious-1")
    assert not anonymous.accepted and anonymous.connack.getName() == "Not authorized"  # type: ignore[union-attr]
    wrong = Connect(port, "node-donghu-1", "not-its-password", client_id="node-donghu-1-check")
    assert not wrong.accepted and wrong.connack.getName() == "Not authorized"  # type: ignore[union-attr]
    kept = demo.workdir / "broker" / "credentials.json"
    assert kept.stat().st_mode & 0o077 == 0, "the demo's passwords are readable by others"
    right = Connect(
        port,
        "node-donghu-1",
        json.loads(kept.read_text())["node-donghu-1"],
        client_id="node-donghu-1-check",
    )
    assert right.accepted
    for client in (anonymous, wrong, right):
        client.close()

    # the offer waits long enough for a reader (the site file's 60 s would not)
    task = _get(api, f"/api/v1/cases/{case_id}", auth)["tasks"][-1]  # type: ignore[index]
    window = datetime.fromisoformat(task["accept_by"]) - datetime.fromisoformat(task["offered_at"])
    assert window.total_seconds() >= 25 * 60, task

    accepted = _paste(_printed(text, "w-ma-li accepts"), REPO)
    assert accepted.returncode == 0 and json.loads(accepted.stdout)["status"] == "accepted", accepted
    confirmed = _paste(_printed(text, "centre confirms"), REPO)
    assert confirmed.returncode == 0 and json.loads(confirmed.stdout)["status"], confirmed

    # telemetry: no `curl -g` needed; the demo's sensors have series there
    telemetry = _printed(text, "telemetry")
    assert " -g" not in telemetry
    deadline = time.monotonic() + 60
    while True:
        got = _paste(telemetry, REPO)
        assert got.returncode == 0, got
        if '"__name__":"sensor_' in got.stdout or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert '"__name__":"sensor_' in got.stdout, got.stdout[:500]

    # "raise another" names an executable that exists from here, not a bare `gridwatch`
    raise_another = _printed(text, "raise another")
    assert not raise_another.startswith("gridwatch "), raise_another
    raised = _paste(raise_another, REPO)
    assert raised.returncode == 0, raised.stdout + raised.stderr
    # ... and from another directory too
    assert _paste(raise_another.replace(".venv/", f"{REPO}/.venv/", 1), tmp_path).returncode == 0
    deadline = time.monotonic() + 30
    cases: list[dict] = []
    while time.monotonic() < deadline:
        listed = _get(api, "/api/v1/cases?hazard_type=smoke_alarm", auth)
        cases = [c for c in listed["items"] if c["device_id"] == "smk-rental-12"]  # type: ignore[index]
        if cases:
            break
        time.sleep(0.5)
    assert cases, "the pasted simulate-alarm raised no case"


def test_ctrl_c_stops_the_demo_cleanly_and_its_log_is_kept(demo: Demo) -> None:
    assert demo.stop() == 0, demo.text[-3000:]
    assert (demo.workdir / "gridwatch.log").stat().st_size > 0
