"""Store evidence snapshots once, checking that the bytes match their hash, and
attach each to the case of the event it documents.

A snapshot names its event (``event_id``) when it was taken for it — e.g. a
camera's full-frame scan after a smoke detector nearby went off, which the edge
sends after the detector's event. Either may reach the gateway first (several
gateways share the stream), so both orders are linked: a snapshot whose event is
already in a case, and an event whose snapshot is already stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts import EvidenceSnapshot
from gateway.cases.models import Case
from gateway.events.models import EventRecord
from gateway.evidence.models import Evidence
from gateway.evidence.photos import Photo
from gateway.store import sqlite_rows


class EvidenceRejected(ValueError):
    pass


def store_evidence(session: Session, snap: EvidenceSnapshot, now: datetime) -> bool:
    """Returns False when this evidence was already stored (a redelivery).

    An id another source already holds is refused (a dead letter, kept for a replay), never
    taken for a redelivery: one source cannot make another's snapshot vanish by using its id.
    """
    held = session.get(Evidence, snap.evidence_id)
    if held is not None:
        if held.source != snap.source:
            raise EvidenceRejected(
                f"evidence id {snap.evidence_id!r} is already held by {held.source!r}; "
                "the snapshot is kept here (replay it once the other one is gone)"
            )
        return False
    try:
        jpeg = base64.b64decode(snap.jpeg_b64, validate=True)
    except (binascii.Error, ValueError):
        raise EvidenceRejected("jpeg_b64 is not valid base64") from None
    if hashlib.sha256(jpeg).hexdigest() != snap.sha256:
        raise EvidenceRejected("sha256 does not match the JPEG bytes")
    if not jpeg.startswith(b"\xff\xd8"):
        raise EvidenceRejected("not a JPEG (missing SOI marker)")
    session.add(
        Evidence(
            id=snap.evidence_id,
            event_id=snap.event_id,
            device_id=snap.device_id,
            source=snap.source,
            taken_at=snap.ts,
            received_at=now,
            width=snap.width,
            height=snap.height,
            sha256=snap.sha256,
            jpeg=jpeg,
        )
    )
    return True


def link_evidence(
    session: Session,
    case_of_event: Mapping[tuple[str, str], str],
    new_snapshots: Collection[EvidenceSnapshot],
) -> int:
    """Attach snapshots to the cases of their events, in both arrival orders; one or two
    queries per batch. ``case_of_event``: this batch's hazard events, by (source, event id),
    and their cases. A snapshot documents an event of its own source only: another source
    naming that event id attaches nothing."""
    pairs: list[tuple[str, str]] = []  # (case id, evidence id)
    waiting: dict[tuple[str, str], str] = {}  # (source, event id) -> evidence id, earlier batches
    for snap in new_snapshots:
        if snap.event_id is None:
            continue
        key = (snap.source, snap.event_id)
        if key in case_of_event:
            pairs.append((case_of_event[key], snap.evidence_id))
        else:
            waiting[key] = snap.evidence_id
    if waiting:
        rows = session.execute(
            select(EventRecord.source, EventRecord.id, EventRecord.case_id).where(
                EventRecord.id.in_({event_id for _, event_id in waiting}), EventRecord.case_id.is_not(None)
            )
        )
        pairs += [(case_id, waiting[(s, e)]) for s, e, case_id in rows if (s, e) in waiting]
    if case_of_event:  # snapshots that arrived before their event
        fresh = {s.evidence_id for s in new_snapshots}
        event_ids = sorted({event_id for _, event_id in case_of_event})
        stored: Iterable[tuple[str, str, str]]
        if sqlite_rows.is_sqlite(session):
            # Every batch asks this for all its events (~250): through the driver, SQLAlchemy's
            # statement set-up for a 250-value IN cost more than SQLite's index lookups. The
            # flush is the autoflush SQLAlchemy's query would have done (pending snapshots).
            session.flush()
            stored = sqlite_rows.select_in(
                session, "SELECT source, event_id, id FROM evidence WHERE event_id IN ({})", event_ids
            )
        else:
            query = select(Evidence.source, Evidence.event_id, Evidence.id)
            stored = session.execute(query.where(Evidence.event_id.in_(event_ids)))  # type: ignore[assignment]
        pairs += [
            (case_of_event[(s, e)], ev) for s, e, ev in stored if (s, e) in case_of_event and ev not in fresh
        ]
    linked = 0
    for case_id, evidence_id in pairs:
        case = session.get(Case, case_id)
        if case is not None and attach(case, evidence_id):
            linked += 1
    return linked


def store_photo(
    session: Session,
    photo_id: str,
    worker_id: str,
    photo: Photo,
    taken_at: datetime,
    now: datetime,
    task_id: str | None = None,
    where: tuple[float, float] | None = None,
) -> Evidence:
    """Keep a worker's photo (already cleaned, gateway.evidence.photos) as evidence."""
    row = Evidence(
        id=photo_id,
        event_id=None,
        device_id=worker_id,
        source=worker_id,
        taken_at=taken_at,
        received_at=now,
        width=photo.width,
        height=photo.height,
        sha256=photo.sha256,
        jpeg=photo.jpeg,
        task_id=task_id,
        lon=where[0] if where else None,
        lat=where[1] if where else None,
    )
    session.add(row)
    return row


def attach(case: Case, evidence_id: str) -> bool:
    """List a snapshot or photo on its case (once)."""
    if evidence_id in case.evidence_ids:
        return False
    case.evidence_ids = [*case.evidence_ids, evidence_id]
    return True
