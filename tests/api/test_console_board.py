"""What the console reads at a glance: each case's most pressing deadline (list and live feed), the
board's counters, the shift handover, trail steps with people's names; and signing in on an API
whose clock is ahead of the machine's."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud_api.app import create_app
from contracts.clock import ManualClock
from gateway.cases.models import Case
from tests.support.dispatching import tick
from tests.support.harness import Harness
from tests.support.paths import DEMO_SITE
from tests.support.people import add_person, api_settings


def case_of(h: Harness, device: str) -> Case:
    with h.sessions() as s:
        return s.scalars(select(Case).where(Case.device_id == device)).one()


def test_each_listed_case_carries_its_most_pressing_deadline(harness: Harness, api: TestClient) -> None:
    harness.raise_event("smk-factory-a1", severity="critical")  # centre 300 s, worker accept 60 s
    harness.raise_event("smk-rental-15", hazard_type="low_battery", severity="minor")  # maintenance: none
    rows = {c["device_id"]: c for c in api.get("/api/v1/cases").json()["items"]}
    smoke = rows["smk-factory-a1"]["deadline"]
    assert (smoke["phase"], smoke["limit_s"]) == ("worker_accept", 60)  # the earliest due
    assert rows["smk-rental-15"]["deadline"] is None


def test_the_board_counts_open_critical_due_soon_overdue_and_awaiting(
    harness: Harness, api: TestClient
) -> None:
    harness.raise_event("smk-factory-a1", severity="critical")
    harness.raise_event("gas-restaurant-3", hazard_type="gas_leak", severity="major")
    harness.raise_event("smk-rental-15", hazard_type="low_battery", severity="minor")
    board = api.get("/api/v1/console/board").json()
    assert (board["open"], board["critical"], board["new"]) == (3, 1, 1)  # the battery is not taken up
    assert (board["sla_warning"], board["sla_breached"]) == (0, 0)
    harness.clock.advance(50)  # past 80 % of the 60 s the workers have to accept
    board = api.get("/api/v1/console/board").json()
    assert (board["sla_warning"], board["sla_breached"]) == (2, 0)
    harness.clock.advance(20)
    board = api.get("/api/v1/console/board").json()
    assert board["sla_breached"] == 2
    gas = case_of(harness, "gas-restaurant-3")
    api.post(f"/api/v1/cases/{gas.id}/escalate", json={"department": "fire_brigade", "message": "请到场"})
    assert api.get("/api/v1/console/board").json()["awaiting_acknowledgement"] == 1
    api.post(f"/api/v1/cases/{gas.id}/dismiss", json={"reason_code": "test"})
    board = api.get("/api/v1/console/board").json()
    assert (board["open"], board["awaiting_acknowledgement"]) == (2, 0)  # an ended case waits for no one


def test_the_handover_lists_what_is_open_and_what_the_shift_did(harness: Harness, api: TestClient) -> None:
    harness.raise_event("smk-rental-12", severity="major")
    earlier = case_of(harness, "smk-rental-12")
    api.post(f"/api/v1/cases/{earlier.id}/dismiss", json={"reason_code": "steam_cooking"})
    harness.clock.advance(13 * 3600)  # the next shift
    harness.raise_event("smk-factory-a1", severity="critical")
    harness.raise_event("smk-rental-15", hazard_type="low_battery", severity="minor")
    harness.raise_event("gas-restaurant-3", hazard_type="gas_leak", severity="major")
    gas = case_of(harness, "gas-restaurant-3")
    api.post(f"/api/v1/cases/{gas.id}/escalate", json={"department": "fire_brigade", "message": "请到场"})
    tick(harness, 70)  # the workers did not accept in 60 s: breaches
    shift = api.get("/api/v1/console/handover", params={"hours": 12}).json()
    assert [c["severity"] for c in shift["open"]] == ["critical", "major", "minor"]  # most severe first
    assert shift["open_count"] == 3 and shift["opened"] == 3
    assert shift["dismissed"] == 0  # the false alarm was the shift before
    assert shift["escalated"] == 1
    assert len(shift["breaches"]) >= 2 and all("SLA breach" in b["what"] for b in shift["breaches"])
    [waiting] = shift["awaiting_acknowledgement"]
    assert waiting["case_id"] == gas.id and waiting["department"].startswith("青山消防救援站")
    longer = api.get("/api/v1/console/handover", params={"hours": 24}).json()
    assert longer["dismissed"] == 1 and longer["opened"] == 4


def test_the_trail_names_people_not_ids(harness: Harness, api: TestClient) -> None:
    add_person(harness.sessions, "op-1", ["operator"], ["s-qingshan"], "op-one-password", name="李娜")
    harness.raise_event("smk-factory-a1", severity="critical")
    case = case_of(harness, "smk-factory-a1")
    api.post(f"/api/v1/cases/{case.id}/confirm", json={"reason": "看到了"})
    steps = api.get(f"/api/v1/cases/{case.id}").json()["transitions"]
    assert steps[-1]["actor"] == "operator:op-1" and steps[-1]["actor_name"] == "李娜"
    assert steps[0]["actor_name"] == ""  # the gateway is no person


def test_an_api_whose_clock_is_ahead_of_the_machines_still_signs_people_in(
    harness: Harness, db_url: str
) -> None:
    ahead = ManualClock(harness.clock.now() + timedelta(days=400))  # e.g. a site clock set wrong
    add_person(harness.sessions, "op-ahead", ["operator"], ["s-qingshan"], "ahead-password-1")
    with TestClient(create_app(api_settings(DEMO_SITE, db_url), clock=ahead)) as client:
        signed = client.post(
            "/api/v1/auth/sign-in", json={"username": "op-ahead", "password": "ahead-password-1"}
        )
        assert signed.status_code == 200, signed.text
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {signed.json()['access_token']}"})
        assert me.status_code == 200 and me.json()["id"] == "op-ahead"
        ahead.advance(301)  # the access token runs out on the API's clock, not the machine's
        late = client.get("/api/v1/me", headers={"Authorization": f"Bearer {signed.json()['access_token']}"})
        assert late.status_code == 401
