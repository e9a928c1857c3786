"""What MQTT over TLS costs the edge outbox: plain TCP against TLS with a client certificate,
alternating in one run through one real Mosquitto (a plain and a TLS listener).

Prints one JSON line. Usage: ``.venv/bin/python bench/tls_uplink.py [--messages N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.outbox_throughput import NODE, TOPIC, readings
from edge.emit import Priority
from edge.outbox import Outbox
from edge.settings import BrokerSettings, OutboxSettings
from gridwatch.broker import Mosquitto, free_port, wait_for_port
from gridwatch.certs import CertificateAuthority


def sustained(settings: BrokerSettings, work: Path, n: int) -> float:
    shutil.rmtree(work, ignore_errors=True)
    outbox = Outbox(
        NODE, work / "outbox.sqlite3", settings, OutboxSettings(publish_rate=0, capacity=1_000_000)
    )
    outbox.start()
    if not outbox.uplink.connected.wait(15):
        raise RuntimeError(f"outbox did not connect: {outbox.uplink.stats.last_error}")
    messages = readings(n)
    start = time.perf_counter()
    for m in messages:
        outbox.emit(TOPIC, m, Priority.TELEMETRY)
    while outbox.store.depth:
        time.sleep(0.002)
    elapsed = time.perf_counter() - start
    outbox.stop()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-tls-"))
    ca = CertificateAuthority.create(tmp / "certs", "bench CA")
    server = ca.server("broker", ["localhost"])
    ca.client(NODE)
    tls_port = free_port()
    broker = Mosquitto(
        tmp / "broker",
        extra_config=(
            f"listener {tls_port} 127.0.0.1\ncafile {ca.cert_path}\ncertfile {server.cert_path}\n"
            f"keyfile {server.key_path}\nrequire_certificate true\nuse_identity_as_username true\n"
        ),
    ).start()
    wait_for_port("127.0.0.1", tls_port)
    plain = BrokerSettings(host=broker.host, port=broker.port)
    tls = BrokerSettings(
        host="localhost",
        port=tls_port,
        tls_ca=ca.cert_path,
        tls_cert=tmp / "certs" / f"{NODE}.crt",
        tls_key=tmp / "certs" / f"{NODE}.key",
    )
    plain_rates, tls_rates, ratios = [], [], []
    try:
        for r in range(args.rounds):
            plain_rates.append(sustained(plain, tmp / f"plain-{r}", args.messages))
            tls_rates.append(sustained(tls, tmp / f"tls-{r}", args.messages))
            ratios.append(tls_rates[-1] / plain_rates[-1])
    finally:
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median
    print(
        json.dumps(
            {
                "bench": "edge_outbox_tls",
                "messages": args.messages,
                "rounds": args.rounds,
                "plain_msg_s": round(med(plain_rates)),
                "tls_msg_s": round(med(tls_rates)),
                "tls_vs_plain": round(med(ratios), 3),
                "load_average": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
