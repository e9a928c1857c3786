"""Zones (scaling, clipping, schedules, membership inertia, ignore masks), the
tracker (confirmation, stationary objects kept) and where the detector looks."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from contracts import HazardType
from contracts.site.models import ZoneType
from edge.video.crops import plan_regions
from edge.video.detector.adapters import RawDetection
from edge.video.detector.engine import DetectorService
from edge.video.pipeline import CameraPipeline
from edge.video.settings import TrackerSettings, VideoSettings
from edge.video.tracker import Track, Tracker, _covered, iou_matrix
from edge.video.zones import DEFAULT_RULES, ZoneMembership, build_geometry
from tests.support.video.drive import SHANGHAI, arm_empty, at, camera, full_zone, play
from tests.support.video.media import photo

T0 = datetime(2025, 3, 5, 23, 0, tzinfo=SHANGHAI)


def zone(zid: str, polygon: list[list[float]], **kw: object) -> dict:
    return {"id": zid, "type": "factory_floor", "polygon": polygon, **kw}


def test_zones_are_scaled_clipped_or_refused_with_a_reason() -> None:
    cam = camera(
        640,
        360,
        [
            zone("inside", [[0, 0], [320, 0], [320, 360], [0, 360]]),
            zone("spills", [[500, 200], [900, 200], [900, 500], [500, 500]]),
            zone("away", [[700, 400], [900, 400], [900, 500]]),
        ],
        ignore_masks=[[(600, 0), (640, 0), (640, 40)]],
    )
    geo = build_geometry(cam, (640, 360), (320, 180))
    assert [z.id for z in geo.zones] == ["inside", "spills"]
    assert any("'spills'" in p and "clipped" in p for p in geo.problems)
    assert any("'away'" in p and "outside the 640x360 frame; ignored" in p for p in geo.problems)
    spills = geo.zone("spills")
    assert spills is not None and spills.polygon[:, 0].max() <= 640 and spills.polygon[:, 1].max() <= 360
    assert geo.ignored(635, 5) and not geo.ignored(10, 300)

    # The stream turns out to be 1280x720: the same zones, scaled, and the health says so.
    big = build_geometry(cam, (1280, 720), (320, 180))
    assert big.zone("inside") is not None and big.zone("inside").contains(600, 700)  # type: ignore[union-attr]
    assert any("1280x720" in p and "scaled" in p for p in big.problems)


def test_schedules_arm_the_night_rules_and_fire_is_always_armed() -> None:
    cam = camera(100, 100, [zone("z", [[0, 0], [100, 0], [100, 100]], schedules=["Fri 21:00-06:00"])])
    z = build_geometry(cam, (100, 100), (100, 100)).zones[0]
    tz = SHANGHAI
    friday_night = datetime(2025, 3, 7, 23, 0, tzinfo=tz)
    saturday_small_hours = datetime(2025, 3, 8, 5, 59, tzinfo=tz)
    saturday_night = datetime(2025, 3, 8, 23, 0, tzinfo=tz)
    dorm = HazardType.OCCUPIED_FACTORY_DORM
    assert z.armed(dorm, friday_night, tz) and z.armed(dorm, saturday_small_hours, tz)
    assert not z.armed(dorm, saturday_night, tz)
    assert z.armed(HazardType.FIRE_SMOKE, saturday_night, tz), "fire does not wait for the schedule"
    assert not z.armed(HazardType.ILLEGAL_WORKSHOP, friday_night, tz), "not a factory_floor default"
    assert HazardType.OCCUPIED_FACTORY_DORM not in DEFAULT_RULES[ZoneType.DORMITORY]


def test_zone_membership_needs_a_few_observations_either_way() -> None:
    m = ZoneMembership(enter_hits=3, exit_hits=3)
    t = T0
    for inside in (True, True):
        m.observe("z", 7, inside, t)
    assert m.members("z") == {}
    m.observe("z", 7, True, t + timedelta(seconds=1))
    assert m.members("z") == {7: t + timedelta(seconds=1)}
    m.observe("z", 7, False, t)  # one jittery box outside changes nothing
    m.observe("z", 7, True, t)
    m.observe("z", 7, False, t)
    m.observe("z", 7, False, t)
    assert 7 in m.members("z")
    m.observe("z", 7, False, t)
    assert m.members("z") == {}
    m.forget([])
    assert m.members("z") == {}


def det(x: float, score: float = 0.8, label: str = "person") -> RawDetection:
    return RawDetection(0, label, score, x, 100, x + 40, 200)


def test_a_track_counts_after_a_few_hits_and_a_still_one_is_kept() -> None:
    tracker = Tracker(
        TrackerSettings(min_hits=3, max_misses=2, stationary_max_misses=8, stationary_after_s=5)
    )
    now = T0
    for i in range(3):
        tracker.update([det(100 + i * 3), det(400 + i * 10)], None, now + timedelta(seconds=i))
    still, walker = sorted(tracker.tracks, key=lambda t: t.box[0])
    assert tracker.confirmed(still) and still.hits == 3
    for i in range(3, 10):  # the walker leaves; the still one stays put
        tracker.update([det(106)], None, now + timedelta(seconds=i))
    assert still.stationary and walker not in tracker.tracks
    # Not detected for a while (asleep under a blanket): a stationary track survives many misses.
    for i in range(10, 16):
        tracker.update([], None, now + timedelta(seconds=i))
    assert still in tracker.tracks
    for i in range(16, 20):
        tracker.update([], None, now + timedelta(seconds=i))
    assert still not in tracker.tracks
    # A region that did not cover the object is no evidence of absence.
    tracker.update([det(106)], None, now)
    lone = tracker.tracks[0]
    for _ in range(5):
        tracker.update([], [(500, 0, 600, 100)], now)
    assert lone in tracker.tracks and lone.misses == 0


def test_one_confident_box_does_not_make_a_person() -> None:
    tracker = Tracker(TrackerSettings(min_hits=3, min_median_score=0.35))
    for i, score in enumerate((0.9, 0.2, 0.2, 0.25)):
        tracker.update([det(100, score)], None, T0 + timedelta(seconds=i))
    assert not tracker.confirmed(tracker.tracks[0]), "the median of its scores is too low"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """The tracker's IoU as it was, one pair at a time: the reference for :func:`iou_matrix`."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class ScalarTracker(Tracker):
    """The tracker's assignment as it was, one IoU at a time: the reference for the matrix one."""

    def update(self, detections: list[RawDetection], regions: list | None, now: datetime) -> None:
        for t in self.tracks:
            t.updated = False
        dets = [np.array([d.x1, d.y1, d.x2, d.y2], dtype=np.float32) for d in detections]
        pairs = []
        for ti, t in enumerate(self.tracks):
            for di, d in enumerate(detections):
                if d.label == t.label:
                    overlap = iou(t.box, dets[di])
                    if overlap >= self.settings.iou_match:
                        pairs.append((overlap, ti, di))
        pairs.sort(reverse=True)
        used_t: set[int] = set()
        used_d: set[int] = set()
        for _, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            self._hit(self.tracks[ti], dets[di], detections[di].score, now)
        for di, d in enumerate(detections):
            if di not in used_d:
                track = Track(next(self._ids), d.label, dets[di], now, now, anchor=dets[di], anchor_since=now)
                track.scores.append(d.score)
                self.tracks.append(track)
        for ti, t in enumerate(self.tracks):
            if ti not in used_t and not t.updated and _covered(t, regions):
                t.misses += 1
        self.prune(now)


def test_the_iou_matrix_is_the_scalar_iou_and_the_assignments_stay_the_same() -> None:
    rng = np.random.default_rng(19)
    # Boxes that overlap a lot, a little, touch, nest, are degenerate (zero width) or inverted.
    a = rng.uniform(0, 200, (40, 4)).astype(np.float32)
    a[:, 2:] = a[:, :2] + rng.choice([0.0, 0.5, 20.0, 80.0, -5.0], (40, 2)).astype(np.float32)
    b = np.concatenate([a[:10], a[10:20] + np.float32(3.3), rng.uniform(0, 200, (20, 4)).astype(np.float32)])
    b[20:, 2:] = b[20:, :2] + rng.uniform(0, 90, (20, 2)).astype(np.float32)
    matrix = iou_matrix(a, b)
    expected = np.array([[iou(x, y) for y in b] for x in a])
    assert matrix.dtype == np.float32
    assert np.array_equal(matrix.astype(np.float64), expected), "bit for bit"
    assert (expected > 0.99).sum() >= 5 and ((expected > 0.05) & (expected < 0.9)).sum() >= 10

    # Crowds walking (people crossing, two labels, misses, appearances, crops): the same tracks,
    # boxes, hits and misses after every pass as the one-pair-at-a-time assignment.
    settings = TrackerSettings(min_hits=2, max_misses=3, iou_match=0.3)
    fast, slow = Tracker(settings), ScalarTracker(settings)
    start = rng.uniform(0, 1000, (12, 2))
    speed = rng.uniform(-25, 25, (12, 2))
    labels = ["person"] * 9 + ["bed"] * 3
    for step in range(60):
        now = T0 + timedelta(seconds=step / 5)
        shown = rng.random(12) > 0.2
        at_ = start + speed * step + rng.normal(0, 3, (12, 2))
        found = [
            RawDetection(0, labels[i], float(rng.uniform(0.3, 0.9)), x, y, x + 60, y + 150)
            for i, (x, y) in enumerate(at_.tolist())
            if shown[i]
        ]
        rng.shuffle(found)  # type: ignore[arg-type]
        regions = None if step % 3 else [(0, 0, 500, 700)]
        fast.update(found, regions, now)
        slow.update(found, regions, now)
        seen = [(t.id, t.label, t.box.tolist(), t.hits, t.misses, t.stationary) for t in fast.tracks]
        assert seen == [(t.id, t.label, t.box.tolist(), t.hits, t.misses, t.stationary) for t in slow.tracks]
    assert len({t.id for t in fast.tracks}) > 12, "tracks were lost and started again along the way"


def test_crops_follow_motion_on_large_frames_and_small_frames_go_whole() -> None:
    assert plan_regions([(10, 10, 50, 90)], (384, 288), (416, 416), 0.25, 4) is None
    assert plan_regions([], (1280, 720), (416, 416), 0.25, 4) == []
    (crop,) = plan_regions([(900, 300, 960, 450)], (1280, 720), (416, 416), 0.25, 4)  # type: ignore[misc]
    assert crop[2] - crop[0] >= 416 and crop[3] - crop[1] >= 416
    assert crop[0] <= 900 and crop[2] >= 960 and crop[1] <= 300 and crop[3] >= 450
    merged = plan_regions([(100, 100, 150, 200), (200, 120, 250, 220)], (1280, 720), (416, 416), 0.25, 4)
    assert merged is not None and len(merged) == 1
    many = [(x, 10, x + 20, 60) for x in range(0, 1280, 250)] + [
        (x, 600, x + 20, 700) for x in range(0, 1280, 250)
    ]
    assert plan_regions(many, (1920, 1080), (416, 416), 0.1, 4) is None


def test_people_in_an_ignore_mask_are_not_tracked(yolox: DetectorService) -> None:
    portrait = np.ascontiguousarray(photo("astronaut.png"))
    h, w = portrait.shape[:2]
    settings = VideoSettings(dorm={"person_dwell_s": 5})
    masked = camera(w, h, [full_zone(w, h)], ignore_masks=[[(0, h // 2), (w, h // 2), (w, h), (0, h)]])
    open_view = camera(w, h, [full_zone(w, h)])
    tracked = {}
    for name, cam in (("masked", masked), ("open", open_view)):
        pipeline = CameraPipeline(cam, "node-1", yolox, settings)
        clock = at(23)
        run = arm_empty(pipeline, np.full_like(portrait, 110), clock)  # she arrives after arming
        run = play(pipeline, [portrait] * 10, clock, 1.0, run)
        tracked[name] = (len(pipeline.tracker.tracks), len(run.of(HazardType.OCCUPIED_FACTORY_DORM)))
    assert tracked["open"] == (1, 1) and tracked["masked"] == (0, 0), tracked


class SpyDetector:
    """The real detector, noting the size of every image it is asked to look at."""

    def __init__(self, inner: DetectorService) -> None:
        self.inner = inner
        self.calls: list[list[tuple[int, int]]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def detect(self, camera_id: str, images: list[np.ndarray], threshold: float | None = None) -> list:
        self.calls.append([(i.shape[1], i.shape[0]) for i in images])
        return self.inner.detect(camera_id, images, threshold)


def test_motion_gating_crops_around_the_person_and_still_scans_the_whole_view(
    yolox: DetectorService,
) -> None:
    """A 1280x720 view with someone keeping still: with gating the detector looks at a crop
    around them, and at the whole frame only on the scheduled full scans (every 10 s) —
    still enough to raise the night event; without gating every frame is a full pass."""
    view = np.full((720, 1280, 3), 110, np.uint8)
    view[100:612, 600:1112] = photo("astronaut.png")
    passes: dict[bool, list[list[tuple[int, int]]]] = {}
    for gating in (True, False):
        settings = VideoSettings(
            scan={"motion_gating": gating, "full_scan_interval_s": 10}, dorm={"person_dwell_s": 20}
        )
        spy = SpyDetector(yolox)
        pipeline = CameraPipeline(camera(1280, 720, [full_zone(1280, 720)]), "node-1", spy, settings)  # type: ignore[arg-type]
        clock = at(23)
        run = arm_empty(pipeline, np.full_like(view, 110), clock)  # she arrives after arming
        run = play(pipeline, [view] * 30, clock, 1.0, run)  # her arrival's motion fades from view
        spy.calls.clear()
        run = play(pipeline, [view] * 41, clock, 1.0, run)  # 41 s, a frame a second
        assert [e.state.value for e in run.of(HazardType.OCCUPIED_FACTORY_DORM)] == ["new"], gating
        passes[gating] = spy.calls
    full = (416, 234)  # a full pass hands the detector the frame at its input's scale already
    assert all(call == [full] for call in passes[False]) and len(passes[False]) == 41
    gated = passes[True]
    full_passes = [c for c in gated if c == [full]]
    assert 4 <= len(full_passes) <= 6, f"{len(full_passes)} full scans in 41 s, every 10 s expected"
    crops = [size for c in gated if c != [full] for size in c]
    assert crops, "between full scans the detector looks around the tracked person"
    assert all(w * h <= 0.6 * 1280 * 720 and w >= 416 and h >= 416 for w, h in crops), crops
