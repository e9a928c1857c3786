"""Measure the camera detection path on a site's own photos and clips (``gridwatch eval``).

Everything runs through :class:`edge.video.pipeline.CameraPipeline`, the object a live
camera uses: photos through its public full-frame pass (enhancement, the model's
calibrated thresholds, ignore masks and marked objects), clips frame by frame through
``process`` (motion, crops, detector, tracker, fixtures, zones, rules, episodes) on an
injected clock at the site hours asked for. Nothing is private and nothing is re-implemented
here, so what the report says is what the camera would do.

Labels file (YAML; documented in docs/video-fire-smoke.md, "Evaluating a camera"):

.. code-block:: yaml

    camera:                 # optional: the camera as configured on site
      node: ../device_configs/demo_site/nodes/node-gongye-1.yaml
      id: cam-factory-a
    hours: [14, 23]         # site hours (local time) to play the clips at
    loop_minutes: 0         # play each clip looped for this long; 0 = once
    variants: [as_is]       # photos also as: dark (night-like copy), ir (greyscale copy)
    files:
      photos/a.jpg: {person: 4}            # counted objects per class ...
      photos/b.jpg:                        # ... or boxes, matched one to one (IoU >= 0.5)
        boxes: [{label: person, box: [421, 157, 474, 300]}]
      clips/fire.mp4: {events: {fire_smoke: 1}}   # episodes expected per rule, per hour
      clips/street.mp4: {events: {}, zone_type: factory_floor}   # nothing expected
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts import EventState, HazardType
from contracts.clock import ManualClock
from contracts.codec import describe_validation_error
from contracts.site.models import Camera, ZoneType
from edge.video.detector.adapters import RawDetection
from edge.video.detector.engine import DetectorService
from edge.video.pipeline import CameraPipeline
from edge.video.settings import SourceSettings, VideoSettings
from edge.video.sources import Frame, FrameGate, Scaler, SourceError, open_source, resolve_source

PHOTO_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
CLIP_EXT = {".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm"}
VARIANTS = ("as_is", "dark", "ir")
MAX_CLIP_FPS = 5.0  # what a node analyses by default


class EvalError(ValueError):
    """A labels file or folder that cannot be evaluated; the message says where and why."""


class BoxLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    box: tuple[float, float, float, float]


class FileLabels(BaseModel):
    """Truth for one photo or clip. Unknown keys of a photo are class counts."""

    model_config = ConfigDict(extra="allow")
    boxes: list[BoxLabel] | None = None
    events: dict[HazardType, int] | None = None
    fps: float | None = Field(default=None, gt=0, le=30)
    zone_type: ZoneType | None = Field(
        default=None, description="Zone type of the default whole-view camera for this file."
    )

    def counts(self) -> dict[str, int]:
        if self.boxes is not None:
            out: dict[str, int] = {}
            for b in self.boxes:
                out[b.label] = out.get(b.label, 0) + 1
            return out
        extra = self.model_extra or {}
        bad = {k: v for k, v in extra.items() if not isinstance(v, int) or v < 0}
        if bad:
            raise ValueError(f"class counts must be whole numbers >= 0 (got {bad})")
        return {str(k): int(v) for k, v in extra.items()}


class CameraRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    node: Path
    id: str


class Labels(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera: CameraRef | None = None
    hours: list[int] = Field(default_factory=lambda: [14, 23])
    loop_minutes: float = Field(default=0, ge=0, le=24 * 60)
    variants: list[str] = Field(default_factory=lambda: ["as_is"])
    files: dict[str, FileLabels] = Field(default_factory=dict)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 <= h <= 23 for h in value):
            raise ValueError("hours are site hours 0..23, at least one")
        return value

    @field_validator("variants")
    @classmethod
    def _variants(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in VARIANTS]
        if bad:
            raise ValueError(f"unknown variant(s) {bad}; choose from {', '.join(VARIANTS)}")
        return value


def load_labels(path: Path) -> Labels:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise EvalError(
            f"labels file {path} does not exist; write one (see 'gridwatch eval --help')"
        ) from None
    except yaml.YAMLError as exc:
        raise EvalError(f"labels file {path} is not valid YAML: {exc}") from None
    try:
        labels = Labels.model_validate(doc)
        for name, f in labels.files.items():
            try:
                f.counts()
            except ValueError as exc:
                raise EvalError(f"{path}: files.{name}: {exc}") from None
        return labels
    except ValidationError as exc:
        raise EvalError(f"{path}: {describe_validation_error(exc)}") from None


# --------------------------------------------------------------------------- variants
_DARK = ((np.arange(256) / 255.0) ** 2.2 * 0.35 * 255).astype(np.float32)


def variant(image: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """``dark``: a night-like copy (gamma 2.2, gain 0.35, sensor noise sigma 6);
    ``ir``: a greyscale copy (an infrared camera's night mode)."""
    if name == "dark":
        rng = np.random.default_rng(seed)
        dark = _DARK[image] + rng.standard_normal(image.shape, dtype=np.float32) * 6
        return np.clip(dark, 0, 255).astype(np.uint8)
    if name == "ir":
        return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return image


# --------------------------------------------------------------------------- detector
class MemoDetector:
    """The real detector, answering a picture it has already seen from memory: a looped
    clip shows the same frames (and usually the same crops) again and again. Results are
    those of the model; only repeated work is skipped."""

    def __init__(self, inner: DetectorService, size: int = 4096) -> None:
        self.inner = inner
        self.size = size
        self.hits = self.misses = 0
        self._memo: OrderedDict[tuple[bytes, float | None], list[RawDetection]] = OrderedDict()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def submit(self, camera_id: str, images: list[np.ndarray], threshold: float | None = None) -> Future:
        done: Future = Future()
        done.set_result(self.detect(camera_id, images, threshold))
        return done

    def detect(
        self, camera_id: str, images: list[np.ndarray], threshold: float | None = None, timeout: float = 30.0
    ) -> list[list[RawDetection]]:
        out: list[list[RawDetection] | None] = []
        keys = []
        todo = []
        for img in images:
            key = (
                hashlib.blake2b(np.ascontiguousarray(img).data, digest_size=16).digest()
                + repr(img.shape).encode(),
                threshold,
            )
            keys.append(key)
            hit = self._memo.get(key)
            if hit is not None:
                self._memo.move_to_end(key)
                self.hits += 1
            else:
                todo.append(img)
                self.misses += 1
            out.append(hit)
        if todo:
            fresh = iter(self.inner.detect(camera_id, todo, threshold, timeout))
            for i, got in enumerate(out):
                if got is None:
                    out[i] = next(fresh)
                    self._memo[keys[i]] = out[i]  # type: ignore[assignment]
            while len(self._memo) > self.size:
                self._memo.popitem(last=False)
        return [o for o in out if o is not None]


# --------------------------------------------------------------------------- results
@dataclass
class ClassScore:
    truth: int = 0
    found: int = 0  # boxes the camera reported
    matched: int = 0  # of the truth, found (one to one)

    @property
    def recall(self) -> float | None:
        return self.matched / self.truth if self.truth else None

    @property
    def extra(self) -> int:
        return self.found - self.matched

    def add(self, other: ClassScore) -> None:
        self.truth += other.truth
        self.found += other.found
        self.matched += other.matched


@dataclass
class PhotoResult:
    file: str
    variant: str
    classes: dict[str, ClassScore]
    boxes: list[RawDetection]


@dataclass
class ClipResult:
    file: str
    hour: int
    played_s: float
    frames: int
    raised: dict[str, int]  # rule -> new episodes
    expected: dict[str, int]
    first_s: dict[str, float]  # rule -> seconds into the clip of the first new event
    summaries: list[str]

    @property
    def false_events(self) -> dict[str, int]:
        return {r: n - self.expected.get(r, 0) for r, n in self.raised.items() if n > self.expected.get(r, 0)}

    @property
    def missed(self) -> dict[str, int]:
        return {r: n - self.raised.get(r, 0) for r, n in self.expected.items() if self.raised.get(r, 0) < n}


@dataclass
class Report:
    model: str
    photos: list[PhotoResult] = field(default_factory=list)
    clips: list[ClipResult] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def by_class(self, variant_name: str | None = None) -> dict[str, ClassScore]:
        total: dict[str, ClassScore] = {}
        for p in self.photos:
            if variant_name is not None and p.variant != variant_name:
                continue
            for label, score in p.classes.items():
                total.setdefault(label, ClassScore()).add(score)
        return total

    def false_per_hour(self) -> dict[str, float]:
        """False episodes per hour of played footage, per rule."""
        hours = sum(c.played_s for c in self.clips) / 3600
        counts: dict[str, int] = {}
        for c in self.clips:
            for rule, n in c.false_events.items():
                counts[rule] = counts.get(rule, 0) + n
        return {rule: n / hours for rule, n in counts.items()} if hours else {}

    def as_dict(self) -> dict[str, Any]:
        def score(s: ClassScore) -> dict[str, Any]:
            return {
                "truth": s.truth,
                "found": s.found,
                "matched": s.matched,
                "recall": s.recall,
                "extra": s.extra,
            }

        variants = sorted({p.variant for p in self.photos})
        return {
            "model": self.model,
            "photos": {v: {k: score(s) for k, s in self.by_class(v).items()} for v in variants},
            "clips": [
                {
                    "file": c.file,
                    "hour": c.hour,
                    "played_s": round(c.played_s, 1),
                    "frames": c.frames,
                    "raised": c.raised,
                    "expected": c.expected,
                    "false": c.false_events,
                    "missed": c.missed,
                    "first_s": {k: round(v, 1) for k, v in c.first_s.items()},
                }
                for c in self.clips
            ],
            "false_per_hour": {k: round(v, 3) for k, v in self.false_per_hour().items()},
            "hours_played": round(sum(c.played_s for c in self.clips) / 3600, 3),
            "unlabelled": self.unlabelled,
            "seconds": round(self.seconds, 1),
        }


# --------------------------------------------------------------------------- matching
def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def score_photo(found: list[RawDetection], truth: FileLabels) -> dict[str, ClassScore]:
    """Per class: boxes found and how many of the truth they find, one to one (greedy by
    IoU >= 0.5 when the truth has boxes; by count, capped at the truth, otherwise)."""
    counts = truth.counts()
    out: dict[str, ClassScore] = {}
    for label in set(counts) | {d.label for d in found}:
        mine = [d for d in found if d.label == label]
        s = ClassScore(truth=counts.get(label, 0), found=len(mine))
        if truth.boxes is not None:
            gt = [b.box for b in truth.boxes if b.label == label]
            pairs = sorted(
                (
                    (_iou((d.x1, d.y1, d.x2, d.y2), g), i, j)
                    for i, d in enumerate(mine)
                    for j, g in enumerate(gt)
                ),
                reverse=True,
            )
            used_d: set[int] = set()
            used_g: set[int] = set()
            for overlap, i, j in pairs:
                if overlap < 0.5:
                    break
                if i not in used_d and j not in used_g:
                    used_d.add(i)
                    used_g.add(j)
            s.matched = len(used_g)
        else:
            s.matched = min(s.found, s.truth)
        out[label] = s
    return out


# --------------------------------------------------------------------------- running
def default_camera(width: int, height: int, zone_type: ZoneType | None = None) -> Camera:
    """A camera whose whole view is one zone, by default a sealed workshop
    (no_production_site: every video rule), people rules at night (21:00-06:00), fire at
    any hour; ``zone_type`` picks another type and so its default rules."""
    return Camera.model_validate(
        {
            "id": "cam-eval",
            "source": "eval",
            "resolution": [width, height],
            "location": {"lon": 120.0, "lat": 31.0},
            "zones": [
                {
                    "id": "view",
                    "name": "whole view",
                    "type": (zone_type or ZoneType.NO_PRODUCTION_SITE).value,
                    "polygon": [[0, 0], [width, 0], [width, height], [0, height]],
                    "schedules": ["daily 21:00-06:00"],
                }
            ],
        }
    )


def site_camera(ref: CameraRef, base: Path) -> Camera:
    from contracts.site.loader import load_node_config

    path = ref.node if ref.node.is_absolute() else base / ref.node
    try:
        node = load_node_config(path)
    except Exception as exc:  # the loader's own errors name the file and key
        raise EvalError(f"camera.node {path}: {exc}") from None
    for cam in node.cameras:
        if cam.id == ref.id:
            return cam
    raise EvalError(f"camera.id {ref.id!r} is not a camera of {path}; known: {[c.id for c in node.cameras]}")


def _frames(path: Path, every: int, settings: SourceSettings) -> Iterator[Frame]:
    """Every ``every``-th frame of a clip, decoded as a node decodes its cameras (the configured
    decoder: PyAV frames still in YUV, or OpenCV's BGR pictures), so the answers are the node's."""
    spec = resolve_source(str(path))
    try:
        source = open_source(spec, settings)
    except SourceError as exc:
        raise EvalError(f"cannot open clip {path}: {exc}") from None
    gate = FrameGate(None)  # every frame due: the skipping is by count, as the clip's rate says
    scaler = Scaler()
    i = 0
    try:
        while True:
            ok, picture = source.read(gate)
            if not ok:
                return
            if i % every == 0:
                if isinstance(picture, np.ndarray):
                    yield Frame(picture, i + 1, datetime.min, 0.0)
                else:
                    yield Frame(None, i + 1, datetime.min, 0.0, picture, scaler)
            i += 1
    finally:
        source.release()


def _clip_rate(path: Path, wanted: float | None) -> tuple[int, float]:
    cap = cv2.VideoCapture(str(path))
    native = cap.get(cv2.CAP_PROP_FPS) or 10.0
    cap.release()
    target = min(wanted or MAX_CLIP_FPS, native)
    every = max(1, round(native / target))
    return every, native / every


class Evaluator:
    def __init__(
        self,
        detector: DetectorService,
        settings: VideoSettings | None = None,
        camera: Camera | None = None,
    ) -> None:
        self.detector = MemoDetector(detector)
        self.settings = settings or VideoSettings()
        self.camera = camera

    def pipeline(self, width: int, height: int, zone_type: ZoneType | None = None) -> CameraPipeline:
        cam = self.camera or default_camera(width, height, zone_type)
        return CameraPipeline(cam, "eval", self.detector, self.settings)  # type: ignore[arg-type]

    def photo(self, image: np.ndarray, truth: FileLabels, name: str, variant_name: str) -> PhotoResult:
        h, w = image.shape[:2]
        found = self.pipeline(w, h, truth.zone_type).detect_full_frame(np.ascontiguousarray(image))
        return PhotoResult(name, variant_name, score_photo(found, truth), found)

    def clip(
        self, path: Path, truth: FileLabels, name: str, hour: int, loop_minutes: float = 0.0
    ) -> ClipResult:
        every, fps = _clip_rate(path, truth.fps)
        tz = ZoneInfo(self.settings.timezone)
        start = datetime(2025, 3, 5, hour, 0, tzinfo=tz)  # a Wednesday
        clock = ManualClock(start)
        step = 1.0 / fps
        pipeline: CameraPipeline | None = None
        raised: dict[str, int] = {}
        first: dict[str, float] = {}
        summaries: list[str] = []
        frames = 0
        until = loop_minutes * 60
        while True:
            for frame in _frames(path, every, self.settings.sources):
                if pipeline is None:
                    pipeline = self.pipeline(*frame.size, truth.zone_type)
                frames += 1
                now = clock.now()
                frame.seq, frame.at = frames, now
                for out in pipeline.process(frame, now):
                    e = out.event
                    if e is None or e.state is not EventState.NEW:
                        continue
                    rule = e.hazard_type.value
                    raised[rule] = raised.get(rule, 0) + 1
                    first.setdefault(rule, (now - start).total_seconds())
                    summaries.append(f"{(now - start).total_seconds():.1f}s {rule}: {e.summary}")
                clock.advance(step)
            if frames == 0:
                raise EvalError(f"clip {path} has no frames")
            if (clock.now() - start).total_seconds() >= until:
                break
        expected = {k.value: v for k, v in (truth.events or {}).items()}
        played = (clock.now() - start).total_seconds()
        return ClipResult(name, hour, played, frames, raised, expected, first, summaries)

    def run(self, folder: Path, labels: Labels, model: str, base: Path | None = None) -> Report:
        started = time.perf_counter()
        if labels.camera is not None:
            self.camera = site_camera(labels.camera, base or folder)
        report = Report(model)
        listed = set(labels.files)
        for name, truth in labels.files.items():
            path = folder / name
            if not path.is_file():
                raise EvalError(f"files.{name}: no such file under {folder}")
            ext = path.suffix.lower()
            if ext in PHOTO_EXT:
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    raise EvalError(f"files.{name}: not a readable picture")
                for seed, v in enumerate(labels.variants):
                    report.photos.append(self.photo(variant(image, v, seed), truth, name, v))
            elif ext in CLIP_EXT:
                for hour in labels.hours:
                    report.clips.append(self.clip(path, truth, name, hour, labels.loop_minutes))
            else:
                raise EvalError(
                    f"files.{name}: not a photo or clip ({', '.join(sorted(PHOTO_EXT | CLIP_EXT))})"
                )
        for root, _dirs, names in os.walk(folder):
            for n in sorted(names):
                rel = str((Path(root) / n).relative_to(folder))
                if Path(n).suffix.lower() in PHOTO_EXT | CLIP_EXT and rel not in listed:
                    report.unlabelled.append(rel)
        report.seconds = time.perf_counter() - started
        return report
