"""What the grid worker's phone costs the API: a camera photo turned into stored evidence, and the
phone's task list of a worker who holds 200 tasks.

- ``photo``: ``PUT /api/v1/photos/{id}?task_id=…`` of a 10 MB camera JPEG (4000×3000, sensor
  noise, EXIF with time and GPS, orientation 6 — what a phone camera writes) through the whole app
  (ASGI, in process, the worker's real access token): type and size checks, header-only pixel
  count, EXIF, decode at reduced scale, upright, 1600 px, re-encode within 200 kB, the evidence
  row, the case's trail, the idempotency receipt — one transaction. Also the processing alone
  (gateway.evidence.photos.process), so the rest (body, store) shows as the difference.
- ``task_cards``: ``GET /api/v1/workers/w-ma-li/task-cards`` for a worker with 200 tasks (40 active,
  160 finished, each on its own case), as the phone asks for it (the active ones and the latest 30
  finished) and with every finished one (``finished=200``); for the phone's view also the CPU time
  the process spent per request (``_cpu``: wall time far above it is time spent waiting for a core).

    flock /work/bench.lock .venv/bin/python bench/worker_api.py         # ~1 min; --quick: fewer rounds

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from cloud_api.app import create_app
from cloud_api.settings import ApiSettings
from contracts.clock import ManualClock
from contracts.site import load_site
from gateway.cases.lifecycle import CaseStatus
from gateway.cases.models import Case
from gateway.dispatch.models import Task, TaskStatus
from gateway.evidence import photos
from gateway.people import service
from gateway.people.models import Person
from gateway.people.passwords import HashCost, Passwords
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # bench.stats when run as a script
from bench.stats import ms  # noqa: E402

SITE = REPO / "device_configs" / "demo_site"
PHOTO = REPO.parent / "shared" / "media" / "photos" / "messi5.jpg"
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Shanghai
WORKER, PASSWORD = "w-ma-li", "bench passphrase 1"
CHEAP = HashCost(time_cost=1, memory_kib=64, parallelism=1)  # sign-in is not what is measured here


def camera_jpeg(target_bytes: int) -> bytes:
    """A 4000×3000 photo of about ``target_bytes``, with EXIF like a phone camera's."""
    base = np.asarray(Image.open(PHOTO).convert("RGB").resize((4000, 3000)), dtype=np.int16)
    rng = np.random.default_rng(1)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2026:11:18 09:55:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (IFDRational(31), IFDRational(29), IFDRational(4400, 100))
    gps[3], gps[4] = "E", (IFDRational(120), IFDRational(18), IFDRational(4400, 100))
    for noise in (8, 16, 24, 32, 40, 48, 56, 64):
        pixels = (base + rng.integers(-noise, noise + 1, base.shape)).clip(0, 255).astype(np.uint8)
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "JPEG", quality=97, exif=exif.tobytes())
        if out.tell() >= target_bytes:
            return out.getvalue()
    return out.getvalue()


def fill(db_url: str, tasks: int, active: int) -> list[str]:
    """``tasks`` tasks of w-ma-li, each on its own case in the worker's grid; returns the active ids."""
    site = load_site(SITE)
    sessions = session_factory(make_engine(db_url))
    centre = site.areas["g-gongye-01"].geometry.centroid
    active_ids = []
    with sessions() as s, s.begin():
        for i in range(tasks):
            at = T0 - timedelta(minutes=tasks - i)
            case_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
            live = i >= tasks - active
            s.add(
                Case(
                    id=case_id,
                    hazard_type="smoke_alarm",
                    category="emergency",
                    severity="major",
                    status=(CaseStatus.DISPATCHED if live else CaseStatus.CLOSED).value,
                    urgent=i % 3 == 0,
                    place_key=f"bench/{i}",
                    device_id="smk-factory-a1",
                    grid_id="g-gongye-01",
                    lon=centre.x + (i % 20) * 1e-4,
                    lat=centre.y + (i // 20) * 1e-4,
                    title=f"烟感报警 · 车间烟感 {i}",
                    warnings=[],
                    evidence_ids=[],
                    event_count=1,
                    first_seen_at=at,
                    last_seen_at=at,
                    opened_at=at,
                    updated_at=at,
                )
            )
            s.flush()
            s.add(
                Task(
                    id=task_id,
                    case_id=case_id,
                    worker_id=WORKER,
                    status=(TaskStatus.OFFERED if live else TaskStatus.VERIFIED).value,
                    urgent=i % 3 == 0,
                    offered_at=at,
                    updated_at=at,
                    accept_by=at + timedelta(minutes=2),
                    on_site_by=at + timedelta(minutes=30),
                    reason_code="own_grid",
                    reason="nearest on-duty full-time worker in own grid",
                    shortlist=[],
                    note="",
                    result=None if live else "handled",
                )
            )
            if live:
                active_ids.append(task_id)
    return active_ids


def worker_client(db_url: str) -> TestClient:
    settings = ApiSettings(site_dir=SITE, database_url=db_url, password_time_cost=1, password_memory_kib=64)
    client = TestClient(create_app(settings, clock=ManualClock(T0 + timedelta(minutes=1))))
    client.__enter__()
    with client.app.state.sessions() as s, s.begin():  # type: ignore[attr-defined]
        person = s.get(Person, WORKER)
        assert person is not None, "worker accounts follow workers.yaml"
        service.set_password(s, person, Passwords(CHEAP).hash(PASSWORD), "bench", T0, False)
    signed = client.post("/api/v1/auth/sign-in", json={"username": WORKER, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    client.headers["Authorization"] = f"Bearer {signed.json()['access_token']}"
    return client


def run(rounds: int, uploads: int, db: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(make_engine(db_url))
        active = fill(db_url, tasks=200, active=40)
        client = worker_client(db_url)
        url = f"/api/v1/workers/{WORKER}/task-cards"
        for _ in range(20):  # warm-up: caches, the first statements compiled
            client.get(url)
        phone, everything, phone_cpu = [], [], []
        for _ in range(rounds):
            # CPU time of the whole process (all threads) beside the wall time: a request whose
            # wall time is far above its CPU time waited for a core (the machine is shared)
            t, c = time.perf_counter(), time.process_time()
            r = client.get(url)
            phone.append(time.perf_counter() - t)
            phone_cpu.append(time.process_time() - c)
            assert r.status_code == 200 and r.json()["count"] == 70, r.text[:200]
            t = time.perf_counter()
            r = client.get(url, params={"finished": 200})
            everything.append(time.perf_counter() - t)
            assert r.json()["count"] == 200

        photo = camera_jpeg(10 * 1024 * 1024)
        site = load_site(SITE)
        limits = photos.PhotoLimits()
        processing = []
        for _ in range(max(3, uploads // 3)):
            t = time.perf_counter()
            clean = photos.process(photo, "image/jpeg", "IMG_0001.JPG", site.settings.site.tz, limits)
            processing.append(time.perf_counter() - t)
        upload = []
        for i in range(uploads):
            task_id = active[i % len(active)]
            t = time.perf_counter()
            r = client.put(
                f"/api/v1/photos/{uuid.uuid4()}?task_id={task_id}",
                content=photo,
                headers={
                    "Content-Type": "image/jpeg",
                    "Content-Disposition": 'attachment; filename="IMG_0001.JPG"',
                },
            )
            upload.append(time.perf_counter() - t)
            assert r.status_code == 201, r.text
        client.__exit__(None, None, None)
    return {
        "bench": "worker_api",
        "store": db_url.split(":", 1)[0] if db else "sqlite",
        "task_cards_200_tasks_phone_view": ms(phone),
        "task_cards_200_tasks_phone_view_cpu": ms(phone_cpu),
        "task_cards_200_tasks_all": ms(everything),
        "photo_input_mb": round(len(photo) / 1024 / 1024, 2),
        "photo_input_px": [4000, 3000],
        "photo_stored_kb": round(len(clean.jpeg) / 1024, 1),
        "photo_stored_px": [clean.width, clean.height],
        "photo_upload_to_evidence": ms(upload),
        "photo_processing_only": ms(processing),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke run")
    parser.add_argument(
        "--db", help="a store URL (default: a fresh SQLite file); PostgreSQL: postgresql+psycopg://…"
    )
    args = parser.parse_args()
    rounds, uploads = (40, 6) if args.quick else (400, 40)
    print(json.dumps(run(rounds, uploads, args.db), ensure_ascii=False))


if __name__ == "__main__":
    main()
