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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.outbox_throughput import NODE, outbox_sustained
from edge.settings import BrokerSettings
from gridwatch.broker import Mosquitto, free_port, wait_for_port
from gridwatch.certs import CertificateAuthority, mosquitto_listener


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
        extra_config=mosquitto_listener(
            tls_port, ca.cert_path, server.cert_path, server.key_path, host="127.0.0.1"
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
            plain_rates.append(outbox_sustained(broker, tmp / f"plain-{r}", args.messages, plain))
            tls_rates.append(outbox_sustained(broker, tmp / f"tls-{r}", args.messages, tls))
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
