"""The console's decisions over the API, each on the trail with the operator: a false alarm with a
reason from the list, the whistle (吹哨) to a department that acknowledges (报到) — or does not,
and the escalation goes a tier up on a persisted timer — and merging a duplicate case
(SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.cases.models import Case, FalseAlarmFeedback
from gateway.dispatch.models import Task
from gateway.escalation.models import Escalation
from gateway.sla.models import SlaTimer
from tests.support.dispatching import notices, tick, trail
from tests.support.harness import Harness
from tests.support.people import add_person

MARKET = "市场监管所 Market Supervision Office"
DISTRICT = "滨湖区综治中心 District Command Centre"


def case_of(h: Harness, device: str) -> Case:
    with h.sessions() as s:
        return s.scalars(select(Case).where(Case.device_id == device)).one()


def department_desk(h: Harness, api: TestClient, department: str = "market_supervision") -> dict[str, str]:
    """A department's liaison, signed in for real; their bearer header."""
    add_person(
        h.sessions, "market-desk", ["department"], ["s-qingshan"], "market-password-1", None, department
    )
    signed = api.post(
        "/api/v1/auth/sign-in", json={"username": "market-desk", "password": "market-password-1"}
    )
    assert signed.status_code == 200, signed.text
    api.cookies.clear()
    return {"Authorization": f"Bearer {signed.json()['access_token']}"}


def test_a_false_alarm_takes_a_reason_from_the_list_and_a_note(harness: Harness, api: TestClient) -> None:
    harness.raise_event("cam-factory-a", hazard_type="fire_smoke", severity="critical", zone_id="floor")
    case = case_of(harness, "cam-factory-a")
    bad = api.post(f"/api/v1/cases/{case.id}/dismiss", json={"reason_code": "aliens"})
    assert bad.status_code == 422 and "reason_code" in bad.text
    other = api.post(f"/api/v1/cases/{case.id}/dismiss", json={"reason_code": "other"})
    assert other.status_code == 409 and "needs a reason" in other.text  # "other" needs the note
    wrong = api.post(f"/api/v1/cases/{case.id}/confirm", json={"reason_code": "light"})
    assert wrong.status_code == 422
    r = api.post(
        f"/api/v1/cases/{case.id}/dismiss", json={"reason_code": "steam_cooking", "reason": "canteen kettle"}
    )
    assert r.status_code == 200, r.text
    last = r.json()["transitions"][-1]
    assert (last["to_status"], last["actor"]) == ("dismissed", "operator:op-1")
    assert last["reason"] == "false alarm: [steam_cooking] canteen kettle"
    with harness.sessions() as s:
        feedback = s.scalars(select(FalseAlarmFeedback)).one()
    assert (feedback.reason_code, feedback.reason) == ("steam_cooking", "canteen kettle")
    # a code alone is reason enough
    harness.raise_event("gas-restaurant-3", hazard_type="gas_leak", severity="major")
    gas = case_of(harness, "gas-restaurant-3")
    assert api.post(f"/api/v1/cases/{gas.id}/dismiss", json={"reason_code": "test"}).status_code == 200


def test_the_whistle_tells_the_chosen_department_which_acknowledges(
    harness: Harness, api: TestClient
) -> None:
    harness.raise_event("cam-factory-a", hazard_type="illegal_workshop", severity="major", zone_id="floor")
    case = case_of(harness, "cam-factory-a")
    desk = department_desk(harness, api)
    assert api.get("/api/v1/cases", headers=desk).json()["count"] == 0  # nothing escalated to them yet

    r = api.post(
        f"/api/v1/cases/{case.id}/escalate",
        json={"department": "market_supervision", "message": "生产线夜间运转，请派员核查"},
    )
    assert r.status_code == 200, r.text
    escalated = r.json()["transitions"][-1]
    assert (escalated["to_status"], escalated["actor"]) == ("escalated", "operator:op-1")
    assert MARKET in escalated["reason"] and "生产线夜间运转" in escalated["reason"]
    with harness.sessions() as s:
        [e] = s.scalars(select(Escalation)).all()
        [timer] = s.scalars(select(SlaTimer).where(SlaTimer.phase == "acknowledge")).all()
    assert (e.tier, e.trigger, e.target, e.actor) == ("department", "manual", MARKET, "operator:op-1")
    assert (timer.detail, timer.limit_s) == ("market_supervision", 1800)
    assert notices(harness)[-1].event == "escalated"

    again = api.post(
        f"/api/v1/cases/{case.id}/escalate", json={"department": "market_supervision", "message": "?"}
    )
    assert again.status_code == 409 and "already told" in again.text
    unknown = api.post(f"/api/v1/cases/{case.id}/escalate", json={"department": "ufo_office", "message": "?"})
    assert unknown.status_code == 409 and "market_supervision" in unknown.text  # names the known ones

    # the department sees the case now, and acknowledges it with who answers for it
    listed = api.get("/api/v1/cases", headers=desk).json()
    assert [c["id"] for c in listed["items"]] == [case.id]
    ack = api.post(
        f"/api/v1/cases/{case.id}/acknowledge",
        json={"note": "执法队 22:40 到场", "responsible": "王科长 13900000000"},
        headers=desk,
    )
    assert ack.status_code == 200, ack.text
    said = ack.json()["transitions"][-1]
    assert said["change"] == "acknowledged"
    assert said["actor"] == "department:market_supervision/market-desk"
    assert "执法队 22:40 到场" in said["reason"] and "王科长" in said["reason"]
    with harness.sessions() as s:
        timer = s.scalars(select(SlaTimer).where(SlaTimer.phase == "acknowledge")).one()
    assert timer.outcome == "met" and timer.stopped_at is not None
    tick(harness, 3600)
    # acknowledged: nothing goes up for it (the worker's own deadlines climb as usual)
    assert not [e for e in _escalations(harness) if e.trigger.startswith("unacknowledged")]


def test_an_escalation_nobody_acknowledges_goes_a_tier_up(harness: Harness, api: TestClient) -> None:
    harness.raise_event("cam-factory-a", hazard_type="illegal_workshop", severity="major", zone_id="floor")
    case = case_of(harness, "cam-factory-a")
    assert (
        api.post(
            f"/api/v1/cases/{case.id}/escalate",
            json={"department": "market_supervision", "message": "请核查"},
        ).status_code
        == 200
    )
    tick(harness, 1439)  # 80 % of 1800 s is 1440 s
    assert not _said(harness, "sla_warning")
    tick(harness, 1)
    [warning] = _said(harness, "sla_warning")
    assert "market_supervision" in warning.reason
    tick(harness, 359)
    assert not _said(harness, "sla_breach") and _ups(harness) == []
    tick(harness, 1)  # 1800 s: breached, and a tier up
    assert len(_said(harness, "sla_breach")) == 1
    [up] = _ups(harness)
    assert (up.tier, up.target, up.trigger) == ("supervision", DISTRICT, "unacknowledged:market_supervision")
    assert "did not acknowledge" in up.reason and MARKET in up.reason
    tick(harness, 3600)
    assert len(_ups(harness)) == 1 and len(_said(harness, "sla_breach")) == 1  # once


def _said(h: Harness, change: str) -> list:  # type: ignore[type-arg]
    """The trail's notes of the acknowledgement deadline (the worker's deadlines run too)."""
    return [t for t in trail(h) if t.change == change and "acknowledge" in t.reason]


def _ups(h: Harness) -> list[Escalation]:
    return [e for e in _escalations(h) if e.trigger.startswith("unacknowledged")]


def test_the_policys_department_must_acknowledge_too(harness: Harness) -> None:
    """An automatic climb that reaches the department starts the same deadline."""
    from gateway.flows.escalate import escalate

    harness.raise_event("smk-factory-a1")
    with harness.sessions.begin() as s:
        case = s.scalars(select(Case)).one()
        while escalate(s, harness.ctx, case, "test", "up to the department", harness.clock.now()) is not None:
            pass
    tick(harness, 1801)
    assert [e.tier for e in _escalations(harness)][-2:] == ["department", "supervision"]


def _escalations(h: Harness) -> list[Escalation]:
    with h.sessions() as s:
        return list(s.scalars(select(Escalation).order_by(Escalation.id)))


def test_merging_a_duplicate_moves_its_events_and_evidence(harness: Harness, api: TestClient) -> None:
    # A camera and a smoke detector 300 m apart saw the same fire: two cases.
    harness.raise_event("cam-factory-a", hazard_type="fire_smoke", severity="major", zone_id="floor")
    harness.clock.advance(30)
    harness.raise_event("smk-gongye-dorm-3", hazard_type="fire_smoke", severity="critical")
    harness.clock.advance(30)
    harness.raise_event("smk-gongye-dorm-3", hazard_type="fire_smoke", severity="critical", state="update")
    target, duplicate = case_of(harness, "cam-factory-a"), case_of(harness, "smk-gongye-dorm-3")
    assert target.id != duplicate.id and duplicate.event_count == 2

    assert api.post(f"/api/v1/cases/{target.id}/merge", json={"into": target.id}).status_code == 409
    r = api.post(f"/api/v1/cases/{duplicate.id}/merge", json={"into": target.id, "reason": "same fire"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == target.id
    assert body["event_count"] == target.event_count + 2
    assert body["severity"] == "critical"  # the worse of the two
    merged_note = body["transitions"][-1]
    assert (merged_note["change"], merged_note["actor"]) == ("merged", "operator:op-1")
    assert duplicate.id in merged_note["reason"] and "2 event(s)" in merged_note["reason"]
    gone = api.get(f"/api/v1/cases/{duplicate.id}").json()
    assert (gone["status"], gone["merged_into"]) == ("merged", target.id)
    assert gone["transitions"][-1]["actor"] == "operator:op-1"
    events = api.get(f"/api/v1/cases/{target.id}/events").json()
    assert [e["device_id"] for e in events].count("smk-gongye-dorm-3") == 2
    with harness.sessions() as s:
        dup_tasks = s.scalars(select(Task).where(Task.case_id == duplicate.id)).all()
        running = s.scalars(
            select(SlaTimer).where(SlaTimer.case_id == duplicate.id, SlaTimer.stopped_at.is_(None))
        ).all()
    assert all(t.status == "cancelled" for t in dup_tasks) and running == []
    # no chains, no second merge
    again = api.post(f"/api/v1/cases/{duplicate.id}/merge", json={"into": target.id})
    assert again.status_code == 409 and "already merged" in again.text
    harness.raise_event("gas-restaurant-3", hazard_type="gas_leak", severity="major")
    other = case_of(harness, "gas-restaurant-3")
    into_merged = api.post(f"/api/v1/cases/{other.id}/merge", json={"into": duplicate.id})
    assert into_merged.status_code == 409 and target.id in into_merged.text  # says where to merge instead
    assert api.post(f"/api/v1/cases/{other.id}/merge", json={"into": "no-such-case"}).status_code == 404


@pytest.mark.parametrize("action", ["escalate", "merge"])
def test_a_department_or_a_worker_cannot_decide(
    harness: Harness, api: TestClient, api_tokens, action: str
) -> None:  # type: ignore[no-untyped-def]
    harness.raise_event("smk-factory-a1")
    case = case_of(harness, "smk-factory-a1")
    body = {"department": "fire_brigade", "message": "x"} if action == "escalate" else {"into": case.id}
    r = api.post(f"/api/v1/cases/{case.id}/{action}", json=body, headers=api_tokens.worker("w-ma-li"))
    assert r.status_code == 403


def test_a_case_dossier_lists_snapshots_readings_and_related_cases(harness: Harness, api: TestClient) -> None:
    from tests.support.world import send_snapshot

    event, _ = harness.raise_event(
        "gas-restaurant-3",
        hazard_type="gas_leak",
        severity="major",
        readings=[{"quantity": "gas", "value": 32.0, "unit": "%LEL"}],
    )
    harness.clock.advance(60)
    harness.raise_event(
        "gas-restaurant-3",
        hazard_type="gas_leak",
        severity="critical",
        state="update",
        readings=[{"quantity": "gas", "value": 55.5, "unit": "%LEL"}],
    )
    case = case_of(harness, "gas-restaurant-3")
    evidence_id = send_snapshot(harness, "cam-rental-yard", event.id)
    snaps = api.get(f"/api/v1/cases/{case.id}/evidence").json()
    assert [(s["id"], s["kind"], s["device_id"]) for s in snaps] == [
        (evidence_id, "camera", "cam-rental-yard")
    ]
    assert api.get(snaps[0]["url"]).headers["content-type"] == "image/jpeg"
    events = api.get(f"/api/v1/cases/{case.id}/events").json()
    assert [(e["state"], e["readings"][0]["value"]) for e in events] == [("new", 32.0), ("update", 55.5)]
    # closed and raised again: the earlier case is related (same device)
    assert api.post(f"/api/v1/cases/{case.id}/dismiss", json={"reason_code": "test"}).status_code == 200
    harness.clock.advance(60)
    harness.raise_event("gas-restaurant-3", hazard_type="gas_leak", severity="major")
    with harness.sessions() as s:
        newer = s.scalars(select(Case).where(Case.id != case.id, Case.device_id == "gas-restaurant-3")).one()
    harness.raise_event("smk-factory-a1")  # elsewhere: not related
    related = api.get(f"/api/v1/cases/{newer.id}/related").json()
    assert [c["id"] for c in related] == [case.id]
