"""The demo: the whole pipeline on the embedded defaults.

A private Mosquitto, the gateway (SQLite), the HTTP API, telemetry to a private
VictoriaMetrics when it is installed, and the demo site's two edge nodes running
for real: their cameras play the clips in ../shared/media through the detector
in ../shared/models, their sensors listen for zigbee2mqtt and GridWatch devices.
Only the devices and the workers' phones are simulated, and they speak exactly
what real ones put on the wire (zigbee2mqtt JSON, the contracts), so every
message crosses the node's alarm logic, its outbox, the broker and the gateway.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
import uvicorn
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console

from contracts import GeoPoint, TaskOffer, decode, topics, utcnow
from contracts.dynsec import DynsecError
from contracts.site import Site, load_site
from contracts.site.access import IssuedTokens, Role
from contracts.site.schedule import any_active
from edge.simulator import Broker, worker_fix
from gridwatch import demo_logins
from gridwatch.broker import BrokerError, Mosquitto, free_port
from gridwatch.demo_commands import demo_site_copy, raise_alarm_command, telemetry_curl
from gridwatch.demo_devices import DemoDevices
from gridwatch.demo_feed import CaseFeed, get_json
from gridwatch.demo_logins import DemoLogins
from gridwatch.victoria import VictoriaMetrics, find_victoria_metrics

if TYPE_CHECKING:
    from edge.node import EdgeNode

REPO = Path(__file__).resolve().parents[1]
DEMO_SITE = REPO / "device_configs" / "demo_site"
SHARED_MEDIA = REPO.parent / "shared" / "media"
FIRST_ALARM = "smk-factory-a1"  # zigbee2mqtt smoke detector in a factory, industrial park grid 1
SECOND_ALARM = "gas-restaurant-3"  # restaurant kitchen gas detector speaking GridWatch, Donghu grid 3
SECOND_ALARM_LEL = 32.0  # past the 25 %LEL major threshold (GB/T 50493)
CASE_DEADLINE_S = 30
DEMO_OPERATOR = "op-demo"  # the command-centre operator the demo makes a token for


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _phones(site: Site, logins: DemoLogins, console: Console) -> list[mqtt.Client]:
    """Stand in for the workers' phones: each logs in as its worker (client id = login, which the
    dynamic-security plugin binds), reads its own task topic and prints each offer."""

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            offer = decode(msg.topic, msg.payload)
        except Exception as exc:
            console.print(f"[red]phone got a bad message on {msg.topic}: {exc}[/]")
            return
        if isinstance(offer, TaskOffer):
            console.print(
                f"📱 [bold]{offer.worker_id}[/]'s phone received task {offer.task_id[:8]}…: "
                f"{offer.title} ({'urgent' if offer.urgent else 'patrol'}) — {offer.reason}"
            )

    phones = []
    for worker_id in sorted(site.workers):
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=worker_id)
        client.username_pw_set(worker_id, logins.passwords[worker_id])
        task_topic = topics.worker_task(worker_id)
        client.on_connect = lambda c, *_a, t=task_topic: c.subscribe(t, qos=1)
        client.on_message = on_message
        client.connect(logins.host, logins.port)
        client.loop_start()
        phones.append(client)
    return phones


def _place_workers(site: Site, logins: DemoLogins, state_dir: Path) -> int:
    """On-duty workers report a position near their home grid, as phones do."""
    rng = random.Random(7)
    placed = 0
    for worker in site.workers.values():
        if not any_active(worker.duty, utcnow(), site.settings.site.tz):
            continue
        home = site.areas[worker.home_grid].centroid
        spot = GeoPoint(lon=home.lon + rng.uniform(-0.002, 0.002), lat=home.lat + rng.uniform(-0.002, 0.002))
        worker_fix(worker.id, spot, logins.broker(worker.id), state_dir)
        placed += 1
    return placed


def _node_login(site: Site, logins: DemoLogins, device_id: str) -> tuple[str, str]:
    """The login of the node that hosts ``device_id`` (simulate-alarm speaks as that node)."""
    found = site.device(device_id)
    assert found is not None, device_id
    return found[0], logins.passwords[found[0]]


def _wait_for_dispatch(feed: CaseFeed, device: str, timeout: float) -> dict[str, Any] | None:
    """The feed already reads the case list; wait on what it has seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        case = feed.find(lambda c: c["device_id"] == device and c["status"] == "dispatched")
        if case is not None:
            return case
        time.sleep(0.1)
    return None


def _demo_operator(db_url: str, site: Site) -> str:
    """An operator account for the command centre's console, covering the whole demo town; returns
    its password (made for this run, printed once)."""
    import secrets

    from gateway.people import service
    from gateway.people.models import Role
    from gateway.people.passwords import Passwords
    from gateway.store.db import make_engine, session_factory

    password = secrets.token_urlsafe(9)
    roots = tuple(sorted(a.id for a in site.areas.values() if not a.parent))
    spec = service.PersonSpec(DEMO_OPERATOR, "演示值班员 Demo operator", (Role.OPERATOR,), roots)
    engine = make_engine(db_url)
    with session_factory(engine)() as session, session.begin():
        person = service.add_person(session, spec, "demo", utcnow(), Passwords().hash(password))
        person.must_change_password = False  # a demo: straight to the console
    engine.dispose()
    return password


def prepare_workdir(workdir: Path) -> Path:
    """Every demo starts from a clean slate."""
    workdir = workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return workdir


def _start_telemetry(workdir: Path, console: Console) -> VictoriaMetrics | None:
    if find_victoria_metrics() is None:
        console.print("telemetry: off (install victoria-metrics, or scripts/setup.sh does it)")
        return None
    try:
        vm = VictoriaMetrics(workdir / "victoria-metrics").start()
    except BrokerError as exc:
        console.print(f"[yellow]telemetry: off ({exc})[/]")
        return None
    console.print(f"Telemetry: VictoriaMetrics on {vm.url} (InfluxDB v2 write API)")
    return vm


def _start_edge_nodes(site: Site, logins: DemoLogins, workdir: Path, console: Console) -> list[EdgeNode]:
    """The site's edge nodes, for real: cameras, sensors, outbox and uplink, each logged in as itself."""
    from edge.node import EdgeNode
    from edge.settings import BrokerSettings, EdgeSettings

    nodes = []
    for config in site.nodes.values():
        node_id = config.node.id
        uplink = BrokerSettings(
            host=logins.host, port=logins.port, username=node_id, password=logins.passwords[node_id]
        )
        settings = EdgeSettings(state_dir=workdir / "edge", uplink=uplink, health_interval_s=15)
        node = EdgeNode(config, settings)
        node.start()
        nodes.append(node)
        cameras = ", ".join(c.id for c in config.cameras) or "none"
        console.print(f"edge node [bold]{node.node_id}[/]: {len(config.sensors)} sensors, cameras {cameras}")
    for node in nodes:
        if node.bus.needed and not node.bus.connected.wait(10):
            console.print(f"[yellow]{node.node_id} is not listening to its sensors yet[/]")
    return nodes


def run_demo(
    workdir: Path, api_port: int, stop: threading.Event, exit_after: float | None, console: Console
) -> int:
    started = time.monotonic()
    workdir = workdir.resolve()
    if SHARED_MEDIA.is_dir():
        os.environ.setdefault("GRIDWATCH_MEDIA", str(SHARED_MEDIA))
    site_dir = demo_site_copy(DEMO_SITE, workdir)
    site = load_site(site_dir)

    # Mosquitto with the dynamic-security plugin and its administrator alone; every other login
    # is provisioned below as an installer's would be (gridwatch/demo_logins.py): no anonymous access.
    dynsec_file, admin_password = demo_logins.bootstrap(workdir / "broker" / "auth")
    try:
        mosquitto = Mosquitto(workdir / "broker", dynsec_file=dynsec_file).start()
        logins = demo_logins.provision(site, mosquitto.host, mosquitto.port, admin_password)
    except (BrokerError, DynsecError) as exc:
        console.print(f"[red]cannot start the MQTT broker: {exc}[/]")
        console.print("Install it with: sudo apt-get install -y mosquitto  (scripts/setup.sh does this)")
        return 2
    logins.write(workdir / "broker" / "credentials.json")
    broker = Broker(mosquitto.host, mosquitto.port)
    console.print(f"MQTT broker: Mosquitto on {broker.host}:{broker.port} (log: {mosquitto.log_path})")
    console.print(
        f"broker logins: {len(logins.passwords)} (nodes, devices, phones, zigbee2mqtt, gateway) through "
        f"dynamic security in {logins.seconds:.1f} s; no anonymous access; passwords in "
        f"{workdir / 'broker' / 'credentials.json'}"
    )
    console.print(f"GridWatch's own log: {workdir / 'gridwatch.log'}")
    vm = _start_telemetry(workdir, console)

    from cloud_api.app import create_app
    from cloud_api.settings import ApiSettings
    from gateway.service import Gateway
    from gateway.settings import GatewaySettings, MqttSettings
    from gateway.telemetry_influx import InfluxSettings

    db_url = f"sqlite:///{workdir / 'gridwatch.db'}"
    gw = Gateway(
        GatewaySettings(
            site_dir=site_dir,
            database_url=db_url,
            mqtt=MqttSettings(
                host=broker.host,
                port=broker.port,
                username=demo_logins.GATEWAY,
                password=logins.passwords[demo_logins.GATEWAY],
            ),
            influx=InfluxSettings(url=vm.url if vm else None),
        )
    )
    gw_thread = threading.Thread(target=gw.run, name="gateway", daemon=True)
    gw_thread.start()

    if api_port == 0 or not _port_free(api_port):
        wanted, api_port = api_port, free_port()
        if wanted:
            console.print(f"port {wanted} is busy; the API uses {api_port} instead")
    tokens = IssuedTokens([DEMO_OPERATOR], site.workers)  # this run only: printed below, kept nowhere
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(
                ApiSettings(
                    site_dir=site_dir,
                    database_url=db_url,
                    api_tokens=tokens.env(),
                    # installers issue, rotate and revoke devices' logins from their page
                    dynsec_host=broker.host,
                    dynsec_port=broker.port,
                    dynsec_username=demo_logins.ADMIN,
                    dynsec_password=admin_password,
                )
            ),
            host="127.0.0.1",
            port=api_port,
            log_config=None,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
    )
    threading.Thread(target=server.run, name="api", daemon=True).start()
    api = f"http://127.0.0.1:{api_port}"
    phones: list[mqtt.Client] = []
    op_token = tokens.token(Role.OPERATOR, DEMO_OPERATOR)
    op_header = {"Authorization": f"Bearer {op_token}"}
    feed = CaseFeed(api, console, headers=op_header)
    nodes: list[EdgeNode] = []
    devices: DemoDevices | None = None
    try:
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        gw.link.connected.wait(10)
        console_password = _demo_operator(db_url, site)  # the API has made the store by now
        feed.start()

        state = workdir / "sim"
        placed = _place_workers(site, logins, state)
        console.print(f"{placed} on-duty grid workers reported their positions")
        phones = _phones(site, logins, console)  # after the fixes: each phone's client id is its login
        nodes = _start_edge_nodes(site, logins, workdir, console)
        devices = DemoDevices(site, broker, logins=logins.passwords)

        devices.zigbee_smoke(FIRST_ALARM)
        console.print(
            f"🔥 zigbee2mqtt smoke detector [bold]{FIRST_ALARM}[/] (鑫达五金厂 factory floor) sounds"
        )
        case = _wait_for_dispatch(feed, FIRST_ALARM, CASE_DEADLINE_S)
        if case is None:
            console.print(f"[red]no case appeared within {CASE_DEADLINE_S} s; see {mosquitto.log_path}[/]")
            return 1
        elapsed = time.monotonic() - started
        console.print(
            f"✅ case {case['id']} is [bold]{case['status']}[/] to [bold]{case['assigned_worker_id']}[/] "
            f"in grid {case['grid_id']} ({elapsed:.1f} s after start)"
        )
        devices.gas_reading(SECOND_ALARM, SECOND_ALARM_LEL)
        console.print(
            f"🔥 gas detector [bold]{SECOND_ALARM}[/] (restaurant kitchen) reads {SECOND_ALARM_LEL:g} %LEL"
        )
        vm_line = f"  telemetry          {telemetry_curl(vm.url)}\n" if vm else ""
        worker = case["assigned_worker_id"]
        task_id = get_json(f"{api}/api/v1/cases/{case['id']}", op_header)["tasks"][-1]["id"]  # type: ignore[index]
        op_auth = f"-H 'Authorization: Bearer {op_token}'"
        worker_auth = f"-H 'Authorization: Bearer {tokens.token(Role.WORKER, worker)}'"
        console.print(
            f"\n[bold]Act on it[/] (API tokens made for this run: operator {DEMO_OPERATOR} and one per "
            "worker; see docs/api-access.md):"
        )
        json_body = "-H 'Content-Type: application/json' -d '{}'"
        console.print(  # plain: a token may contain what rich would take for markup or an emoji code
            f"  {worker} accepts  curl -s -X POST {worker_auth} {json_body} "
            f"{api}/api/v1/tasks/{task_id}/accept\n"
            f"  centre confirms    curl -s -X POST {op_auth} {json_body} "
            f"{api}/api/v1/cases/{case['id']}/confirm",
            highlight=False,
            markup=False,
            emoji=False,
        )
        console.print("\n[bold]Look at it[/] (every read needs a sign-in too):")
        console.print(  # plain, like the tokens above
            f"  console            {api}/   (in a browser; sign in as {DEMO_OPERATOR} / {console_password})\n"
            f"  API docs           {api}/docs   (after signing in)\n"
            f"  cases              curl -s {op_auth} {api}/api/v1/cases\n"
            f"  one case + audit   curl -s {op_auth} {api}/api/v1/cases/{case['id']}\n"
            f"  the worker's tasks curl -s {op_auth} {api}/api/v1/workers/{worker}/tasks\n"
            f"  edge nodes         curl -s {op_auth} {api}/api/v1/sources\n"
            f"  dead letters       curl -s {op_auth} {api}/api/v1/dead-letters\n"
            f"{vm_line}"
            "  raise another      "
            + raise_alarm_command(
                "smk-rental-12",
                broker.port,
                site_dir,
                _node_login(site, logins, "smk-rental-12"),
            ),
            highlight=False,
            markup=False,
            emoji=False,
        )
        console.print("The cameras keep playing their clips: the sealed workshop's camera sees a fire.")
        console.print("Press Ctrl-C to stop.")
        while not stop.is_set():
            if exit_after is not None and time.monotonic() - started >= exit_after:
                break
            stop.wait(0.5)
        return 0
    finally:
        feed.stop()
        if devices is not None:
            devices.close()
        for node in nodes:
            node.stop()
        for phone in phones:
            phone.disconnect()
            phone.loop_stop()
        server.should_exit = True
        gw.stop()
        gw_thread.join(timeout=10)
        if vm is not None:
            vm.stop()
        mosquitto.stop()
