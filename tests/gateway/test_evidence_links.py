"""A camera snapshot taken for a sensor's alarm lands on that alarm's case, whichever
reaches the gateway first (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib

import cv2
import numpy as np
from sqlalchemy import select

from contracts import EvidenceSnapshot, topics
from contracts.ids import new_id
from gateway.cases.models import Case
from gateway.flows.ingest import Incoming, Outcome
from tests.gateway.conftest import Harness


def snapshot(harness: Harness, event_id: str | None, camera: str = "cam-factory-a") -> EvidenceSnapshot:
    image = np.full((90, 160, 3), 40, np.uint8)
    cv2.putText(image, camera, (5, 50), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255))
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    harness.seq += 1
    node_id, _ = harness.ctx.site.device(camera)  # type: ignore[misc]
    return EvidenceSnapshot(
        source=node_id,
        seq=harness.seq,
        ts=harness.clock.now(),
        evidence_id=new_id(),
        event_id=event_id,
        device_id=camera,
        width=160,
        height=90,
        sha256=hashlib.sha256(jpeg).hexdigest(),
        jpeg_b64=base64.b64encode(jpeg).decode(),
    )


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
