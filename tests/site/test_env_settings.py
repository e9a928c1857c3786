"""A bad GRIDWATCH_* setting in the environment (a systemd EnvironmentFile, docker/.env): the command
ends at once with the variable, its value and what it must be — not a 40-line traceback naming a
Python field, and not blamed on the node's YAML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gridwatch.cli import app
from tests.support.paths import DEMO_SITE


@pytest.mark.parametrize(
    ("args", "variable", "value", "words"),
    [
        (["gateway", "--mqtt-port", "1"], "GRIDWATCH_MAX_CLOCK_SKEW_S", "five minutes", "number"),
        (["gateway", "--mqtt-port", "1"], "GRIDWATCH_MQTT_KEEPALIVE_S", "-3", "greater than"),
        (["api", "--port", "0"], "GRIDWATCH_MAX_BODY_BYTES", "-5", "greater than or equal to 1024"),
        (["edge", "run", "--config", str(DEMO_SITE / "nodes" / "node-gongye-1.yaml")],
         "GRIDWATCH_EDGE_RETENTION__INTERVAL_S", "0", "greater than 0"),
    ],
)  # fmt: skip
def test_a_bad_environment_setting_names_the_variable_its_value_and_the_fix(
    tmp_path: Path, args: list[str], variable: str, value: str, words: str
) -> None:
    db = f"sqlite:///{tmp_path / 'g.db'}"
    more = [] if args[0] == "edge" else ["--site", str(DEMO_SITE), "--db", db]
    result = CliRunner().invoke(app, [*args, *more], env={variable: value}, catch_exceptions=False)
    out = result.output
    assert result.exit_code == 2, out
    assert f"{variable}={value!r}" in out and words in out, out
    assert "Traceback" not in out and "node-gongye-1.yaml" not in out, out
    assert "environment" in out  # where to change it


def test_an_edge_node_logs_in_with_the_variables_its_configuration_bundle_names(
    tmp_path: Path, demo_site
) -> None:
    """The installer's configuration bundle, `gridwatch broker auth` and docs/broker-access.md
    all say: a node logs in with GRIDWATCH_EDGE_UPLINK__USERNAME / __PASSWORD. `gridwatch edge
    run` built its uplink from its --mqtt-* options only, so those variables were ignored and
    the node knocked without a login, refused for ever. Options still win when given."""
    import os
    import subprocess
    import sys

    from contracts import topics
    from contracts.topics import Roster
    from tests.support.brokers.secured import Login, secured_broker
    from tests.support.paths import REPO
    from tests.support.waiting import wait_until

    roster = Roster.from_site(demo_site, gateways=("gateway",))
    with secured_broker(tmp_path / "broker", "password_file", roster) as sb:
        gateway = Login(sb.site_port, "gateway", sb.password("gateway"), subscribe=(f"{topics.ROOT}/node/#",))
        env = {
            **os.environ,
            "GRIDWATCH_MQTT_PORT": str(sb.site_port),
            "GRIDWATCH_EDGE_UPLINK__USERNAME": "node-donghu-1",
            "GRIDWATCH_EDGE_UPLINK__PASSWORD": sb.password("node-donghu-1"),
            "GRIDWATCH_EDGE_STATE_DIR": str(tmp_path / "state"),
        }
        node = subprocess.Popen(
            [sys.executable, "-m", "gridwatch.cli", "edge", "run", "--no-video",
             "--config", str(DEMO_SITE / "nodes" / "node-donghu-1.yaml")],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            status = f"{topics.ROOT}/node/node-donghu-1/status"
            wait_until(lambda: status in gateway.topics(), timeout=30, what="the node's status, logged in")
        finally:
            node.terminate()
            _, stderr = node.communicate(timeout=20)
            gateway.close()
        assert b"not authorised" not in stderr.lower() and b"not authorized" not in stderr.lower()
