"""The demo: a private broker, the gateway, the API and a simulated site.

Everything runs on the embedded defaults (SQLite, a Mosquitto on a free port)
and is driven through the same MQTT topics real devices and phones use.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
import uvicorn
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console

from contracts import GeoPoint, TaskOffer, decode, topics, utcnow
from contracts.site import Site, load_site
from contracts.site.schedule import any_active
from edge.simulator import Broker, sensor_alarm, worker_fix
from gridwatch.broker import BrokerError, Mosquitto, free_port

REPO = Path(__file__).resolve().parents[1]
DEMO_SITE = REPO / "device_configs" / "demo_site"
SHARED_MEDIA = REPO.parent / "shared" / "media"
FIRST_ALARM = "smk-factory-a1"  # smoke detector in a factory, industrial park grid 1
SECOND_ALARM = "gas-restaurant-3"  # restaurant kitchen gas detector, Donghu grid 3
CASE_DEADLINE_S = 30


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _phone_listener(broker: Broker, console: Console) -> mqtt.Client:
    """Stands in for the workers' phones: prints each task offer as it arrives."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="demo-phones")

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

    def on_connect(c: mqtt.Client, *_: object) -> None:
        c.subscribe(f"{topics.ROOT}/worker/+/task", qos=1)

    client.on_message = on_message
    client.on_connect = on_connect
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def _place_workers(site: Site, broker: Broker, state_dir: Path) -> int:
    """On-duty workers report a position near their home grid, as phones do."""
    rng = random.Random(7)
    placed = 0
    for worker in site.workers.values():
        if not any_active(worker.duty, utcnow(), site.settings.site.tz):
            continue
        home = site.areas[worker.home_grid].centroid
        spot = GeoPoint(lon=home.lon + rng.uniform(-0.002, 0.002), lat=home.lat + rng.uniform(-0.002, 0.002))
        worker_fix(worker.id, spot, broker, state_dir)
        placed += 1
    return placed


def _wait_for_dispatch(api: str, device: str, timeout: float) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cases = _get_json(f"{api}/api/v1/cases")["items"]  # type: ignore[index]
        for case in cases:
            if case["device_id"] == device and case["status"] == "dispatched":
                return case
        time.sleep(0.3)
    return None


def run_demo(
    workdir: Path, api_port: int, stop: threading.Event, exit_after: float | None, console: Console
) -> int:
    started = time.monotonic()
    workdir = workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)  # every demo starts from a clean slate
    workdir.mkdir(parents=True)
    if SHARED_MEDIA.is_dir():
        os.environ.setdefault("GRIDWATCH_MEDIA", str(SHARED_MEDIA))
    site = load_site(DEMO_SITE)

    try:
        mosquitto = Mosquitto(workdir / "broker").start()
    except BrokerError as exc:
        console.print(f"[red]cannot start the MQTT broker: {exc}[/]")
        console.print("Install it with: sudo apt-get install -y mosquitto  (scripts/setup.sh does this)")
        return 2
    broker = Broker(mosquitto.host, mosquitto.port)
    console.print(f"MQTT broker: Mosquitto on {broker.host}:{broker.port} (log: {mosquitto.log_path})")

    from cloud_api.app import create_app
    from cloud_api.settings import ApiSettings
    from gateway.service import Gateway
    from gateway.settings import GatewaySettings, MqttSettings

    db_url = f"sqlite:///{workdir / 'gridwatch.db'}"
    gw = Gateway(
        GatewaySettings(
            site_dir=DEMO_SITE,
            database_url=db_url,
            mqtt=MqttSettings(host=broker.host, port=broker.port),
        )
    )
    gw_thread = threading.Thread(target=gw.run, name="gateway", daemon=True)
    gw_thread.start()

    if api_port == 0 or not _port_free(api_port):
        wanted, api_port = api_port, free_port()
        if wanted:
            console.print(f"port {wanted} is busy; the API uses {api_port} instead")
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(ApiSettings(site_dir=DEMO_SITE, database_url=db_url)),
            host="127.0.0.1",
            port=api_port,
            log_config=None,
            log_level="warning",
        )
    )
    threading.Thread(target=server.run, name="api", daemon=True).start()
    api = f"http://127.0.0.1:{api_port}"
    phones = _phone_listener(broker, console)
    try:
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        gw.link.connected.wait(10)

        state = workdir / "sim"
        placed = _place_workers(site, broker, state)
        console.print(f"{placed} on-duty grid workers reported their positions")
        sensor_alarm(site, FIRST_ALARM, broker, state)
        console.print(f"🔥 simulated smoke alarm from [bold]{FIRST_ALARM}[/] (鑫达五金厂 factory floor)")
        case = _wait_for_dispatch(api, FIRST_ALARM, CASE_DEADLINE_S)
        if case is None:
            console.print(f"[red]no case appeared within {CASE_DEADLINE_S} s; see {mosquitto.log_path}[/]")
            return 1
        elapsed = time.monotonic() - started
        console.print(
            f"✅ case {case['id']} is [bold]{case['status']}[/] to [bold]{case['assigned_worker_id']}[/] "
            f"in grid {case['grid_id']} ({elapsed:.1f} s after start)"
        )
        sensor_alarm(site, SECOND_ALARM, broker, state)
        console.print(f"🔥 simulated gas alarm from [bold]{SECOND_ALARM}[/] (restaurant kitchen)")
        console.print(
            "\n[bold]Look at it:[/]\n"
            f"  alert wall         {api}/   (open it in a browser: cases, map, audit trail)\n"
            f"  API docs           {api}/docs\n"
            f"  cases              curl -s {api}/api/v1/cases\n"
            f"  one case + audit   curl -s {api}/api/v1/cases/{case['id']}\n"
            f"  the worker's tasks curl -s {api}/api/v1/workers/{case['assigned_worker_id']}/tasks\n"
            f"  dead letters       curl -s {api}/api/v1/dead-letters\n"
            f"  raise another      gridwatch edge simulate-alarm smk-rental-12 --mqtt-port {broker.port}\n"
            "Press Ctrl-C to stop."
        )
        while not stop.is_set():
            if exit_after is not None and time.monotonic() - started >= exit_after:
                break
            stop.wait(0.5)
        return 0
    finally:
        phones.disconnect()
        phones.loop_stop()
        server.should_exit = True
        gw.stop()
        gw_thread.join(timeout=10)
        mosquitto.stop()
