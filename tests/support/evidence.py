"""Evidence for tests: a real JPEG snapshot from a camera of the demo site."""

from __future__ import annotations

import base64
import hashlib

import cv2
import numpy as np

from contracts import EvidenceSnapshot
from contracts.ids import new_id
from tests.support.harness import Harness


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
