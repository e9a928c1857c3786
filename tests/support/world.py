"""A small world for access tests: five people signed in for real, every kind of object twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from contracts import topics
from gateway.cases.models import Case
from gateway.dispatch.models import Task
from gateway.events.models import DeadLetter
from gateway.events.outcomes import Outcome
from gateway.flows import case_decisions
from gateway.flows.escalate import escalate
from gateway.people import service
from gateway.people.models import Role
from tests.support.evidence import snapshot
from tests.support.harness import Harness
from tests.support.people import add_person

IN_AREA = "c-gongye"


PASSWORD = "matrix-password-1"


PEOPLE: dict[str, dict[str, Any]] = {
    "admin": {"id": "ad-min", "roles": [Role.ADMIN], "areas": ["d-binhu"]},
    "operator": {"id": "op-park", "roles": [Role.OPERATOR], "areas": [IN_AREA]},
    "department": {
        "id": "fire-desk",
        "roles": [Role.DEPARTMENT],
        "areas": [IN_AREA],
        "department": "fire_brigade",
    },
    "installer": {"id": "inst-park", "roles": [Role.INSTALLER], "areas": [IN_AREA]},
    "worker": {"id": "w-ma-li", "roles": [Role.WORKER], "areas": ["g-gongye-01"], "worker_id": "w-ma-li"},
}


@dataclass
class World:
    client: TestClient
    harness: Harness
    headers: dict[str, dict[str, str]]  # role -> Authorization header of its signed-in person
    inside: dict[str, Any] = field(default_factory=dict)
    outside: dict[str, Any] = field(default_factory=dict)

    def value(self, kind: str, where: str) -> Any:
        side = self.inside if where == "in" else self.outside
        return side.get(kind, kind)  # not a kind of object: a literal


def send_snapshot(h: Harness, camera: str, event_id: str) -> str:
    """A real JPEG from ``camera`` about the event, through the pipeline; returns its evidence id."""
    snap = snapshot(h, event_id, camera)
    assert h.send(topics.node_evidence(snap.source), snap) is Outcome.APPLIED
    return snap.evidence_id


def open_case(h: Harness, device: str, camera: str) -> tuple[Case, Task, str]:
    event, _ = h.raise_event(device)
    evidence = send_snapshot(h, camera, event.id)  # the camera next to the sensor
    with h.sessions() as s:
        case = s.scalars(select(Case).where(Case.device_id == device)).one()
        task = s.scalars(select(Task).where(Task.case_id == case.id)).one()
        return case, task, evidence


def build_world(h: Harness, client: TestClient) -> World:
    case_in, task_in, evidence_in = open_case(h, "smk-factory-a1", "cam-factory-a")
    case_out, task_out, evidence_out = open_case(h, "smk-rental-12", "cam-rental-yard")
    assert task_in.worker_id == "w-ma-li" and task_out.worker_id != "w-ma-li"
    now = h.clock.now()
    with h.sessions() as s, s.begin():
        for case_id in (case_in.id, case_out.id):
            case = s.get(Case, case_id)
            while escalate(s, h.ctx, case, "test", "up to the department", now) is not None:
                pass  # every tier, the department (fire brigade, for smoke) last
            # a false alarm: the report lists the device
            case_decisions.dismiss(s, h.ctx, case_id, "op-centre", "steam from the kitchen", now)
    for node in ("node-gongye-1", "node-donghu-1"):
        h.send(topics.node_event(node), b"{not json")
    with h.sessions() as s:
        letters = {d.source: d.id for d in s.scalars(select(DeadLetter))}
    with h.sessions() as s, s.begin():
        service.add_person(
            s, service.PersonSpec("p-spare", "Spare", (Role.INSTALLER,), (IN_AREA,)), "test", now, None
        )
        service.add_token(s, "t-spare", Role.INSTALLER, (IN_AREA,), "test", now)
    headers = {}
    for role, who in PEOPLE.items():
        add_person(
            h.sessions,
            who["id"],
            who["roles"],
            who["areas"],
            PASSWORD,
            who.get("worker_id"),
            who.get("department"),
        )
        signed = client.post("/api/v1/auth/sign-in", json={"username": who["id"], "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        headers[role] = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    client.cookies.clear()  # bearer tokens only: the matrix is about roles, not CSRF
    world = World(client, h, headers)
    world.inside = {
        "case": case_in.id,
        "task": task_in.id,
        "worker": task_in.worker_id,
        "evidence": evidence_in,
        "letter": letters["node-gongye-1"],
        "device": "smk-factory-a1",
        "source": "node-gongye-1",
        "grid": "g-gongye-01",
        "false_alarm_device": "smk-factory-a1",
        "password": PASSWORD,
    }
    world.outside = {
        "case": case_out.id,
        "task": task_out.id,
        "worker": task_out.worker_id,
        "evidence": evidence_out,
        "letter": letters["node-donghu-1"],
        "device": "smk-rental-12",
        "source": "node-donghu-1",
        "grid": "g-donghu-02",
        "false_alarm_device": "smk-rental-12",
        "password": PASSWORD,
    }
    return world
