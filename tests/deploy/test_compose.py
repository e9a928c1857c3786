"""docker/compose.yaml: valid, starts in order, keeps secrets out, and its broker really is
authenticated.

Validity: `docker compose config` where Docker's compose plugin is installed; otherwise the
file, interpolated with docker/env.example as Compose would, is checked against the Compose
Specification's JSON Schema (tests/deploy/data). No Docker engine runs here, so the services'
start is not exercised; instead the setup service's script is run as written (certificates, ACL)
and a real Mosquitto is started on the compose broker configuration (base file + conf.d, paths
moved into a temporary directory): its own healthcheck passes, a gateway and an edge node with
their certificates get a smoke alarm through to a case, anonymous clients and clients without a
site certificate are refused."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import jsonschema
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from contracts import EventState, HazardEvent, HazardType, Severity, topics
from contracts.site import load_site
from edge.emit import Priority
from edge.outbox import Outbox
from edge.settings import BrokerSettings
from gateway.cases.models import Case
from gateway.service import Gateway
from gateway.settings import GatewaySettings, MqttSettings
from gridwatch.broker import find_mosquitto, free_port, wait_for_port
from tests.support.clock import site_time
from tests.support.paths import DEMO_SITE, REPO
from tests.support.waiting import wait_until

DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / "env.example"
SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


def env_file(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    return {k.strip(): v.strip() for k, v in pairs}


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable syntax: ${X}, ${X:-default}, ${X-default}, ${X:?error}, ${X?error}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        got = env.get(name)
        if op in (":-", "-"):
            return arg if (got is None or (op == ":-" and got == "")) else got
        if op in (":?", "?") and (got is None or (op == ":?" and got == "")):
            raise ValueError(f"required variable {name} is missing: {arg}")
        return got or ""

    return _VAR.sub(one, value)


def compose_model(env: dict[str, str]) -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE.read_text()), env)


def test_compose_file_is_valid(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    plugin = (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0
    )
    if plugin:  # Docker's own parser and validation (no engine needed)
        done = subprocess.run(
            [docker, "compose", "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), "config", "--quiet"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        missing = subprocess.run(
            [docker, "compose", "-f", str(COMPOSE), "--env-file", "/dev/null", "config", "--quiet"],
            capture_output=True,
            text=True,
            check=False,
            env={k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"},
        )
        assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr
        return
    model = compose_model(env_file(ENV_EXAMPLE))
    errors = sorted(
        jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(model),
        key=lambda e: list(e.path),
    )
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):  # no password, no start
        compose_model({})


def test_services_start_in_order_and_wait_for_what_they_need() -> None:
    services = compose_model(env_file(ENV_EXAMPLE))["services"]
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = cond["condition"]
            if condition == "service_healthy":
                assert services[dep].get("healthcheck"), (
                    f"{name} waits for {dep} to be healthy: it has no healthcheck"
                )
            if condition == "service_completed_successfully":
                assert services[dep].get("restart") == "no", f"{dep} is a one-shot: it must not restart"
        if name not in ("setup", "migrate"):
            assert svc.get("healthcheck"), f"{name} has no healthcheck"

    def needs(name: str) -> dict[str, str]:
        return {d: c["condition"] for d, c in (services[name].get("depends_on") or {}).items()}

    assert needs("mosquitto") == {"setup": "service_completed_successfully"}
    assert needs("migrate") == {"postgres": "service_healthy"}
    for gateway in ("gateway-1", "gateway-2"):
        assert needs(gateway) == {
            "migrate": "service_completed_successfully",
            "postgres": "service_healthy",
            "mosquitto": "service_healthy",
            "victoriametrics": "service_healthy",
        }
        assert services[gateway]["environment"]["GRIDWATCH_DB_SCHEMA"] == "wait"
    assert services["api"]["environment"]["GRIDWATCH_DB_SCHEMA"] == "wait"
    # exactly one service migrates
    assert [n for n, s in services.items() if s.get("command") == ["db", "upgrade"]] == ["migrate"]


def test_every_edge_node_of_the_site_runs_with_its_own_certificate() -> None:
    services = compose_model(env_file(ENV_EXAMPLE))["services"]
    for node_id in load_site(DEMO_SITE).nodes:
        runs = [
            s
            for s in services.values()
            if f"device_configs/demo_site/nodes/{node_id}.yaml" in " ".join(s.get("command") or [])
        ]
        assert len(runs) == 1, f"{node_id} runs {len(runs)} times"
        env = runs[0]["environment"]
        assert (
            env["GRIDWATCH_MQTT_TLS_CERT"].endswith(f"/{node_id}.crt")
            and env["GRIDWATCH_MQTT_PORT"] == "8883"
        )
        assert any(v.endswith("/var/lib/gridwatch/edge") for v in runs[0]["volumes"])  # outbox survives


def test_secrets_come_from_the_env_file_and_host_ports_are_settable() -> None:
    raw = yaml.safe_load(COMPOSE.read_text())
    text = COMPOSE.read_text()
    example = env_file(ENV_EXAMPLE)
    used = {m.group("name") for m in _VAR.finditer(text) if m.group("name")}
    assert used <= set(example), f"not in docker/env.example: {sorted(used - set(example))}"
    assert re.findall(r"\$\{POSTGRES_PASSWORD:\?", text), "a missing database password must stop compose"
    for line in text.splitlines():  # no literal secret anywhere
        m = re.match(r"\s*(\w*(PASSWORD|SECRET|TOKENS?))\s*:\s*(\S.*)$", line)
        if m:
            assert m.group(3).startswith("${"), line
    for name, svc in raw["services"].items():
        for port in svc.get("ports", []):
            host = port.rsplit(":", 1)[0]
            assert "${" in host, f"{name} publishes a fixed host port: {port}"
    assert "/docker/.env" in (REPO / ".gitignore").read_text()


# -- the compose broker, for real ------------------------------------------------------------
def _moved(text: str, root: Path, ports: dict[int, int]) -> str:
    for inside, outside in {
        "/mosquitto/config/conf.d": root / "conf.d",
        "/mosquitto/certs": root / "certs",
        "/mosquitto/auth": root / "broker",
        "/mosquitto/data/": f"{root / 'data'}/",
    }.items():
        text = text.replace(inside, str(outside))
    for inside_port, outside_port in ports.items():
        text = re.sub(
            rf"^listener {inside_port}\b", f"listener {outside_port} 127.0.0.1", text, flags=re.MULTILINE
        )
    return text


@pytest.fixture
def compose_broker(tmp_path: Path) -> Any:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    # the setup service's script, as written, with its volumes moved here
    script = services["setup"]["command"][0].replace("$$", "$")
    script = script.replace("/opt/gridwatch/device_configs/demo_site", str(DEMO_SITE))
    script = script.replace("/certs", str(tmp_path / "certs")).replace("/broker/", f"{tmp_path / 'broker'}/")
    (tmp_path / "broker").mkdir()
    venv_bin = Path(sys.executable).parent  # gridwatch and python, as in the image
    env = {**os.environ, "GRIDWATCH_PUBLIC_HOST": "mqtt.example", "PATH": f"{venv_bin}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["sh", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tls = free_port()
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "data").mkdir()
    for conf in (DOCKER / "mosquitto" / "conf.d").glob("*.conf"):
        (tmp_path / "conf.d" / conf.name).write_text(_moved(conf.read_text(), tmp_path, {8883: tls}))
    base = _moved((DOCKER / "mosquitto" / "mosquitto.conf").read_text(), tmp_path, {})
    base = base.replace("log_dest stderr\n", "")  # to the file below: nobody reads the stderr pipe
    log = tmp_path / "mosquitto.log"
    conf = tmp_path / "compose-mosquitto.conf"
    conf.write_text(base + f"user root\nlog_dest file {log}\nlog_type all\n")
    binary = find_mosquitto()
    assert binary, "mosquitto is not installed: run scripts/setup.sh"
    broker = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port("127.0.0.1", tls)
        listeners = [
            line.split()[1]
            for text in [base, *(p.read_text() for p in (tmp_path / "conf.d").glob("*.conf"))]
            for line in text.splitlines()
            if line.startswith("listener ")
        ]
        yield tls, tmp_path, services, listeners
    finally:
        broker.terminate()
        broker.wait(timeout=10)


def test_the_compose_broker_admits_site_certificates_only(compose_broker: Any, tmp_path: Path) -> None:
    tls, root, services, listeners = compose_broker
    certs = root / "certs"
    # its own healthcheck, as the file says, passes
    check = [
        a.replace("/mosquitto/certs", str(certs)) for a in services["mosquitto"]["healthcheck"]["test"][1:]
    ]
    check = [a.replace("$$", "$") for a in check]
    check[check.index("8883")] = str(tls)
    ran = subprocess.run(check, capture_output=True, text=True, timeout=30, check=False)
    assert ran.returncode == 0, ran.stderr

    # a gateway and an edge node with their certificates: a smoke alarm becomes a case
    db = f"sqlite:///{tmp_path / 'gw.db'}"
    mqtt_tls = {
        "tls_ca": certs / "ca.crt",
        "tls_cert": certs / "gateway-1.crt",
        "tls_key": certs / "gateway-1.key",
    }
    gw = Gateway(
        GatewaySettings(
            site_dir=DEMO_SITE, database_url=db, mqtt=MqttSettings(host="localhost", port=tls, **mqtt_tls)
        ),
        clock=site_time(10),
    )
    thread = threading.Thread(target=gw.run, daemon=True)
    thread.start()
    node = "node-gongye-1"
    outbox = Outbox(
        node,
        tmp_path / "outbox.sqlite3",
        BrokerSettings(
            host="localhost",
            port=tls,
            tls_ca=certs / "ca.crt",
            tls_cert=certs / f"{node}.crt",
            tls_key=certs / f"{node}.key",
        ),
    )
    outbox.start()
    try:
        assert gw.link.connected.wait(15), gw.link.problems()  # every subscription granted by the ACL
        event = HazardEvent(
            source=node,
            seq=0,
            hazard_type=HazardType.SMOKE_ALARM,
            severity=Severity.CRITICAL,
            confidence=1.0,
            state=EventState.NEW,
            episode_id="ep-compose",
            device_id="smk-factory-a1",
        )
        outbox.emit(topics.node_event(node), event, Priority.EVENT)

        def cases() -> list[str]:
            with gw.sessions() as s:
                return list(s.scalars(select(Case.device_id)))

        wait_until(lambda: cases() == ["smk-factory-a1"], timeout=20, what="the case")
        assert outbox.uplink.stats.refused_total == 0
    finally:
        outbox.stop()
        gw.stop()
        thread.join(timeout=15)

    # no plain listener at all (the base file defines none), and TLS without a certificate: refused
    assert listeners == [str(tls)]
    anonymous = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="anon")
    answers: list[str] = []
    dropped = threading.Event()
    anonymous.on_connect = lambda _c, _u, _f, rc, _p: answers.append(str(rc))
    anonymous.on_disconnect = lambda *_: dropped.set()
    anonymous.connect("127.0.0.1", tls)  # plain MQTT, no certificate: the broker drops it unanswered
    anonymous.loop_start()
    assert dropped.wait(10), "the TLS listener kept a plain, anonymous connection"
    anonymous.loop_stop()
    assert answers == []
    bare = subprocess.run(
        [
            "mosquitto_sub",
            "-h",
            "localhost",
            "-p",
            str(tls),
            "--cafile",
            str(certs / "ca.crt"),
            "-t",
            "#",
            "-C",
            "1",
            "-W",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bare.returncode != 0
