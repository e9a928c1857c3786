"""MQTT over TLS with the site CA made by `gridwatch certs`, and the API over HTTPS.

A real Mosquitto with a TLS listener (require_certificate: a node must show a certificate
of the site CA), real edge nodes and a real gateway, the real `gridwatch api` serving HTTPS."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from contracts import Measurement, SensorReading, Unit, topics
from contracts.clock import ManualClock
from contracts.site import load_site
from edge.emit import Priority
from edge.outbox import Outbox
from edge.settings import BrokerSettings
from gateway.service import Gateway
from gateway.settings import GatewaySettings, MqttSettings
from gridwatch.broker import Mosquitto, free_port, wait_for_port
from gridwatch.certs import CertificateAuthority, mosquitto_listener
from tests.support.clock import site_time
from tests.support.paths import DEMO_SITE, REPO
from tests.support.processes.gateway import run_gridwatch
from tests.support.waiting import wait_until

NODE = "node-gongye-1"


@dataclass
class TlsBroker:
    broker: Mosquitto
    tls_port: int
    ca: CertificateAuthority
    certs: Path

    def settings(self, client: str | None, ca: Path | None = None) -> BrokerSettings:
        cert = (
            {"tls_cert": self.certs / f"{client}.crt", "tls_key": self.certs / f"{client}.key"}
            if client
            else {}
        )
        return BrokerSettings(port=self.tls_port, tls_ca=ca or self.ca.cert_path, keepalive_s=5, **cert)

    def log(self) -> str:
        return self.broker.log_path.read_text(errors="replace")


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    certs = tmp_path / "certs"
    ca = CertificateAuthority.create(certs, "test site CA")
    broker_cert = ca.server("broker", ["127.0.0.1", "localhost"])
    for client in (NODE, "gateway-1"):
        ca.client(client)
    # the same node id, signed by a CA the site never trusted
    rogue = CertificateAuthority.create(tmp_path / "rogue", "someone else's CA")
    rogue.client(NODE)
    tls_port = free_port()
    broker = Mosquitto(
        tmp_path / "broker",
        extra_config=mosquitto_listener(
            tls_port, ca.cert_path, broker_cert.cert_path, broker_cert.key_path, host="127.0.0.1"
        ),
    ).start()
    wait_for_port("127.0.0.1", tls_port)
    yield TlsBroker(broker, tls_port, ca, certs)
    broker.stop()


def _outbox(tmp_path: Path, settings: BrokerSettings, name: str) -> Outbox:
    clock = ManualClock(datetime(2026, 12, 2, 2, 0, tzinfo=UTC))
    return Outbox(
        NODE,
        tmp_path / name / "outbox.sqlite3",
        settings,
        clock=clock,
        birth=lambda: [(f"gridwatch/v1/node/{NODE}/status", b'{"tls":"ok"}')],
    )


def test_a_node_with_a_site_certificate_connects_over_tls(tls_broker: TlsBroker, tmp_path: Path) -> None:
    outbox = _outbox(tmp_path, tls_broker.settings(NODE), "good")
    outbox.start()
    try:
        assert outbox.uplink.connected.wait(15), outbox.uplink.stats.last_error
        assert outbox.uplink.client is not None
        sock = outbox.uplink.client.socket()
        inner = getattr(sock, "_sock", sock)
        assert isinstance(inner, ssl.SSLSocket) and inner.version() in ("TLSv1.2", "TLSv1.3")
        assert f"u'{NODE}'" in tls_broker.log()  # the certificate's CN is its broker username
        # a burst crosses TLS whole: buffered writes meet partial TLS writes, every PUBACK comes back
        topic = topics.node_reading(NODE)
        for i in range(3000):
            reading = SensorReading(
                source=NODE,
                seq=0,
                device_id="gas-1",
                measurements=[Measurement(quantity="gas", value=i % 50, unit=Unit.PERCENT_LEL)],
            )
            outbox.emit(topic, reading, Priority.TELEMETRY)
        wait_until(lambda: outbox.store.depth == 0, timeout=60, what="the outbox to drain over TLS")
        assert outbox.uplink.stats.connects == 1  # no reconnect on the way
    finally:
        outbox.stop()


def test_untrusted_nodes_are_refused(tls_broker: TlsBroker, tmp_path: Path) -> None:
    cases = {
        # a certificate of another CA, for the right node id
        "rogue": BrokerSettings(
            port=tls_broker.tls_port,
            tls_ca=tls_broker.ca.cert_path,
            tls_cert=tmp_path / "rogue" / f"{NODE}.crt",
            tls_key=tmp_path / "rogue" / f"{NODE}.key",
            keepalive_s=5,
        ),
        "no certificate": tls_broker.settings(None),
    }
    for name, settings in cases.items():
        outbox = _outbox(tmp_path, settings, name.replace(" ", "-"))
        outbox.start()
        try:
            wait_until(lambda o=outbox: o.uplink.stats.last_error, timeout=15, what=f"{name}: the refusal")
            assert not outbox.uplink.connected.is_set(), name
            assert outbox.uplink.stats.connects == 0, name
        finally:
            outbox.stop()
    log = tls_broker.log()
    assert "certificate verify failed" in log or "unknown ca" in log.lower(), log[-2000:]
    assert "peer did not return a certificate" in log, log[-2000:]


def test_a_node_refuses_a_broker_its_site_ca_did_not_sign(tls_broker: TlsBroker, tmp_path: Path) -> None:
    other = CertificateAuthority.create(tmp_path / "other", "not the site CA")
    outbox = _outbox(tmp_path, tls_broker.settings(NODE, ca=other.cert_path), "wrong-ca")
    outbox.start()
    try:
        error = wait_until(lambda: outbox.uplink.stats.last_error, timeout=15, what="the refusal")
        assert "CERTIFICATE_VERIFY_FAILED" in error
        assert not outbox.uplink.connected.is_set()
    finally:
        outbox.stop()


def test_the_gateway_receives_over_tls_with_its_own_certificate(
    tls_broker: TlsBroker, sqlite_url: str
) -> None:
    tls = {"tls_ca": tls_broker.ca.cert_path}
    tls |= {"tls_cert": tls_broker.certs / "gateway-1.crt", "tls_key": tls_broker.certs / "gateway-1.key"}
    settings = GatewaySettings(
        site_dir=DEMO_SITE, database_url=sqlite_url, mqtt=MqttSettings(port=tls_broker.tls_port, **tls)
    )
    gw = Gateway(settings, clock=site_time(10))
    thread = threading.Thread(target=gw.run, daemon=True)
    thread.start()
    try:
        assert gw.link.connected.wait(15), gw.link.problems()
        assert "u'gateway-1'" in tls_broker.log()  # the certificate's CN is its broker username
    finally:
        gw.stop()
        thread.join(timeout=15)


def test_the_api_serves_https_with_a_site_certificate(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    ca = CertificateAuthority.create(certs, "test site CA")
    api = ca.server("api", ["127.0.0.1"])
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gridwatch")),
            *("api", "--site", str(DEMO_SITE), "--db", f"sqlite:///{tmp_path / 'gw.db'}"),
            *("--port", str(port), "--tls-cert", str(api.cert_path), "--tls-key", str(api.key_path)),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        answer = wait_until(
            lambda: _get(
                f"https://127.0.0.1:{port}/api/v1/health",
                verify=ssl.create_default_context(cafile=ca.cert_path),
            ),
            timeout=30,
        )
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/api/v1/health")  # the system's CAs do not know the site CA
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/api/v1/health")  # no plain HTTP on the HTTPS port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _get(url: str, verify: ssl.SSLContext) -> httpx.Response | None:
    try:
        return httpx.get(url, verify=verify, timeout=5)
    except httpx.ConnectError:
        return None


def test_certs_site_makes_owner_only_keys_and_list_flags_expiry(tmp_path: Path) -> None:
    gridwatch = str(Path(sys.executable).with_name("gridwatch"))
    out = tmp_path / "certs"
    made = subprocess.run(
        [
            gridwatch,
            "certs",
            "site",
            str(DEMO_SITE),
            "--host",
            "mqtt.example",
            "--host",
            "10.0.0.5",
            "--dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    site = load_site(DEMO_SITE)
    names = {"ca", "broker", "api", "gateway-1", *site.nodes}
    assert {p.stem for p in out.glob("*.crt")} == names
    for key in out.glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    ca = CertificateAuthority.load(out)
    ctx = ssl.create_default_context(cafile=str(ca.cert_path))  # what a client will trust
    assert ctx.cert_store_stats()["x509_ca"] == 1
    again = subprocess.run(
        [gridwatch, "certs", "site", str(DEMO_SITE), "--host", "x", "--dir", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0 and made.stdout.count("made") == len(names) and "made" not in again.stdout
    listed = subprocess.run(
        [gridwatch, "certs", "list", "--dir", str(out)], capture_output=True, text=True, check=False
    )
    assert (
        listed.returncode == 0 and "server" in listed.stdout and "for mqtt.example, 10.0.0.5" in listed.stdout
    )
    soon = subprocess.run(
        [gridwatch, "certs", "list", "--dir", str(out), "--warn-days", "900"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert soon.returncode == 1 and "expire within 900 days" in soon.stderr


def test_a_missing_tls_file_stops_the_gateway_with_the_option_named(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("gridwatch")),
            "gateway",
            "--site",
            str(DEMO_SITE),
            "--db",
            f"sqlite:///{tmp_path / 'gw.db'}",
            "--mqtt-tls-ca",
            str(tmp_path / "nope.crt"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")},
    )
    assert done.returncode == 2
    assert "GRIDWATCH_MQTT_TLS_" in done.stderr and "nope.crt: no such file" in done.stderr
    assert not (tmp_path / "gw.db").exists()


def test_simulate_alarm_speaks_tls_with_the_node_certificate(tls_broker: TlsBroker, tmp_path: Path) -> None:
    certs = tls_broker.certs
    args = ["edge", "simulate-alarm", "smk-factory-a1", "--site", str(DEMO_SITE), "--mqtt-host", "localhost"]
    args += ["--mqtt-port", str(tls_broker.tls_port), "--mqtt-tls-ca", str(certs / "ca.crt")]
    args += ["--state-dir", str(tmp_path / "sim")]
    done = run_gridwatch(
        *args, "--mqtt-tls-cert", str(certs / f"{NODE}.crt"), "--mqtt-tls-key", str(certs / f"{NODE}.key")
    )
    assert done.returncode == 0 and "published smoke_alarm (new) from smk-factory-a1" in done.stdout, (
        done.stderr
    )
    assert f"u'{NODE}'" in tls_broker.log()
    refused = run_gridwatch(*args, timeout=60)  # no client certificate: the broker refuses it
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert "broker" in refused.stderr


def test_the_api_serves_its_metrics_on_their_own_port(tmp_path: Path) -> None:
    """An operator graphs the pages on the API's live feed (and residents' reports): Prometheus scrapes
    --metrics-port without signing in, while the API itself still wants a sign-in."""
    port, metrics = free_port(), free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gridwatch")),
            *("api", "--site", str(DEMO_SITE), "--db", f"sqlite:///{tmp_path / 'gw.db'}"),
            *("--port", str(port), "--metrics-port", str(metrics)),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port("127.0.0.1", metrics, timeout=60)
        wait_for_port("127.0.0.1", port, timeout=60)
        scraped = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=10)
        assert scraped.status_code == 200
        families = {line.split()[2] for line in scraped.text.splitlines() if line.startswith("# TYPE ")}
        assert "gridwatch_live_subscribers" in families, families  # pages on the live feed
        # a refusal counter is there at 0 before the first report, so increase() sees the first one
        assert 'gridwatch_resident_reports_total{outcome="limited"} 0.0' in scraped.text
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/cases", timeout=10).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)
