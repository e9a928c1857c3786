"""Evidence snapshots: the frame with boxes and zone outlines, as a JPEG ≤ 200 kB.

People outside the hazard's zone can be blurred (privacy of passers-by).
Quality and then size step down until the JPEG fits the contract's limit.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from contracts import EvidenceRef, EvidenceSnapshot
from contracts.ids import new_id
from edge.video.episodes import Finding
from edge.video.settings import EvidenceSettings
from edge.video.zones import ZoneArea

COLOURS = {
    "person": (0, 200, 255),
    "bed": (255, 160, 0),
    "flame": (0, 0, 255),
    "smoke": (200, 200, 200),
}
ZONE_COLOUR = (0, 255, 255)
OTHER_ZONE_COLOUR = (160, 160, 160)


class EvidenceError(ValueError):
    pass


def _inside(zone: ZoneArea | None, box: tuple[int, int, int, int]) -> bool:
    return zone is not None and zone.contains((box[0] + box[2]) / 2, box[3])


def render(
    image: np.ndarray,
    zones: Sequence[ZoneArea],
    hazard_zone: str | None,
    findings: Sequence[Finding],
    caption: str,
    blur_outside: Sequence[tuple[int, int, int, int]] = (),
) -> np.ndarray:
    """Draw onto a copy: zone outlines (the hazard's zone highlighted), boxes, a caption."""
    out = image.copy()
    h, w = out.shape[:2]
    for x1, y1, x2, y2 in blur_outside:
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if x2 - x1 > 2 and y2 - y1 > 2:
            k = max(3, ((x2 - x1) // 4) | 1)
            out[y1:y2, x1:x2] = cv2.GaussianBlur(out[y1:y2, x1:x2], (k, k), 0)
    thick = max(1, round(min(w, h) / 300))
    for zone in zones:
        colour = ZONE_COLOUR if zone.id == hazard_zone else OTHER_ZONE_COLOUR
        cv2.polylines(out, [np.round(zone.polygon).astype(np.int32)], True, colour, thick, cv2.LINE_AA)
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.35, min(w, h) / 800)
    for f in findings:
        colour = COLOURS.get(f.label, (0, 255, 0))
        x1, y1, x2, y2 = f.box
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick + 1)
        text = f"{f.label} {f.score:.2f}" + (f" #{f.track_id}" if f.track_id is not None else "")
        cv2.putText(out, text, (x1 + 2, max(12, y1 - 4)), font, scale, colour, thick, cv2.LINE_AA)
    bar = int(22 * scale / 0.5)
    cv2.rectangle(out, (0, h - bar), (w, h), (0, 0, 0), -1)
    cv2.putText(out, caption, (4, h - bar // 4), font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def encode_jpeg(image: np.ndarray, settings: EvidenceSettings) -> tuple[bytes, int, int]:
    """JPEG within ``settings.max_bytes`` (and its width, height): lower quality first, then size."""
    h, w = image.shape[:2]
    if w > settings.max_width:
        image = cv2.resize(image, (settings.max_width, round(h * settings.max_width / w)), cv2.INTER_AREA)
    for _ in range(6):
        for quality in range(settings.quality, 29, -10):
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and len(buf) <= settings.max_bytes:
                return buf.tobytes(), image.shape[1], image.shape[0]
        h, w = image.shape[:2]
        image = cv2.resize(image, (max(16, int(w * 0.7)), max(16, int(h * 0.7))), cv2.INTER_AREA)
    raise EvidenceError(f"cannot fit a snapshot into {settings.max_bytes} bytes")


def caption_for(camera_id: str, hazard: str, state: str, when: datetime, tz: ZoneInfo) -> str:
    local = when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"{camera_id}  {hazard} {state}  {local}"


def snapshot(
    node_id: str, camera_id: str, jpeg: bytes, width: int, height: int, event_id: str | None
) -> tuple[EvidenceSnapshot, EvidenceRef]:
    digest = hashlib.sha256(jpeg).hexdigest()
    evidence_id = new_id()
    snap = EvidenceSnapshot(
        source=node_id,
        seq=0,  # the node's outbox assigns the real sequence number
        evidence_id=evidence_id,
        event_id=event_id,
        device_id=camera_id,
        width=width,
        height=height,
        sha256=digest,
        jpeg_b64=base64.b64encode(jpeg).decode("ascii"),
    )
    return snap, EvidenceRef(evidence_id=evidence_id, sha256=digest, size_bytes=len(jpeg))
