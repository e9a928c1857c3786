"""群众吹哨 over the HTTP API, as an anonymous phone sends it: a report becomes a case in the grid
that covers it, dispatched like any other; its status link shows the progress and nothing
personal; hostile input is refused before it costs anything; one address is limited.

The pipeline (harness) and the API share one store and one controllable clock. Expected truths
(the grid, the limit's waits) are computed here from the site and the clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from cloud_api.app import create_app
from cloud_api.settings import ApiSettings
from contracts import GeoPoint
from gateway.cases.models import Case, CaseTransition
from gateway.dispatch.models import Task
from gateway.evidence.models import Evidence
from gateway.residents.models import ResidentReport
from gateway.residents.proof import solve
from tests.support.harness import Harness
from tests.support.paths import DEMO_SITE
from tests.support.photos import camera_jpeg, png_bomb

BITS = 8  # the tests' proof of work: 256 hashes on average (the product's default is 18)
LIMIT = 5
WINDOW_S = 3600
HOSTILE_NOTE = '<script>alert("x")</script><img src=x onerror=alert(1)> 3号楼后仓库有人住'


@pytest.fixture
def residents(harness: Harness, db_url: str) -> Iterator[TestClient]:
    settings = ApiSettings(
        site_dir=DEMO_SITE,
        database_url=db_url,
        password_memory_kib=64,
        resident_pow_bits=BITS,
        resident_reports_per_address=LIMIT,
        resident_window_s=WINDOW_S,
        resident_max_body_bytes=400_000,
    )
    with TestClient(create_app(settings, clock=harness.clock), client=("198.51.100.7", 40000)) as client:
        yield client


def _inside(h: Harness, grid_id: str, metres_north: float = 0) -> GeoPoint:
    c = h.ctx.site.areas[grid_id].centroid
    return GeoPoint(lon=c.lon, lat=c.lat + metres_north / 111_195.0)


def _report(h: Harness, where: GeoPoint, **more: Any) -> dict[str, Any]:
    report_id = str(uuid.uuid4())
    made = int(h.clock.now().timestamp())
    body: dict[str, Any] = {
        "id": report_id,
        "hazard_type": "occupied_factory_dorm",
        "location": {"lon": where.lon, "lat": where.lat},
        "proof": solve(BITS, h.ctx.site.settings.site.id, report_id, made),
    }
    body.update(more)
    return body


def _photo(data: bytes, content_type: str = "image/jpeg", name: str = "IMG_1.jpg") -> dict[str, str]:
    return {"content_type": content_type, "name": name, "data": base64.b64encode(data).decode()}


def _reports_metric(outcome: str) -> float:
    return REGISTRY.get_sample_value("gridwatch_resident_reports_total", {"outcome": outcome}) or 0.0


def _count(h: Harness, model: type) -> int:
    with h.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_report_becomes_a_dispatched_case_in_its_grid_and_its_link_shows_progress_not_people(
    harness: Harness, residents: TestClient
) -> None:
    where = _inside(harness, "g-gongye-01", 40)
    expected_grid = harness.ctx.site.grid_containing(where)
    assert expected_grid is not None
    body = _report(
        harness,
        where,
        note=HOSTILE_NOTE,
        phone="139 1234 5678",
        photo=_photo(camera_jpeg((1200, 900), where=(where.lon, where.lat))),
    )
    r = residents.post("/api/v1/public/reports", json=body)
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["grid_id"] == expected_grid.id and answer["grid_name"] == expected_grid.name
    assert answer["status_url"] == f"/ui/report/?r={body['id']}"

    with harness.sessions() as s:
        case = s.get(Case, s.get(ResidentReport, body["id"]).case_id)
        row = s.get(ResidentReport, body["id"])
        assert case.grid_id == expected_grid.id and case.device_id == "resident"
        assert "群众吹哨" in case.title  # marked as a resident's report
        assert body["id"] in case.evidence_ids  # the photo, cleaned, on the case
        photo = s.get(Evidence, body["id"])
        assert photo.jpeg.startswith(b"\xff\xd8") and b"TestPhone" not in photo.jpeg
        assert row.phone == "139 1234 5678" and row.note == HOSTILE_NOTE  # kept as typed: text
        assert "198.51.100.7" not in row.address_hash
        # nor its bare hash, which trying every IPv4 address would undo: a server secret keys it
        bare = hashlib.sha256(f"{harness.ctx.site.settings.site.id}|198.51.100.7".encode()).hexdigest()
        assert row.address_hash != bare
        tasks = list(s.scalars(select(Task).where(Task.case_id == case.id)))
        assert len(tasks) == 1 and case.status == "dispatched"
        trail = [t.reason for t in s.scalars(select(CaseTransition).where(CaseTransition.case_id == case.id))]
        # the trail says a number was left, not the number: the grid's workers read the trail
        assert any("left a phone number" in reason for reason in trail)
        assert not any("1234" in reason for reason in trail)

    status = residents.get(f"/api/v1/public/reports/{body['id']}")
    assert status.status_code == 200
    shown = status.json()
    assert shown["status"] == "dispatched" and shown["grid_name"] == expected_grid.name
    assert [s["step"] for s in shown["steps"]] == ["received", "dispatched"]
    worker = harness.ctx.site.workers[tasks[0].worker_id]
    for private in ("1234", "script", "仓库", worker.name, worker.id, worker.phone, case.id):
        assert private not in status.text, private

    # the phone's queue sends it again (the answer was lost): the same answer, nothing new
    again = residents.post("/api/v1/public/reports", json=body)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == answer
    assert _count(harness, ResidentReport) == 1 and _count(harness, Case) == 1

    unknown = residents.get(f"/api/v1/public/reports/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert residents.get("/api/v1/public/reports/not-a-uuid").status_code == 422


def test_hostile_reports_are_refused_before_they_open_anything(
    harness: Harness, residents: TestClient
) -> None:
    where = _inside(harness, "g-donghu-01")
    site = harness.ctx.site.settings.site.id
    post = residents.post
    cases: list[tuple[str, dict[str, Any] | bytes, int, str]] = []
    big = _report(harness, where, photo=_photo(b"\xff\xd8\xff" + bytes(420_000)))
    cases.append(("oversized body", json.dumps(big).encode(), 413, "larger than"))
    pdf = _report(harness, where, photo=_photo(b"%PDF-1.7\n" + bytes(2000)))
    cases.append(("a PDF sent as a photo", pdf, 415, "PDF"))
    text = _report(harness, where, photo=_photo(b"<script>alert(1)</script>", "image/png", "x.png"))
    cases.append(("text sent as a photo", text, 415, "not a photo"))
    lying = _report(harness, where, photo=_photo(camera_jpeg((64, 48)), "image/png", "x.png"))
    cases.append(("a JPEG sent as a PNG", lying, 415, "JPEG"))
    bomb = _report(harness, where, photo=_photo(png_bomb(20_000, 20_000), "image/png", "x.png"))
    cases.append(("a decompression bomb", bomb, 422, "pixels"))
    outside = _report(harness, GeoPoint(lon=where.lon + 0.5, lat=where.lat))
    cases.append(("outside the site", outside, 422, "outside"))
    device = _report(harness, where, hazard_type="low_battery")
    cases.append(("a device trouble", device, 422, "not something residents report"))
    lazy = _report(harness, where)
    lazy["proof"] = solve(2, site, lazy["id"], int(harness.clock.now().timestamp()))
    cases.append(("too little work", lazy, 422, "asks for 8"))
    borrowed = _report(harness, where)
    borrowed["proof"] = _report(harness, where)["proof"]  # another report's stamp
    cases.append(("a stamp of another report", borrowed, 422, "another site or another report"))
    stale = _report(harness, where)
    stale["proof"] = solve(
        BITS, site, stale["id"], int((harness.clock.now() - timedelta(days=3)).timestamp())
    )
    cases.append(("a stamp three days old", stale, 422, "too old"))
    forged = _report(harness, where)
    forged["proof"] = forged["proof"].rsplit(":", 1)[0] + ":zz9"
    cases.append(("a nonce that does not hold", forged, 422, ""))
    for what, made in (("a superscript digit", "1²"), ("a time past year 9999", "9" * 30)):
        odd = _report(harness, where)
        odd["proof"] = f"gw1:{BITS}:{site}:{odd['id']}:{made}:1"
        cases.append((f"a stamp with {what}", odd, 422, "must be numbers"))
    cases.append(("not a UUID", {**_report(harness, where), "id": "../../etc"}, 422, "UUID"))
    cases.append(("a phone with letters", _report(harness, where, phone="call <me>"), 422, "digits"))
    cases.append(("an unknown field", _report(harness, where, worker_id="w-ma-li"), 422, ""))
    for what, body, status, words in cases:
        if isinstance(body, bytes):
            r = post("/api/v1/public/reports", content=body, headers={"Content-Type": "application/json"})
        else:
            r = post("/api/v1/public/reports", json=body)
        assert r.status_code == status, (what, r.text)
        assert words in r.text, (what, r.text)
    assert (
        _count(harness, Case) == 0 and _count(harness, ResidentReport) == 0 and _count(harness, Evidence) == 0
    )


def test_fifty_reports_from_one_address_in_a_minute_are_refused_after_the_limit(
    harness: Harness, residents: TestClient
) -> None:
    where = _inside(harness, "g-qingshan-02")
    start = harness.clock.now()
    before = {o: _reports_metric(o) for o in ("accepted", "limited")}
    answers = []
    accepted: list[dict[str, Any]] = []
    for _ in range(50):
        body = _report(harness, where)
        r = residents.post("/api/v1/public/reports", json=body)
        answers.append(r)
        if r.status_code == 201:
            accepted.append(body)
        harness.clock.advance(1.2)  # fifty in one minute
    assert [r.status_code for r in answers] == [201] * LIMIT + [429] * (50 - LIMIT)
    last = answers[-1]
    # the first report leaves the window WINDOW_S after it arrived: that is the wait
    elapsed = (harness.clock.now() - timedelta(seconds=1.2) - start).total_seconds()
    assert int(last.headers["Retry-After"]) == int(WINDOW_S - elapsed) + 1
    assert "try again in" in last.json()["detail"]
    assert _count(harness, ResidentReport) == LIMIT
    assert _reports_metric("accepted") - before["accepted"] == LIMIT  # what an operator graphs
    assert _reports_metric("limited") - before["limited"] == 50 - LIMIT
    # a retry of an accepted report is answered (it is not a new report), limit or not
    again = residents.post("/api/v1/public/reports", json=accepted[0])
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    # another address is not held back by this one
    neighbour = TestClient(residents.app, client=("203.0.113.9", 40000))
    assert neighbour.post("/api/v1/public/reports", json=_report(harness, where)).status_code == 201
    # and after the window this address may report again
    harness.clock.advance(WINDOW_S)
    assert residents.post("/api/v1/public/reports", json=_report(harness, where)).status_code == 201


def test_reports_arriving_together_at_the_limit_do_not_all_pass(
    harness: Harness, residents: TestClient
) -> None:
    where = _inside(harness, "g-qingshan-02")
    bodies = [_report(harness, where) for _ in range(4 * LIMIT)]  # more than the pool (5 + 10)
    start = threading.Barrier(len(bodies))

    def send(body: dict[str, Any]) -> int:
        start.wait()  # all at once: each counts the others before any has committed
        return residents.post("/api/v1/public/reports", json=body).status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        codes = list(pool.map(send, bodies))
    assert sorted(codes) == [201] * LIMIT + [429] * (3 * LIMIT), codes
    assert _count(harness, ResidentReport) == LIMIT


def test_residents_on_ipv4_are_counted_one_by_one_behind_a_dual_stack_socket(
    harness: Harness, residents: TestClient
) -> None:
    """Served on '::' (dual stack), the API sees an IPv4 resident as ::ffff:a.b.c.d. Counted by
    its /64 like an IPv6 sender, every IPv4 resident of the internet fell in one bucket
    (::ffff:0:0/64): after five reports from anyone on IPv4, nobody on IPv4 could report for
    an hour. A mapped address is its IPv4 address: one household each, the same as when the
    API listens on 0.0.0.0."""
    where = _inside(harness, "g-qingshan-02")
    app = residents.app
    first = TestClient(app, client=("::ffff:198.51.100.20", 40000))
    for _ in range(LIMIT):
        assert first.post("/api/v1/public/reports", json=_report(harness, where)).status_code == 201
    assert first.post("/api/v1/public/reports", json=_report(harness, where)).status_code == 429
    # the same household seen on an IPv4 socket is the same sender
    plain = TestClient(app, client=("198.51.100.20", 40000))
    assert plain.post("/api/v1/public/reports", json=_report(harness, where)).status_code == 429
    # another IPv4 household behind the same socket is not held back
    other = TestClient(app, client=("::ffff:203.0.113.77", 40000))
    assert other.post("/api/v1/public/reports", json=_report(harness, where)).status_code == 201
