"""The first hour: every command the demo prints works when pasted into a shell, later; and the
demo's broker lets in only the logins the demo provisioned (no anonymous client, no wrong password).

The demo runs for real (its own Mosquitto, gateway, API, VictoriaMetrics and edge nodes);
the printed lines are run by bash as a reader would paste them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from tests.support.brokers.secured import Login as Connect
from tests.support.paths import REPO


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"the demo never printed {marker!r}:\n{''.join(seen)}")


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


def test_the_printed_commands_work_when_pasted(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gridwatch")),
            *("demo", "--api-port", "0", "--workdir", str(tmp_path / "demo")),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        text = _read_until(demo, "Press Ctrl-C to stop.", timeout=120)
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
        kept = tmp_path / "demo" / "broker" / "credentials.json"
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
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
