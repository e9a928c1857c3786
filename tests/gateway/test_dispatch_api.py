"""Task actions, patrol, supervision, availability and performance over the HTTP API.

The gateway's pipeline (harness) and the API share one store and one controllable clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from contracts import TaskOffer, decode, topics
from tests.support.dispatching import tasks, the_case
from tests.support.harness import ApiTokens, Harness


@pytest.fixture
def ma(api_tokens: ApiTokens) -> dict[str, str]:
    """w-ma-li's phone."""
    return api_tokens.worker("w-ma-li")


@pytest.fixture
def op(api_tokens: ApiTokens) -> dict[str, str]:
    """An operator's screen."""
    return api_tokens.operator("op-1")


def test_worker_walks_a_patrol_inspection_through_the_api(
    harness: Harness, api: TestClient, api_tokens: ApiTokens, ma: dict[str, str], op: dict[str, str]
) -> None:
    harness.raise_event(
        "cam-factory-a", hazard_type="occupied_factory_dorm", zone_id="floor", severity="major"
    )
    [task] = tasks(harness)
    case = the_case(harness)
    url = f"/api/v1/tasks/{task.id}"
    got = api.get(url).json()
    assert got["status"] == "offered" and {t["phase"] for t in got["timers"]} == {"worker_accept", "on_site"}

    harness.clock.advance(40)
    r = api.post(f"{url}/accept", json={"worker_id": "w-ma-li"}, headers=ma)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    again = api.post(f"{url}/accept", json={"worker_id": "w-ma-li"}, headers=ma)
    assert again.status_code == 409 and "is accepted; 'accept' needs offered" in again.json()["detail"]
    other = api.post(f"{url}/decline", json={"worker_id": "w-hu-bin"}, headers=api_tokens.worker("w-hu-bin"))
    assert other.status_code == 403 and "is not yours: it is w-ma-li's" in other.json()["detail"]
    assert api.post(f"{url}/jump", json={"worker_id": "w-ma-li"}, headers=ma).status_code == 422

    patrol = api.get("/api/v1/workers/w-ma-li/patrol").json()
    assert [s["task_id"] for s in patrol["stops"] if s["kind"] == "task"] == [task.id]
    assert patrol["planned_checkpoints"] == 4 and patrol["coverage"] == 0.0

    far = api.post("/api/v1/workers/w-ma-li/patrol/check-in", json={"lon": 120.33, "lat": 31.50}, headers=ma)
    assert far.status_code == 409 and "m away; check in within 50 m" in far.json()["detail"]
    harness.clock.advance(260)
    here = api.post(
        "/api/v1/workers/w-ma-li/patrol/check-in", json={"lon": case.lon, "lat": case.lat}, headers=ma
    )
    assert here.status_code == 200 and here.json()["tasks"] == [task.id]
    assert api.get(url).json()["status"] == "on_site"

    no_result = api.post(f"{url}/resolve", json={"worker_id": "w-ma-li"}, headers=ma)
    assert no_result.status_code == 422 and "needs a result" in no_result.json()["detail"]
    harness.clock.advance(900)
    done = api.post(
        f"{url}/resolve",
        json={"worker_id": "w-ma-li", "result": "hazard_confirmed", "note": "3 beds"},
        headers=ma,
    )
    assert done.status_code == 200 and done.json()["result"] == "hazard_confirmed"
    harness.clock.advance(60)
    verified = api.post(f"{url}/verify", json={"operator": "op-1"}, headers=op)
    assert verified.status_code == 200 and verified.json()["status"] == "verified"
    assert api.post(f"{url}/verify", json={"operator": "op-1"}, headers=op).status_code == 409

    sup = api.get(f"/api/v1/cases/{case.id}/supervision").json()
    assert sup["status"] == "closed" and sup["escalations"] == []
    outcomes = {t["phase"]: t["outcome"] for t in sup["timers"]}
    assert outcomes == {
        "centre_accept": "met",
        "worker_accept": "met",
        "on_site": "met",
        "resolve": "met",
        "verify": "met",
    }

    perf = api.get("/api/v1/performance/workers").json()
    ma = next(w for w in perf["items"] if w["worker_id"] == "w-ma-li")
    assert (ma["offered"], ma["accepted"], ma["resolved"]) == (1, 1, 1)
    assert ma["accept"]["p50_s"] == 40 and ma["arrival"]["p50_s"] == 300 and ma["resolve"]["p50_s"] == 900
    assert ma["on_time_rate"] == 1.0 and ma["phases_judged"] == 3
    grid = next(
        g for g in api.get("/api/v1/performance/grids").json()["items"] if g["grid_id"] == "g-gongye-01"
    )
    assert grid["cases"] == 1 and grid["arrival"]["count"] == 1


def test_centre_reassigns_to_a_named_worker(harness: Harness, api: TestClient, op: dict[str, str]) -> None:
    harness.raise_event("smk-factory-a1")
    [task] = tasks(harness)
    bad = api.post(
        f"/api/v1/tasks/{task.id}/reassign", json={"operator": "op-1", "worker_id": "w-ghost"}, headers=op
    )
    assert bad.status_code == 409 and "no worker 'w-ghost'" in bad.json()["detail"]
    r = api.post(
        f"/api/v1/tasks/{task.id}/reassign", json={"operator": "op-1", "worker_id": "w-hu-bin"}, headers=op
    )
    assert r.status_code == 200 and r.json()["worker_id"] == "w-hu-bin"
    assert r.json()["reason_code"] == "centre_assigned"
    old, new = tasks(harness)
    assert old.status == "cancelled" and new.worker_id == "w-hu-bin" and new.status == "offered"
    [row] = harness.outbound(topics.worker_task("w-hu-bin"))
    offer = decode(row.topic, row.payload)
    assert isinstance(offer, TaskOffer) and offer.source == "api"  # published by the API through the outbox
    assert (
        api.post(f"/api/v1/tasks/{old.id}/reassign", json={"operator": "op-1"}, headers=op).status_code == 409
    )
    assert api.post("/api/v1/tasks/nope/reassign", json={"operator": "op-1"}, headers=op).status_code == 404


def test_unavailable_worker_is_passed_over(harness: Harness, api: TestClient, op: dict[str, str]) -> None:
    until = (harness.clock.now() + timedelta(hours=4)).isoformat()
    r = api.put(
        "/api/v1/workers/w-ma-li/availability",
        json={"available": False, "until": until, "reason": "hospital visit", "by": "op-1"},
        headers=op,
    )
    assert r.status_code == 200 and r.json()["available"] is False
    harness.raise_event("smk-factory-a1")
    [task] = tasks(harness)
    assert task.worker_id != "w-ma-li" and "1 unavailable" in task.reason
    harness.clock.advance(5 * 3600)  # the absence ran out
    assert api.get("/api/v1/workers/w-ma-li/availability").json()["available"] is True
    past = (harness.clock.now() - timedelta(hours=1)).isoformat()
    late = api.put(
        "/api/v1/workers/w-ma-li/availability",
        json={"available": False, "until": past, "by": "op-1"},
        headers=op,
    )
    assert late.status_code == 422
    assert (
        api.put("/api/v1/workers/w-nobody/availability", json={"available": False}, headers=op).status_code
        == 404
    )


def test_a_worker_whose_account_is_disabled_is_passed_over(
    harness: Harness, api: TestClient, op: dict[str, str]
) -> None:
    """A grid worker leaves: the admin disables their account (they can no longer sign in or use
    their phone's token), while workers.yaml still lists them until the installer's next visit.
    Urgent tasks kept going to them first: nobody could accept, and every case of their grid
    waited out the accept deadline before it went to someone who could. A disabled account is
    passed over like an unavailable worker (in a new case's dispatch and in a re-dispatch)."""
    from gateway.people import service as people
    from gateway.people.models import Person
    from tests.support.dispatching import act

    with harness.sessions.begin() as s:
        person = s.get(Person, "w-ma-li")
        assert person is not None and person.active  # made from workers.yaml when the API started
        people.set_active(s, person, False, "admin-1", harness.clock.now())
    harness.raise_event("smk-factory-a1")
    [first] = tasks(harness)
    assert first.worker_id != "w-ma-li" and "1 unavailable" in first.reason
    act(harness, first, "decline", note="at another incident")
    second = tasks(harness)[-1]
    assert second.worker_id not in ("w-ma-li", first.worker_id) and second.status == "offered"
    with harness.sessions.begin() as s:
        person = s.get(Person, "w-ma-li")
        assert person is not None
        people.set_active(s, person, True, "admin-1", harness.clock.now())
    act(harness, second, "decline", note="busy")
    third = tasks(harness)[-1]
    assert third.worker_id == "w-ma-li"  # back at work: offered again
    # ... and the centre cannot name a disabled worker either: the task would wait out its deadline
    other = next(t for t in (first, second) if t.worker_id != "w-ma-li")
    with harness.sessions.begin() as s:
        person = s.get(Person, "w-ma-li")
        assert person is not None
        people.set_active(s, person, False, "admin-1", harness.clock.now())
    back = api.post(
        f"/api/v1/tasks/{third.id}/reassign",
        json={"operator": "op-1", "worker_id": other.worker_id},
        headers=op,
    )
    assert back.status_code == 200 and back.json()["worker_id"] == other.worker_id
    named = api.post(
        f"/api/v1/tasks/{tasks(harness)[-1].id}/reassign",
        json={"operator": "op-1", "worker_id": "w-ma-li"},
        headers=op,
    )
    assert named.status_code == 409 and "account is disabled" in named.json()["detail"]
    assert tasks(harness)[-1].worker_id == other.worker_id and tasks(harness)[-1].status == "offered"
