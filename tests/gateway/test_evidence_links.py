"""A camera snapshot taken for a sensor's alarm lands on that alarm's case, whichever
reaches the gateway first (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from contracts import topics
from gateway.cases.models import Case
from gateway.flows.ingest import Incoming, Outcome
from tests.support.evidence import snapshot
from tests.support.harness import Harness


def evidence_of_cases(harness: Harness) -> list[list[str]]:
    with harness.sessions() as s:
        return [c.evidence_ids for c in s.scalars(select(Case).order_by(Case.opened_at))]


def test_the_snapshot_after_the_alarm_is_attached_to_its_case(harness: Harness) -> None:
    event, _ = harness.raise_event("smk-factory-a1")
    snap = snapshot(harness, event.id)
    assert harness.send(topics.node_evidence(snap.source), snap) is Outcome.APPLIED
    assert evidence_of_cases(harness) == [[snap.evidence_id]]
    # a redelivered snapshot is not attached twice
    assert harness.send(topics.node_evidence(snap.source), snap) is Outcome.DUPLICATE
    assert evidence_of_cases(harness) == [[snap.evidence_id]]


def test_a_snapshot_that_arrives_before_its_alarm_is_attached_when_the_alarm_comes(harness: Harness) -> None:
    event = harness.event("smk-factory-a1")
    snap = snapshot(harness, event.id)
    assert harness.send(topics.node_evidence(snap.source), snap) is Outcome.APPLIED
    assert evidence_of_cases(harness) == []
    harness.send(topics.node_event(event.source), event)
    assert evidence_of_cases(harness) == [[snap.evidence_id]]


def test_both_in_one_batch_and_an_unrelated_snapshot_stays_apart(harness: Harness) -> None:
    event = harness.event("smk-factory-a1")
    snap = snapshot(harness, event.id)
    stray = snapshot(harness, None, "cam-workshop-b")
    outcomes = harness.pipeline.process(
        [
            Incoming(topics.node_evidence(snap.source), snap.model_dump_json().encode()),
            Incoming(topics.node_event(event.source), event.model_dump_json().encode()),
            Incoming(topics.node_evidence(stray.source), stray.model_dump_json().encode()),
        ]
    )
    assert outcomes == [Outcome.APPLIED] * 3
    assert evidence_of_cases(harness) == [[snap.evidence_id]]
