"""One camera's analysis, frame by frame: motion → (crops) → detector → tracker →
zones → rules → episodes → events with evidence.

:meth:`CameraPipeline.process` is synchronous and takes the time from its
caller, so tests drive it with a controllable clock and real footage; the
:class:`edge.video.service.VideoService` calls it from each camera's thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np

from contracts import Box, Detection, EventState, EvidenceRef, EvidenceSnapshot, HazardEvent, HazardType
from contracts.ids import new_id
from contracts.site.models import Camera
from edge.fusion import FusionHub, SensorSignal
from edge.video.crops import plan_regions
from edge.video.detector.adapters import RawDetection
from edge.video.detector.engine import DetectorService
from edge.video.episodes import Assessment, Episode, Finding, Transition
from edge.video.evidence import caption_for, encode_jpeg, render, snapshot
from edge.video.fire import FireAnalyzer
from edge.video.fixtures import FixtureMemory, ignored_object
from edge.video.lowlight import InfraredWatch, LowLightPolicy
from edge.video.motion import MotionDetector, MotionResult, share_in, small_size
from edge.video.rules import BlockedRule, DormRule, FireRule, OfflineRule, WorkshopRule, ZoneView
from edge.video.scene import ViewMonitor, ZoneLights
from edge.video.settings import EpisodeSettings, VideoSettings
from edge.video.sources import Frame, Interpolation
from edge.video.tracker import Tracker
from edge.video.zones import CameraGeometry, ZoneArea, ZoneMembership, build_geometry

log = logging.getLogger(__name__)
PixelBox = tuple[int, int, int, int]
PERSON_RULES = frozenset({HazardType.OCCUPIED_FACTORY_DORM, HazardType.ILLEGAL_WORKSHOP})
ARMED = "present when the zone armed"


@dataclass
class Outgoing:
    """What one frame produced for the uplink, in order."""

    event: HazardEvent | None = None
    evidence: EvidenceSnapshot | None = None


@dataclass
class CameraStats:
    frames_analysed: int = 0
    frames_dropped: int = 0
    detector_passes: int = 0
    crops: int = 0
    inference_ms: float = 0.0  # moving average per detector pass
    analyse_ms: float = 0.0  # moving average per analysed frame
    events: dict[tuple[str, str], int] = field(default_factory=dict)  # (hazard, state) -> count


def _ema(old: float, new: float, first: bool) -> float:
    return new if first else 0.9 * old + 0.1 * new


class CameraPipeline:
    def __init__(
        self,
        camera: Camera,
        node_id: str,
        detector: DetectorService,
        settings: VideoSettings,
        fusion: FusionHub | None = None,
    ) -> None:
        self.camera = camera
        self.node_id = node_id
        self.detector = detector
        self.settings = settings
        self.fusion = fusion
        self.stats = CameraStats()
        self.geometry: CameraGeometry | None = None
        self.problems: list[str] = []
        self.tracker = self._new_tracker()
        self.fixtures = FixtureMemory(settings.fixtures, camera.id)
        self.low_light = LowLightPolicy.of(detector.calibration.low_light, settings.detector.enhance_below)
        self.infrared = InfraredWatch()
        self.membership = ZoneMembership(settings.tracker.zone_enter_hits, settings.tracker.zone_exit_hits)
        self.dorm = DormRule(settings.dorm)
        self.workshop = WorkshopRule(settings.workshop)
        self.fire_rule = FireRule(settings.fire)
        self.offline_rule = OfflineRule(settings.camera)
        self.blocked_rule = BlockedRule(settings.camera)
        self.view = ViewMonitor(settings.camera)
        self.episodes: dict[tuple[HazardType, str | None], Episode] = {}
        self._motion: MotionDetector | None = None
        self._fire: FireAnalyzer | None = None
        self._lights: dict[str, ZoneLights] = {}
        self._armed_before: dict[tuple[HazardType, str], bool] = {}
        self._learn_fixtures = False  # the next full-frame pass records what is there
        self._new_camera: Camera | None = None  # set by another thread, taken at the next frame
        self._reference_pending = False
        self._last_full_scan: datetime | None = None
        self._scan_reason: str | None = None
        self._scan_event_id: str | None = None
        self.last_frame_at: datetime | None = None
        self.started_at: datetime | None = None
        self.blocked = False
        self.offline = False

    def update_camera(self, camera: Camera) -> None:
        """New configuration for this camera (any thread), applied at the next frame.
        Operator-marked objects apply at once, keeping what the camera has learnt; new
        zones, masks or resolution start its analysis afresh (open situations stay open)."""
        if camera.id != self.camera.id:
            raise ValueError(f"configuration of {camera.id!r} given to camera {self.camera.id!r}")
        self._new_camera = camera

    def _take_new_camera(self) -> None:
        camera, self._new_camera = self._new_camera, None
        if camera is None:
            return
        light = {"ignore_objects", "reference_image", "name", "source", "fps", "enabled"}
        same_geometry = camera.model_dump(exclude=light) == self.camera.model_dump(exclude=light)
        reference_changed = camera.reference_image != self.camera.reference_image
        self.camera = camera
        if not same_geometry or self.geometry is None:
            self.geometry = None  # rebuilt (zones, masks, tracker, motion) from this frame on
            return
        w, h = self.geometry.frame
        small = small_size(w, h, self.settings.motion.width)
        self.geometry.ignore_objects = build_geometry(camera, (w, h), small).ignore_objects
        if reference_changed:
            self._reference_pending = bool(camera.reference_image)
        log.info(
            "camera configuration updated: %d marked object(s)",
            len(camera.ignore_objects),
            extra={"device_id": camera.id},
        )

    def warnings(self) -> list[str]:
        """What an installer or operator should know about this camera's analysis."""
        out = list(self.problems)
        if self.infrared.active:
            out.append(
                "greyscale (infrared) view: flames are not looked for (they need colour); only the "
                "smoke cue and the sensors near the camera watch for fire"
            )
        return out

    def _new_tracker(self) -> Tracker:
        return Tracker(self.settings.tracker, self.detector.calibration.track_score)

    # ------------------------------------------------------------------ control
    def request_scan(self, reason: str, event_id: str | None = None) -> None:
        """Ask for a full-frame scan and a snapshot at the next frame (any thread); the
        snapshot belongs to ``event_id`` (e.g. the sensor alarm that asked) when given."""
        self._scan_event_id = event_id
        self._scan_reason = reason

    def _episode(self, hazard: HazardType, zone_id: str | None) -> Episode:
        key = (hazard, zone_id)
        if key not in self.episodes:
            settings: EpisodeSettings
            if hazard is HazardType.OCCUPIED_FACTORY_DORM:
                settings = self.settings.dorm
            elif hazard is HazardType.ILLEGAL_WORKSHOP:
                settings = self.settings.workshop
            elif hazard is HazardType.FIRE_SMOKE:
                settings = self.settings.fire
            else:
                cam = self.settings.camera
                settings = EpisodeSettings(
                    update_interval_s=cam.update_interval_s, clear_after_s=cam.recover_after_s, cooldown_s=0
                )
            self.episodes[key] = Episode(hazard, zone_id, settings)
        return self.episodes[key]

    def _setup(self, width: int, height: int) -> CameraGeometry:
        small = small_size(width, height, self.settings.motion.width)
        geometry = build_geometry(self.camera, (width, height), small)
        for problem in geometry.problems:
            if problem not in self.problems:
                log.warning("camera configuration: %s", problem, extra={"device_id": self.camera.id})
        self.problems = geometry.problems
        self._motion = MotionDetector(self.settings.motion, (width, height), geometry.ignore_small)
        ignore_full = None
        if geometry.ignore:
            ignore_full = np.zeros((height, width), np.uint8)
            cv2.fillPoly(ignore_full, [np.round(p).astype(np.int32) for p in geometry.ignore], 255)
        # Fire reads the motion stage's small copy of each frame (one downscale per frame, not
        # one per stage): 320 wide by default, where fire alone would pick ~256.
        self._fire = FireAnalyzer(self.settings.fire, (width, height), ignore_full, self._motion.size)
        self._lights = {z.id: ZoneLights(self.settings.camera.lights_jump) for z in geometry.zones}
        self.tracker = self._new_tracker()
        self.geometry = geometry
        self._reference_pending = bool(self.camera.reference_image)
        return geometry

    def _learn_reference(self, width: int, height: int, now: datetime) -> None:
        """What the detector finds in the camera's picture of the empty scene is a fixture."""
        path = self.camera.reference_image
        if not path or not self.detector.available:
            return
        from edge.video.sources import SourceError, resolve_source

        try:
            target = resolve_source(path).target
        except SourceError as exc:
            self.problems.append(f"reference_image: {exc}")
            return
        image = cv2.imread(target, cv2.IMREAD_COLOR)
        if image is None:
            self.problems.append(f"reference_image: cannot read {target!r}; no fixtures learnt from it")
            return
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        self.fixtures.learn(self.detect_full_frame(image), now, "in the reference picture")

    # ------------------------------------------------------------------ per frame
    def process(self, frame: Frame, now: datetime) -> list[Outgoing]:
        started = time.perf_counter()
        if self._new_camera is not None:
            self._take_new_camera()
        # The frame may still be in its decoder's YUV (edge.video.sources.Frame): each stage asks
        # for the copy it reads, and the full-size BGR picture is made only if one needs it.
        w, h = frame.size
        geometry = self.geometry
        if geometry is None or geometry.frame != (w, h):
            geometry = self._setup(w, h)
        assert self._motion is not None and self._fire is not None
        self.started_at = self.started_at or now
        self.last_frame_at = now
        if self._reference_pending:
            self._reference_pending = False
            self._learn_reference(w, h, now)
        out: list[Outgoing] = []
        first = self.stats.frames_analysed == 0

        # One small copy shared by motion, scene (motion.grey), the infrared check and fire.
        small = frame.resized(self._motion.size, Interpolation.AREA)
        motion = self._motion.update(None, small)
        infrared = self.infrared.update(small)
        view = self.view.update(motion.grey, now)
        lights_jumped = self._update_lights(motion, geometry)

        armed = self._armed(geometry, now, frame, out)
        person_rules = any(armed[k] for k in armed if k[0] is not HazardType.FIRE_SMOKE)
        scan_reason, self._scan_reason = self._scan_reason, None
        if self.detector.available and (person_rules or scan_reason):
            full = (
                not self.settings.scan.motion_gating
                or scan_reason is not None
                or self._learn_fixtures
                or lights_jumped
                or motion.global_change
                or self._last_full_scan is None
                or (now - self._last_full_scan).total_seconds() >= self.settings.scan.full_scan_interval_s
            )
            self._detect(frame, motion, full, now)
        else:
            self.tracker.prune(now)
        self._observe_zones(geometry, now)

        signals_for = self._signals(now)
        for zone in geometry.zones:
            zview: ZoneView | None = None
            for hazard in (HazardType.OCCUPIED_FACTORY_DORM, HazardType.ILLEGAL_WORKSHOP):
                if not armed.get((hazard, zone.id)):
                    continue
                zview = zview or self._zone_view(zone, motion, now)
                if hazard is HazardType.OCCUPIED_FACTORY_DORM:
                    a = self.dorm.assess(zview, now)
                else:
                    a = self.workshop.assess(zview, now, signals_for(self.settings.workshop.fusion_window_s))
                self._step(a, now, frame, geometry, out)

        fire_armed = not geometry.zones or any(
            armed.get((HazardType.FIRE_SMOKE, z.id)) for z in geometry.zones
        )
        if fire_armed and not view.uniform:
            fire_frame = self._fire.update(small, infrared=infrared, small=small)
            a = self.fire_rule.assess(
                fire_frame, geometry.zones, now, signals_for(self.settings.fire.fusion_window_s)
            )
            self._step(a, now, frame, geometry, out)

        detail = f"grey spread {view.std:.1f}, match with the usual view {view.ncc:.2f}"
        blocked = self.blocked_rule.assess(view.uniform, view.changed, now, detail)
        self._step(blocked, now, frame, geometry, out)
        self.blocked = self._episode(HazardType.CAMERA_BLOCKED, None).open
        self._step(self.offline_rule.assess(0.0, ""), now, frame, geometry, out)
        self.offline = False

        if scan_reason is not None:
            event_id, self._scan_event_id = self._scan_event_id, None
            out.append(
                Outgoing(
                    evidence=self._standalone_snapshot(frame.image, geometry, scan_reason, now, event_id)
                )
            )

        self.stats.frames_analysed += 1
        self.stats.analyse_ms = _ema(self.stats.analyse_ms, (time.perf_counter() - started) * 1000, first)
        return out

    def idle(self, now: datetime, reason: str) -> list[Outgoing]:
        """No frame arrived: is the camera offline?"""
        self.started_at = self.started_at or now
        since = self.last_frame_at or self.started_at
        silent = (now - since).total_seconds()
        out: list[Outgoing] = []
        a = self.offline_rule.assess(silent, reason or "no frames")
        self._step(a, now, None, self.geometry, out)
        self.offline = self._episode(HazardType.CAMERA_OFFLINE, None).open
        return out

    # ------------------------------------------------------------------ stages
    def _update_lights(self, motion: MotionResult, geometry: CameraGeometry) -> bool:
        jumped = False
        for zone in geometry.zones:
            lights = self._lights[zone.id]
            was_on = lights.on
            level = cv2.mean(motion.grey, mask=zone.small_mask)[0]
            if lights.update(level) and not was_on:
                jumped = True
                log.info("lights on in zone %s", zone.id, extra={"device_id": self.camera.id})
        return jumped

    def _armed(
        self, geometry: CameraGeometry, now: datetime, frame: Frame, out: list[Outgoing]
    ) -> dict[tuple[HazardType, str], bool]:
        tz = self.settings.tz
        armed: dict[tuple[HazardType, str], bool] = {}
        for zone in geometry.zones:
            for hazard in zone.rules:
                key = (hazard, zone.id)
                armed[key] = zone.armed(hazard, now, tz)
                if armed[key] and not self._armed_before.get(key) and hazard in PERSON_RULES:
                    # Arming (or starting to watch while armed): what stands there now was
                    # there before anyone could have arrived: a fixture until it moves.
                    self.fixtures.forget_all(ARMED)
                    self._learn_fixtures = True
                if self._armed_before.get(key) and not armed[key]:
                    # The schedule ended: close what is open and forget the night's state.
                    episode = self._episode(hazard, zone.id)
                    ended = Assessment(hazard, zone.id, False, False, summary="zone schedule ended")
                    t = episode.clear(now, ended)
                    if t:
                        out.append(self._emit(t, now, frame, geometry))
                    self.dorm.reset(zone.id)
                    self.workshop.reset(zone.id)
                self._armed_before[key] = armed[key]
        return armed

    def _detect(self, frame: Frame, motion: MotionResult, full: bool, now: datetime) -> None:
        w, h = frame.size
        regions: list[PixelBox] | None
        if full:
            regions = None
        else:
            boxes = list(motion.boxes)
            recheck = self.settings.scan.stationary_recheck_s
            for t in self.tracker.tracks:
                if not t.stationary or (now - t.last_seen).total_seconds() >= recheck:
                    boxes.append(t.pixel_box())
            regions = plan_regions(
                boxes,
                (w, h),
                self.detector.input_size,
                self.settings.scan.crop_margin,
                self.settings.scan.max_crops,
            )
            if regions == []:
                self.tracker.prune(now)
                return
        scale: tuple[float, float] | None = None
        if regions is None:
            # The whole frame at the size the model's input makes of it, straight from the
            # decoder's YUV when the frame is still there (no full-size BGR picture, no second
            # resize in the detector); its boxes are scaled back to frame pixels in collect().
            size, how = self.detector.fitted(w, h)
            crops = [frame.resized(size, Interpolation(how))]
            scale = (w / size[0], h / size[1])
        else:
            image = frame.image
            crops = [image[r[1] : r[3], r[0] : r[2]] for r in regions]
        grey = bool(self.infrared.active)
        crops = [self.low_light.prepare(c, grey) for c in crops]
        started = time.perf_counter()
        results = self.detector.detect(self.camera.id, crops, self.settings.detector.score_threshold)
        took = (time.perf_counter() - started) * 1000
        self.stats.inference_ms = _ema(self.stats.inference_ms, took, self.stats.detector_passes == 0)
        self.stats.detector_passes += 1
        self.stats.crops += len(crops)
        detections = self.collect(results, regions, scale)
        if regions is None:
            self._last_full_scan = now
            if self._learn_fixtures:
                self._learn_fixtures = False
                self.fixtures.learn(detections, now, ARMED)
        self.tracker.update(detections, regions, now)
        self.fixtures.classify(self.tracker.tracks, now)

    def detect_full_frame(self, image: np.ndarray) -> list[RawDetection]:
        """One full-frame detection pass exactly as this camera runs it: low-light
        enhancement where the model's calibration says it helps (colour or infrared), the
        detector at the model's per-class thresholds, the tracked classes only, and the
        camera's ignore masks and operator-marked objects. No tracking, no rules: what
        `gridwatch eval` and tools use to see what the detector makes of a picture."""
        h, w = image.shape[:2]
        if self.geometry is None or self.geometry.frame != (w, h):
            self._setup(w, h)
        grey = self.infrared.active if self.infrared.active is not None else self.infrared.update(image)
        prepared = self.low_light.prepare(image, bool(grey))
        (found,) = self.detector.detect(self.camera.id, [prepared], self.settings.detector.score_threshold)
        return self.collect([found], None)

    def collect(
        self,
        results: list[list[RawDetection]],
        regions: list[PixelBox] | None,
        scale: tuple[float, float] | None = None,
    ) -> list[RawDetection]:
        """Detections of the passes over ``regions`` (None: the full frame, handed to the detector
        ``scale`` times smaller when given) in frame pixels:
        tracked classes only, outside ignore masks, not an operator-marked object, one box
        per object where crops overlapped."""
        assert self.geometry is not None
        wanted = set(self.settings.detector.labels)
        marks = self.geometry.ignore_objects
        share = self.settings.fixtures.move_share
        found: list[RawDetection] = []
        for i, dets in enumerate(results):
            dx, dy = (0, 0) if regions is None else regions[i][:2]
            for d in dets:
                if d.label not in wanted:
                    continue
                d = d.shifted(dx, dy) if scale is None else d.scaled(*scale)
                if self.geometry.ignored((d.x1 + d.x2) / 2, d.y2):
                    continue
                if marks and ignored_object(d, marks, share):
                    continue
                found.append(d)
        if regions is not None and len(regions) > 1:
            found = _dedupe(found)
        return found

    def _observe_zones(self, geometry: CameraGeometry, now: datetime) -> None:
        for t in self.tracker.tracks:
            if not t.updated:
                continue
            x, y = t.bottom_centre
            for zone in geometry.zones:
                self.membership.observe(zone.id, t.id, zone.contains(x, y), now)
        self.membership.forget(t.id for t in self.tracker.tracks)

    def _zone_view(self, zone: ZoneArea, motion: MotionResult, now: datetime) -> ZoneView:
        members = self.membership.members(zone.id)
        inside = [
            t for t in self.tracker.tracks if t.id in members and self.tracker.confirmed(t) and not t.fixture
        ]
        return ZoneView(
            zone,
            people=[t for t in inside if t.label == "person"],
            beds=[t for t in inside if t.label == "bed"],
            motion=share_in(motion.mask, zone.small_mask),
            lights_on=self._lights[zone.id].on,
        )

    def _signals(self, now: datetime) -> Callable[[float], list[SensorSignal]]:
        cache: dict[float, list[SensorSignal]] = {}

        def recent(window_s: float) -> list[SensorSignal]:
            if self.fusion is None:
                return []
            if window_s not in cache:
                cache[window_s] = self.fusion.recent(self.camera.id, window_s, now)
            return cache[window_s]

        return recent

    # ------------------------------------------------------------------ output
    def _step(
        self,
        a: Assessment,
        now: datetime,
        frame: Frame | None,
        geometry: CameraGeometry | None,
        out: list[Outgoing],
    ) -> None:
        t = self._episode(a.hazard, a.zone_id if a.hazard is not HazardType.FIRE_SMOKE else None).step(a, now)
        if t is not None:
            out.append(self._emit(t, now, frame, geometry))

    def _emit(
        self, t: Transition, now: datetime, frame: Frame | None, geometry: CameraGeometry | None
    ) -> Outgoing:
        a = t.assessment
        zone_id = a.zone_id
        event_id_holder = new_id()
        evidence = ref = None
        if t.snapshot and frame is not None and geometry is not None:
            # The evidence picture is full size: the one place (with crops) a BGR frame is made.
            evidence, ref = self._snapshot(frame.image, geometry, a, t.state, now, event_id_holder)
        w, h = frame.size if frame is not None else (self.camera.resolution[0], self.camera.resolution[1])
        summary = a.summary if t.state is not EventState.CLEAR else f"cleared: {a.summary}"
        event = HazardEvent(
            id=event_id_holder,
            source=self.node_id,
            seq=0,  # the node's outbox assigns the real sequence number
            ts=now,
            hazard_type=a.hazard,
            severity=t.severity,
            confidence=max(0.0, min(1.0, a.confidence)),
            state=t.state,
            episode_id=t.episode_id,
            device_id=self.camera.id,
            zone_id=zone_id,
            location=self.camera.location,
            rule=f"video.{a.hazard.value}",
            summary=summary[:500],
            detections=[_detection(f, w, h) for f in a.findings[:100]],
            readings=list(a.readings[:50]),
            evidence=ref,
            started_at=t.started_at,
        )
        key = (a.hazard.value, t.state.value)
        self.stats.events[key] = self.stats.events.get(key, 0) + 1
        log.info(
            "%s %s (%s): %s",
            a.hazard.value,
            t.state.value,
            t.severity.value,
            event.summary,
            extra={"device_id": self.camera.id, "event_id": event.id},
        )
        return Outgoing(event=event, evidence=evidence)

    def _snapshot(
        self,
        image: np.ndarray,
        geometry: CameraGeometry,
        a: Assessment,
        state: EventState,
        now: datetime,
        event_id: str | None,
    ) -> tuple[EvidenceSnapshot, EvidenceRef]:
        zone = geometry.zone(a.zone_id) if a.zone_id else None
        blur: list[PixelBox] = []
        if self.settings.evidence.blur_people_outside_zone and zone is not None:
            for tr in self.tracker.tracks:
                x, y = tr.bottom_centre
                if tr.label == "person" and not zone.contains(x, y):
                    blur.append(tr.pixel_box())
        caption = caption_for(self.camera.id, a.hazard.value, state.value, now, self.settings.tz)
        drawn = render(image, geometry.zones, a.zone_id, a.findings, caption, blur)
        jpeg, snap_w, snap_h = encode_jpeg(drawn, self.settings.evidence)
        snap, ref = snapshot(self.node_id, self.camera.id, jpeg, snap_w, snap_h, event_id)
        return snap.model_copy(update={"ts": now}), ref

    def _standalone_snapshot(
        self,
        image: np.ndarray,
        geometry: CameraGeometry,
        reason: str,
        now: datetime,
        event_id: str | None = None,
    ) -> EvidenceSnapshot:
        findings = [
            Finding(t.label, round(t.score, 3), t.pixel_box(), t.id)
            for t in self.tracker.tracks
            if self.tracker.confirmed(t)
        ]
        caption = f"{self.camera.id}  {reason}  " + now.astimezone(self.settings.tz).strftime("%H:%M:%S")
        drawn = render(image, geometry.zones, None, findings, caption)
        jpeg, w, h = encode_jpeg(drawn, self.settings.evidence)
        snap, _ = snapshot(self.node_id, self.camera.id, jpeg, w, h, event_id)
        log.info("snapshot taken: %s", reason, extra={"device_id": self.camera.id})
        return snap.model_copy(update={"ts": now})


def _detection(f: Finding, w: int, h: int) -> Detection:
    x1, y1, x2, y2 = f.box
    clip = lambda v: min(1.0, max(0.0, v))  # noqa: E731
    return Detection(
        label=f.label,
        score=min(1.0, max(0.0, f.score)),
        box=Box(x1=clip(x1 / w), y1=clip(y1 / h), x2=clip(max(x1, x2) / w), y2=clip(max(y1, y2) / h)),
        track_id=f.track_id,
        dwell_s=f.dwell_s,
    )


def _dedupe(dets: list[RawDetection]) -> list[RawDetection]:
    """The same object seen in two overlapping crops: keep the better box."""
    from edge.video.detector.adapters import nms

    out: list[RawDetection] = []
    for label in {d.label for d in dets}:
        same = [d for d in dets if d.label == label]
        boxes = np.array([[d.x1, d.y1, d.x2, d.y2] for d in same], dtype=np.float32)
        scores = np.array([d.score for d in same], dtype=np.float32)
        out.extend(same[i] for i in nms(boxes, scores, 0.5))
    return out
