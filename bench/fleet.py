"""The fleet view for 10,000 devices: ``GET /api/v1/fleet`` through the whole app (ASGI, in process,
a real access token), on a registry of 10,000 nodes, cameras and sensors spread over the demo site's
grids, 300 of them with an open maintenance case.

- ``site``: a whole-site operator's view (every device);
- ``troubled``: the same, only devices with an open maintenance case (``?troubled=true``);
- ``area``: an installer of one community (the industrial park), the devices of its grids.

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
            for name, params, headers in (
                ("site_all", {}, operator),
                ("site_page", {"limit": 500}, operator),
                ("site_troubled", {"troubled": "true"}, operator),
                ("area_all", {}, installer),
            ):
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    resp = client.get("/api/v1/fleet", params=params, headers=headers)
                    times.append(time.perf_counter() - started)
                    assert resp.status_code == 200, resp.text
                out[name] = {**ms(times), "items": len(resp.json()["items"]), "bytes": len(resp.content)}
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
