"""The centre's decisions on a case over the API, and the transition table (SQLite and PostgreSQL)."""

from __future__ import annotations

from itertools import product

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from contracts import TaskUpdate, decode
from gateway.cases.lifecycle import TRANSITIONS, CaseStatus, TransitionError
from gateway.cases.models import Case, CaseTransition
from gateway.cases.service import transition
from gateway.dispatch.models import Task
from gateway.sla.models import SlaTimer
from tests.support.harness import ApiTokens, Harness


@pytest.fixture
def api(api: TestClient, api_tokens: ApiTokens) -> TestClient:
    """The API as operator op-wang's screen uses it."""
    api.headers.update(api_tokens.operator("op-wang"))
    return api


def the_case(h: Harness) -> Case:
    with h.sessions() as s:
        return s.scalars(select(Case)).one()


def act(api: TestClient, case_id: str, action: str, **body: object) -> tuple[int, dict]:
    r = api.post(f"/api/v1/cases/{case_id}/{action}", json={"operator": "op-wang", **body})
    return r.status_code, r.json()


def test_dismissing_a_false_alarm_withdraws_the_task_and_keeps_feedback(
    harness: Harness, api: TestClient
) -> None:
    harness.raise_event(
        "cam-factory-a", hazard_type="occupied_factory_dorm", severity="major", zone_id="floor"
    )
    case = the_case(harness)
    assert case.status == "dispatched"
    code, body = act(api, case.id, "dismiss")
    assert code == 409 and "needs a reason" in body["detail"]
    code, body = act(api, case.id, "dismiss", reason="night-shift guard on his round, not a sleeper")
    assert code == 200, body
    assert body["status"] == "dismissed"
    last = body["transitions"][-1]
    assert (last["from_status"], last["to_status"], last["actor"]) == (
        "dispatched",
        "dismissed",
        "operator:op-wang",
    )
    assert "night-shift guard" in last["reason"]
    with harness.sessions() as s:
        [task] = s.scalars(select(Task)).all()
        running = s.scalars(select(SlaTimer).where(SlaTimer.stopped_at.is_(None))).all()
    assert task.status == "cancelled"
    assert running == []  # no SLA timer keeps ticking on a dismissed case
    [cancel_row] = [r for r in harness.outbound("gridwatch/v1/worker/") if b'"cancel"' in r.payload]
    cancel = decode(cancel_row.topic, cancel_row.payload)
    assert isinstance(cancel, TaskUpdate) and cancel.task_id == task.id and cancel.action == "cancel"
    report = api.get("/api/v1/feedback/false-alarms").json()["items"]
    assert report[0]["device_id"] == "cam-factory-a" and report[0]["zone_id"] == "floor"
    assert report[0]["dismissed_by_centre"] == 1 and report[0]["cases"] == 1


def test_confirm_once_then_close_then_reopen_with_a_reason(harness: Harness, api: TestClient) -> None:
    harness.raise_event(
        "smk-factory-a1", hazard_type="low_battery", severity="minor"
    )  # maintenance: stays new
    case = the_case(harness)
    code, body = act(api, case.id, "confirm", reason="battery at 8 % on the installer's screen")
    assert code == 200 and body["confirmed_by"] == "operator:op-wang"
    assert body["transitions"][-1]["change"] == "confirmed"
    code, body = act(api, case.id, "confirm")
    assert code == 409 and "already confirmed" in body["detail"]
    code, body = act(api, case.id, "close", reason="battery replaced")
    assert code == 200 and body["status"] == "closed"
    code, body = act(api, case.id, "reopen")
    assert code == 409 and "needs a reason" in body["detail"]
    code, body = act(api, case.id, "reopen", reason="still beeping")
    assert code == 200 and body["status"] == "reopened"
    assert [t["to_status"] for t in body["transitions"] if t["change"] == "status"] == [
        "new",
        "closed",
        "reopened",
    ]


def test_moves_outside_the_table_are_refused_with_the_allowed_ones(harness: Harness, api: TestClient) -> None:
    harness.raise_event("smk-factory-a1")
    case = the_case(harness)
    code, body = act(api, case.id, "reopen", reason="?")
    assert code == 409
    assert "cannot go from 'dispatched' to 'reopened'" in body["detail"]
    assert "accepted" in body["detail"]  # names what is allowed
    code, body = act(api, case.id, "close", reason="done")
    assert code == 409 and "cannot go from 'dispatched' to 'closed'" in body["detail"]
    assert the_case(harness).status == "dispatched"  # nothing changed
    assert act(api, "no-such-case", "close")[0] == 404
    r = api.post(f"/api/v1/cases/{case.id}/confirm", json={"operator": "Not An Id"})
    assert r.status_code == 422


def test_reopening_is_refused_while_another_case_is_open_for_the_place(
    harness: Harness, api: TestClient
) -> None:
    harness.raise_event("smk-factory-a1", hazard_type="low_battery", severity="minor")
    first = the_case(harness)
    assert act(api, first.id, "close", reason="replaced")[0] == 200
    harness.clock.advance(60)
    harness.raise_event("smk-factory-a1", hazard_type="low_battery", severity="minor")  # a new case
    code, body = act(api, first.id, "reopen", reason="same battery")
    assert code == 409 and "already open" in body["detail"]


def test_every_move_in_the_table_is_recorded_and_every_other_refused(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1", hazard_type="low_battery", severity="minor")
    case_id = the_case(harness).id
    allowed = 0
    for src, target in product(CaseStatus, CaseStatus):
        with harness.sessions.begin() as s:
            s.get(Case, case_id).status = src.value  # type: ignore[union-attr]
        with harness.sessions.begin() as s:
            case = s.get(Case, case_id)
            assert case is not None
            if target in TRANSITIONS[src]:
                transition(s, case, target, "operator:t", f"{src}->{target}", harness.clock.now())
            else:
                with pytest.raises(
                    TransitionError, match=f"cannot go from '{src.value}' to '{target.value}'"
                ):
                    transition(s, case, target, "operator:t", "refused", harness.clock.now())
        with harness.sessions() as s:
            last = s.scalars(
                select(CaseTransition)
                .where(CaseTransition.case_id == case_id)
                .order_by(CaseTransition.id.desc())
            ).first()
            assert last is not None
            if target in TRANSITIONS[src]:
                allowed += 1
                assert (last.from_status, last.to_status, last.actor, last.reason) == (
                    src.value,
                    target.value,
                    "operator:t",
                    f"{src}->{target}",
                )
            else:
                assert last.reason != "refused"
                assert s.get(Case, case_id).status == src.value  # type: ignore[union-attr]
    assert allowed == sum(len(t) for t in TRANSITIONS.values())
