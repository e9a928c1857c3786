"""Store evidence snapshots once, checking that the bytes match their hash."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime

from sqlalchemy.orm import Session

from contracts import EvidenceSnapshot
from gateway.evidence.models import Evidence


class EvidenceRejected(ValueError):
    pass


def store_evidence(session: Session, snap: EvidenceSnapshot, now: datetime) -> bool:
    """Returns False when this evidence was already stored (a redelivery)."""
    if session.get(Evidence, snap.evidence_id) is not None:
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
