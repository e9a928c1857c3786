"""The grid worker's phone over the HTTP API: steps applied once whatever the retries, photos
checked and cleaned, 随手拍 reports opening cases, patrol from the phone, the task list.

The pipeline (harness) and the API share one store and one controllable clock. Expected truths
are computed here (distances, grids, counts in the store), not read from the product's answers.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from contracts import GeoPoint
from contracts.geo import haversine_m
from gateway.cases.models import Case, CaseTransition
from gateway.dispatch.models import Task
from gateway.events.models import ApiReceipt, EventRecord
from gateway.evidence.models import Evidence
from tests.support.clock import SHANGHAI
from tests.support.dispatching import tasks, the_case
from tests.support.harness import ApiTokens, Harness
from tests.support.photos import camera_jpeg, jpeg_claiming, png_bomb


@pytest.fixture
def ma(api_tokens: ApiTokens) -> dict[str, str]:
    return api_tokens.worker("w-ma-li")


def _key() -> str:
    return str(uuid.uuid4())


def _count(h: Harness, model: type, *where: object) -> int:
    with h.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _worker_trail(h: Harness, case_id: str) -> list[CaseTransition]:
    with h.sessions() as s:
        return list(
            s.scalars(
                select(CaseTransition)
                .where(CaseTransition.case_id == case_id, CaseTransition.actor == "worker:w-ma-li")
                .order_by(CaseTransition.id)
            )
        )


def _offset(lon: float, lat: float, metres_north: float) -> tuple[float, float]:
    return lon, lat + metres_north / 111_195.0


def _smoke_task(h: Harness) -> tuple[Task, Case]:
    h.raise_event("smk-factory-a1", severity="critical")
    [task] = tasks(h)
    return task, the_case(h)


def test_a_step_sent_again_with_its_key_is_applied_once_and_answered_the_same(
    harness: Harness, api: TestClient, ma: dict[str, str]
) -> None:
    task, case = _smoke_task(harness)
    url = f"/api/v1/tasks/{task.id}"
    key = _key()
    first = api.post(f"{url}/accept", json={}, headers={**ma, "Idempotency-Key": key})
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    harness.clock.advance(30)
    again = api.post(f"{url}/accept", json={}, headers={**ma, "Idempotency-Key": key})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()  # the first answer, not a 409 against the new state
    # the same key for another request is a client bug, said plainly
    other = api.post(f"{url}/decline", json={"note": "busy"}, headers={**ma, "Idempotency-Key": key})
    assert other.status_code == 422 and "used for another request" in other.json()["detail"]
    # the store: one acceptance on the trail, one receipt
    assert [t.to_status for t in _worker_trail(harness, case.id)] == ["accepted"]
    assert _count(harness, ApiReceipt) == 1

    # too far: refused with the distance, and the refusal is what a retry gets too
    assert case.lon is not None and case.lat is not None
    lon, lat = _offset(case.lon, case.lat, 300)
    expected = haversine_m(lon, lat, case.lon, case.lat)
    far_key = _key()
    far = api.post(
        f"{url}/check-in",
        json={"location": {"lon": lon, "lat": lat}},
        headers={**ma, "Idempotency-Key": far_key},
    )
    body = far.json()
    assert far.status_code == 409 and body["distance_m"] == round(expected) and body["radius_m"] == 50
    assert f"{expected:.0f} m from the site" in body["detail"] and body["task_status"] == "accepted"
    retry = api.post(
        f"{url}/check-in",
        json={"location": {"lon": lon, "lat": lat}},
        headers={**ma, "Idempotency-Key": far_key},
    )
    assert retry.status_code == 409 and retry.json() == body
    near = _offset(case.lon, case.lat, 20)
    here = api.post(
        f"{url}/check-in",
        json={"location": {"lon": near[0], "lat": near[1]}},
        headers={**ma, "Idempotency-Key": _key()},
    )
    assert here.status_code == 200 and here.json()["status"] == "on_site"
    assert [t.to_status for t in _worker_trail(harness, case.id)] == ["accepted", "on_site"]


def test_a_step_kept_offline_says_when_it_was_taken_and_one_that_no_longer_applies_says_why(
    harness: Harness, api: TestClient, ma: dict[str, str]
) -> None:
    task, case = _smoke_task(harness)
    taken = harness.clock.now()
    harness.clock.advance(600)  # ten minutes without signal
    r = api.post(
        f"/api/v1/tasks/{task.id}/accept",
        json={"taken_at": taken.isoformat()},
        headers={**ma, "Idempotency-Key": _key()},
    )
    assert r.status_code == 200
    [accepted] = _worker_trail(harness, case.id)
    local = taken.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    assert f"taken on the phone at {local}" in accepted.reason

    # meanwhile the centre moved the task to someone else: the phone's next step is refused with why
    moved = api.post(f"/api/v1/tasks/{task.id}/reassign", json={"note": "closer worker"})
    assert moved.status_code == 200
    late = api.post(
        f"/api/v1/tasks/{task.id}/check-in",
        json={"location": {"lon": case.lon, "lat": case.lat}},
        headers={**ma, "Idempotency-Key": _key()},
    )
    body = late.json()
    assert late.status_code == 409 and body["task_status"] == "cancelled"
    assert "reassigned by op-1" in body["task_note"]


def test_a_photo_is_cleaned_kept_on_the_case_once_and_named_by_the_resolve(
    harness: Harness, api: TestClient, ma: dict[str, str]
) -> None:
    task, case = _smoke_task(harness)
    assert case.lon is not None and case.lat is not None
    url = f"/api/v1/tasks/{task.id}"
    near = _offset(case.lon, case.lat, 12)
    assert api.post(
        f"{url}/check-in", json={"location": {"lon": near[0], "lat": near[1]}}, headers=ma
    ).is_success
    shot = datetime(2026, 11, 18, 9, 55, 30)  # local time, as the camera writes it
    photo = camera_jpeg((4000, 3000), taken=shot, where=near, orientation=6)
    photo_id = _key()
    put = api.put(
        f"/api/v1/photos/{photo_id}?task_id={task.id}",
        content=photo,
        headers={
            **ma,
            "Content-Type": "image/jpeg",
            "Content-Disposition": 'attachment; filename="IMG_0001.JPG"',
        },
    )
    assert put.status_code == 201, put.text
    got = put.json()
    # upright (orientation 6: the 4000x3000 sensor image is a portrait), at most 1600 px
    assert (got["width"], got["height"]) == (1200, 1600)
    assert datetime.fromisoformat(got["taken_at"]) == shot.replace(tzinfo=SHANGHAI)
    assert got["lon"] == pytest.approx(near[0], abs=1e-6) and got["lat"] == pytest.approx(near[1], abs=1e-6)
    again = api.put(
        f"/api/v1/photos/{photo_id}?task_id={task.id}",
        content=photo,
        headers={**ma, "Content-Type": "image/jpeg"},
    )
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    with harness.sessions() as s:
        [row] = s.scalars(select(Evidence)).all()
        stored = Image.open(io.BytesIO(row.jpeg))
        listed = s.get(Case, case.id).evidence_ids  # type: ignore[union-attr]
    assert row.id == photo_id and row.device_id == "w-ma-li" and row.task_id == task.id
    assert len(row.jpeg) <= 200_000 and stored.format == "JPEG"
    assert not stored.getexif() and "comment" not in stored.info and "exif" not in stored.info
    assert photo_id in listed
    # the operator sees it: on the case, served by the evidence route
    assert photo_id in api.get(f"/api/v1/cases/{case.id}").json()["evidence_ids"]
    assert api.get(f"/api/v1/evidence/{photo_id}.jpg").content == row.jpeg
    assert api.get(f"/api/v1/evidence/{photo_id}.jpg", headers=ma).status_code == 200

    done = api.post(
        f"{url}/resolve",
        json={"result": "handled", "note": "拆除违规电线", "photos": [photo_id]},
        headers={**ma, "Idempotency-Key": _key()},
    )
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    trail = _worker_trail(harness, case.id)
    # arriving accepts the offer, then on site; the photo; the result naming it
    assert [(t.change, t.to_status) for t in trail] == [
        ("status", "accepted"),
        ("status", "on_site"),
        ("photo", "on_site"),
        ("status", "resolved"),
    ]
    assert "12 m from the site" in trail[2].reason and "(camera time)" in trail[2].reason
    assert f"photos: {photo_id}" in trail[3].reason
    missing = api.post(
        f"/api/v1/tasks/{task.id}/resolve", json={"result": "handled", "photos": [_key()]}, headers=ma
    )
    assert missing.status_code == 409


# (what, body, Content-Type, file name, status, words of the answer)
BAD_UPLOADS = [
    ("50 MB", lambda: b"\xff\xd8\xff" + bytes(50 * 1024 * 1024), "image/jpeg", "big.jpg", 413, "larger than"),
    ("a PDF", lambda: b"%PDF-1.7\n" + bytes(2000), "image/jpeg", "scan.jpg", 415, "a PDF document"),
    ("text", lambda: "检查记录 …".encode() * 50, "image/jpeg", None, 415, "the bytes are text"),
    (
        "a PNG sent as JPEG",
        lambda: _png(),
        "image/jpeg",
        "photo.jpg",
        415,
        "are PNG but were sent as image/jpeg",
    ),
    ("a JPEG named .png", lambda: camera_jpeg((640, 480)), "image/jpeg", "photo.png", 415, "says .png but"),
    ("a zip", lambda: b"PK\x03\x04" + bytes(500), "application/zip", "x.zip", 415, "ZIP archive"),
    ("a 400 MP PNG bomb", lambda: png_bomb(20_000, 20_000), "image/png", "bomb.png", 422, "decode safely"),
    ("a 64 MP PNG", lambda: png_bomb(8000, 8000), "image/png", "big.png", 422, "claims 8000×8000 pixels"),
    ("a JPEG claiming 65000 px", lambda: jpeg_claiming(65_000, 65_000), "image/jpeg", "x.jpg", 422, "safely"),
    (
        "a cut-off JPEG",
        lambda: camera_jpeg((2000, 1500))[:20_000],
        "image/jpeg",
        "x.jpg",
        422,
        "not be decoded",
    ),
]


def test_a_bad_upload_gets_a_clear_4xx_and_nothing_is_stored(
    harness: Harness, api: TestClient, ma: dict[str, str]
) -> None:
    task, _case = _smoke_task(harness)
    for what, make, content_type, filename, status, words in BAD_UPLOADS:
        headers = {**ma, "Content-Type": content_type}
        if filename:
            headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        r = api.put(f"/api/v1/photos/{_key()}?task_id={task.id}", content=make(), headers=headers)
        assert r.status_code == status, (what, r.text)
        assert words in r.json()["detail"], (what, r.text)
    assert _count(harness, Evidence) == 0 and _count(harness, ApiReceipt) == 0
    assert _count(harness, CaseTransition, CaseTransition.change == "photo") == 0


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


def test_a_worker_report_opens_a_case_in_its_grid_and_dispatches_it_once(
    harness: Harness, api: TestClient, ma: dict[str, str]
) -> None:
    site = harness.ctx.site
    where = GeoPoint(lon=120.3178, lat=31.4969)  # by workshop B (no production after 22:00)
    grid = site.grid_containing(where)
    assert grid is not None
    photo_id = _key()
    put = api.put(
        f"/api/v1/photos/{photo_id}",
        content=camera_jpeg((1600, 1200)),
        headers={**ma, "Content-Type": "image/jpeg"},
    )
    assert put.status_code == 201 and put.json()["case_id"] is None
    report_id = str(uuid.uuid4())
    body = {
        "id": report_id,
        "hazard_type": "illegal_workshop",
        "location": {"lon": where.lon, "lat": where.lat},
        "note": "卷帘门后有机器声",
        "photos": [photo_id],
    }
    r = api.post("/api/v1/reports", json=body, headers=ma)
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["opened"] is True and answer["grid_id"] == grid.id
    case_id = answer["case_id"]
    assert answer["status"] == "dispatched" and answer["assigned_worker_id"]
    again = api.post("/api/v1/reports", json=body, headers=ma)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert _count(harness, Case) == 1 and _count(harness, EventRecord, EventRecord.id == report_id) == 1
    with harness.sessions() as s:
        case = s.get(Case, case_id)
        assert case is not None
        [task] = s.scalars(select(Task).where(Task.case_id == case_id)).all()
        reported = s.scalars(
            select(CaseTransition).where(
                CaseTransition.case_id == case_id, CaseTransition.change == "reported"
            )
        ).one()
    assert case.grid_id == grid.id and case.device_id == "w-ma-li" and case.severity == "major"
    assert case.evidence_ids == [photo_id] and task.worker_id == answer["assigned_worker_id"]
    assert reported.actor == "worker:w-ma-li" and "卷帘门后有机器声" in reported.reason
    # a device trouble is not the worker's to report; an unknown photo stops the report
    maint = api.post(
        "/api/v1/reports", json={**body, "id": str(uuid.uuid4()), "hazard_type": "low_battery"}, headers=ma
    )
    assert maint.status_code == 422
    lost = api.post("/api/v1/reports", json={**body, "id": str(uuid.uuid4()), "photos": [_key()]}, headers=ma)
    assert lost.status_code == 409 and "has not arrived" in lost.json()["detail"]
    assert _count(harness, Case) == 1


def test_patrol_from_the_phone_builds_todays_route_and_track(
    harness: Harness, api: TestClient, ma: dict[str, str]
) -> None:
    site = harness.ctx.site
    route = site.patrols.route_of("w-ma-li")
    assert route is not None
    first = site.patrols.checkpoint(route.checkpoints[0])
    assert first is not None
    start = api.post(
        "/api/v1/workers/w-ma-li/patrol/start",
        json={"lon": first.location.lon, "lat": first.location.lat - 0.003},
        headers={**ma, "Idempotency-Key": _key()},
    )
    assert start.status_code == 200
    assert [s["checkpoint_id"] for s in start.json()["stops"]] == route.checkpoints
    harness.clock.advance(60)
    fix = api.post(
        "/api/v1/workers/w-ma-li/location",
        json={"lon": first.location.lon, "lat": first.location.lat, "on_patrol": True},
        headers=ma,
    )
    assert fix.status_code == 200 and fix.json()["newest"] is True
    visited_at = harness.clock.now()
    harness.clock.advance(30)
    # the fix checked the worker in at the first point: a tap on check-in there is no error
    again = api.post(
        "/api/v1/workers/w-ma-li/patrol/check-in",
        json={"lon": first.location.lon, "lat": first.location.lat},
        headers=ma,
    )
    assert again.status_code == 200, again.text
    assert again.json()["checkpoints"] == [] and again.json()["tasks"] == []
    [already] = again.json()["already"]
    assert already["checkpoint_id"] == route.checkpoints[0] and already["name"] == first.name
    assert datetime.fromisoformat(already["visited_at"]) == visited_at
    far = api.post(
        "/api/v1/workers/w-ma-li/patrol/check-in",
        json={"lon": first.location.lon, "lat": first.location.lat - 0.003},
        headers=ma,
    )
    assert far.status_code == 409 and far.json()["distance_m"] > 50
    harness.clock.advance(30)
    stop = api.post(
        "/api/v1/workers/w-ma-li/patrol/stop",
        json={"lon": first.location.lon, "lat": first.location.lat},
        headers=ma,
    )
    day = stop.json()
    assert stop.status_code == 200 and day["visited_checkpoints"] == 1
    walked = haversine_m(
        first.location.lon, first.location.lat - 0.003, first.location.lon, first.location.lat
    )
    assert day["track"]["distance_m"] == pytest.approx(walked, rel=0.01)
    assert day["track"]["duration_s"] == 120  # from the start to the stop, whose fix ends the track
    assert (
        api.post(
            "/api/v1/workers/w-hu-bin/location", json={"lon": 120.3, "lat": 31.5}, headers=ma
        ).status_code
        == 403
    )


def test_the_phone_list_puts_urgent_and_nearest_deadline_first(
    harness: Harness, api: TestClient, ma: dict[str, str]
) -> None:
    harness.raise_event(
        "cam-factory-a", hazard_type="occupied_factory_dorm", zone_id="floor", severity="major"
    )
    harness.clock.advance(5)
    harness.raise_event("smk-factory-a1", severity="critical")
    cards = api.get("/api/v1/workers/w-ma-li/task-cards", headers=ma)
    assert cards.status_code == 200
    items = cards.json()["items"]
    with harness.sessions() as s:
        mine = {t.id: t for t in s.scalars(select(Task).where(Task.worker_id == "w-ma-li"))}
    assert {i["id"] for i in items} == set(mine)
    assert [i["urgent"] for i in items] == sorted((t.urgent for t in mine.values()), reverse=True)
    first = items[0]
    assert first["case"]["hazard_type"] == "smoke_alarm" and first["due"] is not None
    assert "工业" in first["case"]["address"] and first["case"]["lon"] is not None
    assert api.get("/api/v1/workers/w-hu-bin/task-cards", headers=ma).status_code == 403


def test_a_phone_sign_in_lasts_longer_for_a_worker_only(harness: Harness, api: TestClient) -> None:
    from tests.support.people import CHEAP_PASSWORDS, add_person

    add_person(
        harness.sessions, "w-ma-li", ["worker"], ["g-gongye-01"], "phone-password-1", worker_id="w-ma-li"
    )
    add_person(harness.sessions, "op-desk", ["operator"], ["c-gongye"], "desk-password-1")
    assert CHEAP_PASSWORDS
    anon = TestClient(api.app)

    def refresh_age(who: str, password: str) -> int:
        r = anon.post("/api/v1/auth/sign-in", json={"username": who, "password": password, "phone": True})
        assert r.status_code == 200, r.text
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("gw_refresh="))
        return int(cookie.split("Max-Age=")[1].split(";")[0])

    settings = api.app.state.settings  # type: ignore[attr-defined]
    assert refresh_age("w-ma-li", "phone-password-1") == settings.phone_session_ttl_s
    assert refresh_age("op-desk", "desk-password-1") == settings.session_ttl_s
    assert timedelta(seconds=settings.phone_session_ttl_s) > timedelta(seconds=settings.session_ttl_s)


def test_a_report_from_a_position_far_outside_the_site_is_refused_not_dispatched(
    harness: Harness, api: TestClient, ma: dict[str, str]
) -> None:
    """A phone that has no fresh fix hands out its last known one — the worker's home town, or
    0.1° off: a 随手拍 there opened a case 'in the nearest grid' hundreds of km away, offered it
    to a worker as an urgent trip of 580 km, and its five-minute deadline climbed to the
    department. A position far outside every grid (more than OUTSIDE_MAX_M) is refused with what
    to do; one just across a grid's border still goes to the nearest grid, as before."""
    from gateway.cases.service import OUTSIDE_MAX_M

    site = harness.ctx.site
    body = {"hazard_type": "gas_leak", "note": "闻到煤气味"}
    far = {"lon": 114.3, "lat": 30.6}  # Wuhan
    r = api.post("/api/v1/reports", json={**body, "id": str(uuid.uuid4()), "location": far}, headers=ma)
    assert r.status_code == 422, r.text
    assert "outside" in r.json()["detail"] and "position" in r.json()["detail"]
    assert _count(harness, Case) == 0
    # just outside the site: east of the easternmost grid by a few hundred metres
    edge = max(site.grids, key=lambda g: g.geometry.bounds[2])
    east, lat = edge.geometry.bounds[2], edge.geometry.centroid.y
    near = GeoPoint(lon=east + 300 / 95_000, lat=lat)
    assert harness.ctx.grids.locate(near) is None
    found = harness.ctx.grids.nearest(near)
    assert found is not None and found[1] < OUTSIDE_MAX_M
    r = api.post(
        "/api/v1/reports",
        json={**body, "id": str(uuid.uuid4()), "location": {"lon": near.lon, "lat": near.lat}},
        headers=ma,
    )
    assert r.status_code == 201, r.text
    assert r.json()["grid_id"] == found[0].id
