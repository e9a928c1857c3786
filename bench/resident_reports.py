"""What a resident's report costs each side: the phone's proof of work, the server's check of it, and
one report through the whole API.

- ``js_hashes_per_s``: the page's own proof-of-work code (cloud_api/static/report/proof-worker.js,
  plain-JS SHA-256 in a Web Worker) in headless Chromium on this machine, solving 16-bit stamps;
  the expected time for the product's default ``bits`` is 2**bits / that rate (a phone is slower,
  about 3-5× than a desktop core).
- ``verify_us``: the server's check of one stamp (gateway.residents.proof.check).
- ``report_ms``: ``POST /api/v1/public/reports`` with a 1600×1200 photo (base64), through the
  whole app in process (ASGI, SQLite): proof, per-address count, photo cleaning, case, dispatch.

    flock /work/bench.lock .venv/bin/python bench/resident_reports.py     # ~30 s

Prints one JSON line.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi.testclient import TestClient
from PIL import Image

from cloud_api.app import create_app
from cloud_api.settings import ApiSettings
from contracts.clock import ManualClock
from contracts.site import load_site
from gateway.residents.proof import check, solve

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "device_configs" / "demo_site"
BITS = 8


def js_rate(base: str) -> float:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--headless=new", "--no-sandbox"])
        page = browser.new_page()
        page.goto(base + "/ui/report/")
        result = page.evaluate(
            """async () => {
              let tries = 0, ms = 0;
              for (let i = 0; i < 8; i++) {
                const r = await new Promise((ok) => {
                  const w = new Worker('/ui/report/proof-worker.js');
                  w.onmessage = (e) => { w.terminate(); ok(e.data); };
                  w.postMessage({bits: 16, site: 'qingshan', id: 'bench-' + i, madeAt: 1764000000});
                });
                tries += r.tries; ms += r.ms;
              }
              return {tries, ms};
            }"""
        )
        browser.close()
    return result["tries"] / (result["ms"] / 1000)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    clock = ManualClock(datetime(2026, 11, 18, 2, 0, tzinfo=UTC))
    settings = ApiSettings(
        site_dir=SITE,
        database_url=f"sqlite:///{tmp / 'bench.db'}",
        password_memory_kib=64,
        resident_pow_bits=BITS,
        resident_reports_per_address=1000,
    )
    app = create_app(settings, clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=8767, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    rate = js_rate("http://127.0.0.1:8767")
    server.should_exit = True

    made = int(clock.now().timestamp())
    stamps = [(rid, solve(BITS, "qingshan", rid, made)) for rid in (str(uuid.uuid4()) for _ in range(2000))]
    t0 = time.perf_counter()
    for rid, stamp in stamps:
        check(stamp, "qingshan", rid, BITS, clock.now())
    verify_us = (time.perf_counter() - t0) / len(stamps) * 1e6

    out = io.BytesIO()
    Image.effect_noise((1600, 1200), 40).convert("RGB").save(out, "JPEG", quality=85)
    photo = base64.b64encode(out.getvalue()).decode()
    times = []
    where = load_site(SITE).areas["g-qingshan-02"].centroid
    with TestClient(create_app(settings, clock=clock)) as client:
        for _ in range(30):
            rid = str(uuid.uuid4())
            body = {
                "id": rid,
                "hazard_type": "fire_smoke",
                "location": {"lon": where.lon, "lat": where.lat},
                "photo": {"content_type": "image/jpeg", "data": photo},
                "proof": solve(BITS, "qingshan", rid, int(clock.now().timestamp())),
            }
            t = time.perf_counter()
            r = client.post("/api/v1/public/reports", json=body)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 201, r.text
            clock.advance(7200)  # each its own case: not joined to the last one
    print(
        json.dumps(
            {
                "js_hashes_per_s": round(rate),
                "expected_s_at_18_bits": round(2**18 / rate, 2),
                "verify_us": round(verify_us, 1),
                "report_ms_p50": round(statistics.median(times), 1),
                "report_ms_max": round(max(times), 1),
                "photo_bytes": len(out.getvalue()),
            }
        )
    )


if __name__ == "__main__":
    main()
