"""Provisioning devices through the product: a registry row and a dynamic-security login each.

For each of N new GridWatch-speaking sensors: the device's serial and place in the registry
(``gateway.devices.registry.import_serials`` then ``install``, one transaction each, SQLite) and
its own broker login over ``$CONTROL`` (``contracts.dynsec.Dynsec.provision``: role + client,
one admin connection per call, as the product makes it) on a real Mosquitto running the shipped
dynsec configuration (tests/support/brokers/secured.py). Then one of them connects with its new password.

    PYTHONPATH=. .venv/bin/python bench/provision.py --devices 1000   # ~1-2 min

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.dynsec import Dynsec
from contracts.geo import GeoPoint
from contracts.site import load_site
from contracts.topics import Login, Roster
from gateway.devices.models import Device
from gateway.devices.registry import import_serials, install
from gateway.grids.index import GridIndex
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory
from tests.support.brokers.secured import Login as Connect
from tests.support.brokers.secured import secured_broker

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "device_configs" / "demo_site"
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(devices: int) -> dict[str, Any]:
    site = load_site(SITE)
    grids = GridIndex(site.grids)
    where = site.grids[0].centroid
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        sessions = session_factory(engine)
        with secured_broker(Path(tmp) / "broker", "dynsec", Roster.from_site(site)) as sb:
            admin = Dynsec("127.0.0.1", sb.site_port, "admin", sb.password("admin"))
            registry_s, broker_s, passwords = [], [], {}
            for i in range(devices):
                ident, serial = f"gas-bench-{i:05d}", f"SNB{i:07d}"
                started = time.perf_counter()
                with sessions.begin() as s:
                    import_serials(s, f"serial,device_id,model,kind\n{serial},{ident},bench,sensor\n", T0)
                    row = s.get(Device, ident)
                    assert row is not None
                    row.status = "provisioned"  # as the site files' sync makes it once the planner adds it
                    install(s, grids, row, serial, GeoPoint(lon=where.lon, lat=where.lat), "bench", T0)
                middle = time.perf_counter()
                passwords[ident] = admin.provision(Login.DEVICE, ident)
                broker_s.append(time.perf_counter() - middle)
                registry_s.append(middle - started)
            last = f"gas-bench-{devices - 1:05d}"
            login = Connect(sb.site_port, last, passwords[last], client_id=last)
            assert login.accepted, "the last provisioned device cannot connect"
            login.close()
    total = [a + b for a, b in zip(registry_s, broker_s, strict=True)]
    return {
        "bench": "provision",
        "devices": devices,
        "per_device_ms": {
            "registry_p50": round(pct(registry_s, 0.5) * 1000, 2),
            "dynsec_p50": round(pct(broker_s, 0.5) * 1000, 2),
            "total_p50": round(pct(total, 0.5) * 1000, 2),
            "total_p99": round(pct(total, 0.99) * 1000, 2),
            "total_mean": round(statistics.mean(total) * 1000, 2),
        },
        "total_s": round(sum(total), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(run(args.devices)))


if __name__ == "__main__":
    main()
