"""The fleet view for 10,000 devices: ``GET /api/v1/fleet`` through the whole app (ASGI, in process,
a real access token), on a registry of 10,000 nodes, cameras and sensors spread over the demo site's
grids, 300 of them with an open maintenance case.

- ``site_all``: a whole-site operator's view, every device in one answer, uncompressed;
- ``site_all_gzip``: the same for a client that takes gzip (browsers do);
- ``site_all_unchanged``: the same asked again with the ETag it got (``If-None-Match``): a 304;
- ``site_page``: a page of 500; ``site_console``: the console's page (50, ``problems=true``);
- ``site_troubled``: only devices with an open maintenance case (``?troubled=true``);
- ``area_all``: an installer of one community (the industrial park), the devices of its grids.

    flock /work/bench.lock .venv/bin/python bench/fleet.py              # ~30 s; --db postgresql+psycopg://...

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete

from cloud_api.app import create_app
from cloud_api.settings import ApiSettings
from contracts.clock import ManualClock
from contracts.site import load_site
from contracts.site.access import IssuedTokens, Role
from gateway.cases.models import Case
from gateway.devices.models import Device
from gateway.people import service
from gateway.people.models import Role as PersonRole
from gateway.people.passwords import HashCost, Passwords
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # bench.stats when run as a script
from bench.stats import ms  # noqa: E402

SITE = REPO / "device_configs" / "demo_site"
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
TOKENS = IssuedTokens(["op-bench"])
CHEAP = HashCost(time_cost=1, memory_kib=64, parallelism=1)


def fill(db_url: str, devices: int, troubled: int) -> None:
    site = load_site(SITE)
    grids = [g for g in site.grids]
    sessions = session_factory(make_engine(db_url))
    with sessions() as s, s.begin():
        s.execute(delete(Device))  # the API's start filled it from the site files
        rows = []
        for i in range(devices):
            grid = grids[i % len(grids)]
            c = grid.centroid
            kind = "node" if i % 20 == 0 else "camera" if i % 3 == 0 else "sensor"
            rows.append(
                {
                    "id": f"dev-{i:05d}",
                    "kind": kind,
                    "node_id": None if kind == "node" else f"dev-{i - i % 20:05d}",
                    "type": "camera" if kind == "camera" else "smoke",
                    "name": f"设备 {i}",
                    "serial": f"SN{i:08d}",
                    "model": "bench",
                    "lon": c.lon,
                    "lat": c.lat,
                    "grid_id": grid.id,
                    "status": "online" if i % 10 else "offline",
                    "status_reason": "",
                    "status_since": T0,
                    "last_seen_at": T0 - timedelta(seconds=i % 600),
                    "config_version": "v1",
                    "software": "1.0",
                    "health": {"state": "streaming" if kind == "camera" else "ok", "error": ""},
                    "updated_at": T0,
                }
            )
        s.execute(Device.__table__.insert(), rows)
        for i in range(troubled):
            ident = f"dev-{i * (devices // troubled):05d}"
            grid = grids[(i * (devices // troubled)) % len(grids)]
            s.add(
                Case(
                    id=str(uuid.uuid4()),
                    hazard_type="device_offline",
                    category="maintenance",
                    severity="major",
                    status="new",
                    urgent=False,
                    place_key=ident,
                    device_id=ident,
                    grid_id=grid.id,
                    title=f"设备离线 · {ident}",
                    warnings=[],
                    evidence_ids=[],
                    event_count=1,
                    first_seen_at=T0,
                    last_seen_at=T0,
                    opened_at=T0,
                    updated_at=T0,
                )
            )


def run(rounds: int, devices: int, troubled: int, db: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(make_engine(db_url))
        settings = ApiSettings(
            site_dir=SITE,
            database_url=db_url,
            api_tokens=TOKENS.env(),
            password_time_cost=1,
            password_memory_kib=64,
        )
        with TestClient(create_app(settings, clock=ManualClock(T0))) as client:
            fill(db_url, devices, troubled)
            with client.app.state.sessions() as s, s.begin():  # type: ignore[attr-defined]
                spec = service.PersonSpec("inst-bench", "Bench", (PersonRole.INSTALLER,), ("c-gongye",))
                person = service.add_person(s, spec, "bench", T0, Passwords(CHEAP).hash("bench passphrase 1"))
                person.must_change_password = False
            signed = client.post(
                "/api/v1/auth/sign-in", json={"username": "inst-bench", "password": "bench passphrase 1"}
            )
            installer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
            client.cookies.clear()
            operator = {"Authorization": f"Bearer {TOKENS.token(Role.OPERATOR, 'op-bench')}"}
            out: dict[str, Any] = {
                "bench": "fleet",
                "devices": devices,
                "troubled": troubled,
                "store": db_url.split(":", 1)[0],
            }
            plain = {"Accept-Encoding": "identity"}
            gzipped = {"Accept-Encoding": "gzip"}
            etag = client.get("/api/v1/fleet", headers={**operator, **plain}).headers.get("ETag", "")
            for name, params, headers in (
                ("site_all", {}, {**operator, **plain}),
                ("site_all_gzip", {}, {**operator, **gzipped}),
                ("site_all_unchanged", {}, {**operator, **plain, "If-None-Match": etag}),
                ("site_page", {"limit": 500}, {**operator, **plain}),
                ("site_console", {"limit": 50, "problems": "true"}, {**operator, **plain}),
                ("site_troubled", {"troubled": "true"}, {**operator, **plain}),
                ("area_all", {}, {**installer, **plain}),
            ):
                times, cpu = [], []
                for _ in range(rounds):
                    started, cpu_started = time.perf_counter(), time.process_time()
                    resp = client.get("/api/v1/fleet", params=params, headers=headers)
                    times.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - cpu_started)
                    assert resp.status_code in (200, 304), resp.text
                out[name] = {
                    **ms(times),
                    # the process's CPU per answer (server and in-process client): what a loaded
                    # machine's wall clock hides
                    "cpu_ms": round(1000 * sum(cpu) / len(cpu), 1),
                    "status": resp.status_code,
                    "items": len(resp.json()["items"]) if resp.status_code == 200 else 0,
                    # what crossed the wire (httpx has already inflated a gzipped body)
                    "bytes": int(resp.headers.get("Content-Length", len(resp.content))),
                }
            return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--troubled", type=int, default=300)
    parser.add_argument("--db", help="a store URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    print(json.dumps(run(args.rounds, args.devices, args.troubled, args.db)))


if __name__ == "__main__":
    main()
