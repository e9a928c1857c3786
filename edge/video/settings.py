"""Settings of a node's video analytics: detector, sources, motion, tracker, rules.

Everything has a default that suits a small node; every field can be set from
the environment (``GRIDWATCH_VIDEO_<FIELD>``, nested with ``__``, e.g.
``GRIDWATCH_VIDEO_DORM__PERSON_DWELL_S=300``) or passed in by the node runtime.
Unknown keys are errors, so a typo in a threshold never goes unnoticed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.clock import TimeZoneName
from edge.video.detector.registry import MODEL_PATH_ENV


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorSettings(Section):
    model: str = Field(default="yolox_nano", description="Registry name of the detector model.")
    model_path: list[Path] = Field(
        default_factory=lambda: [
            Path(p) for p in os.environ.get(MODEL_PATH_ENV, "").split(os.pathsep) if p.strip()
        ],
        description=f"Directories searched for weights (default: ${MODEL_PATH_ENV}, else models/ and "
        "../shared/models of a checkout).",
    )
    registry: Path | None = Field(
        default=None, description="Registry file (default: the one shipped with GridWatch)."
    )
    workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Inference threads sharing the one model session; about one per core "
        "(several 1-thread runs side by side beat one run spread over the cores).",
    )
    threads: int = Field(
        default=1, ge=1, le=64, description="onnxruntime intra-op threads of each inference worker."
    )
    score_threshold: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Detections below this score are dropped, every class alike; default: the "
        "model's own per-class calibration in models/registry.yaml.",
    )
    labels: list[str] = Field(
        default_factory=lambda: ["person", "bed"], description="Classes that are tracked; others ignored."
    )
    enhance_below: float | None = Field(
        default=None,
        ge=0,
        le=255,
        description="Crops darker than this mean grey level get local contrast enhancement (CLAHE); "
        "default: the model's measured low-light calibration (colour and infrared apart).",
    )


class SourceSettings(Section):
    open_timeout_s: float = Field(default=5, gt=0, description="Opening a stream gives up after this.")
    read_timeout_s: float = Field(default=5, gt=0, description="A stream silent this long is reopened.")
    backoff_initial_s: float = Field(default=0.5, gt=0, description="First reconnect delay.")
    backoff_max_s: float = Field(default=30, gt=0, description="Longest reconnect delay (doubling).")
    loop_files: bool = Field(default=True, description="Replay video files from the start at the end.")
    realtime_files: bool = Field(
        default=True, description="Play files at their own frame rate, like a live camera."
    )
    decoder_threads: int = Field(
        default=1,
        ge=0,
        le=16,
        description="FFmpeg decoding threads per camera (0: FFmpeg's choice, one per core). A node "
        "decodes many cameras at once, each in its own thread already: more threads per decoder "
        "only add hand-overs (1280x720: ~1.0 ms of CPU per frame with 1, ~1.5 ms with 2).",
    )
    decoder: Literal["pyav", "opencv"] = Field(
        default="pyav",
        description="pyav: decode files and streams with PyAV and keep each frame in the decoder's "
        "own YUV, making only the small copies the analysis reads (~3 ms of CPU less per analysed "
        "1280x720 frame); a source PyAV cannot open falls back to OpenCV. opencv: OpenCV's FFmpeg "
        "backend, every analysed frame converted to a full BGR picture. USB cameras always use "
        "OpenCV (V4L2).",
    )


class MotionSettings(Section):
    width: int = Field(default=320, ge=64, le=1280, description="Motion runs on a grey copy this wide.")
    threshold: int = Field(default=22, ge=1, le=255, description="Grey-level change that counts as motion.")
    min_area: float = Field(
        default=0.0008, gt=0, lt=1, description="Smallest moving blob, as a share of the frame."
    )
    background_alpha: float = Field(default=0.05, gt=0, le=1, description="Background learning rate.")
    global_change: float = Field(
        default=0.6, gt=0, le=1, description="More of the frame moving than this = a global change."
    )


class ScanSettings(Section):
    motion_gating: bool = Field(
        default=True,
        description="Detect only around motion and tracked objects (plus full scans); "
        "off = a full-frame detection on every analysed frame.",
    )
    full_scan_interval_s: float = Field(
        default=10,
        gt=0,
        description="Every armed camera gets a full-frame detection at least this often "
        "(people asleep do not move).",
    )
    max_crops: int = Field(default=4, ge=1, le=16, description="More motion regions than this: full frame.")
    crop_margin: float = Field(default=0.25, ge=0, le=2, description="Context added around a region.")
    stationary_recheck_s: float = Field(
        default=10, gt=0, description="Stationary objects are re-checked only this often."
    )


class TrackerSettings(Section):
    min_hits: int = Field(default=3, ge=1, le=50, description="Detections before a track counts.")
    min_median_score: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Median of the last 10 scores a track needs to count; default: the model's "
        "calibrated gate per class (never below its detection threshold).",
    )
    iou_match: float = Field(default=0.25, gt=0, lt=1, description="Overlap that continues a track.")
    max_misses: int = Field(default=4, ge=1, description="Looked-for-but-absent before a moving track ends.")
    stationary_max_misses: int = Field(
        default=12, ge=1, description="Same, for a stationary track (kept much longer)."
    )
    max_age_s: float = Field(default=120, gt=0, description="A track unseen this long ends regardless.")
    stationary_after_s: float = Field(
        default=10, gt=0, description="Barely moving for this long: the object is stationary."
    )
    zone_enter_hits: int = Field(default=3, ge=1, description="Observations inside before it is 'in' a zone.")
    zone_exit_hits: int = Field(default=3, ge=1, description="Observations outside before it has left.")


class FixtureSettings(Section):
    """Objects that only look like people (a signpost, a coat on a hook, a poster)."""

    labels: list[str] = Field(
        default_factory=lambda: ["person"],
        description="Classes that can be fixtures. Beds are not: a bed set up in a factory is a sign.",
    )
    move_share: float = Field(
        default=0.15,
        gt=0,
        lt=1,
        description="An edge of the box moving by more than this share of its size: it moved.",
    )
    forget_s: float = Field(
        default=1800,
        gt=0,
        description="A fixture not seen for this long is forgotten (it was taken away).",
    )


class EpisodeSettings(Section):
    update_interval_s: float = Field(default=60, gt=0, description="An open situation updates this often.")
    clear_after_s: float = Field(default=120, gt=0, description="No evidence this long: clear.")
    cooldown_s: float = Field(default=300, ge=0, description="After a clear, the rule stays quiet this long.")


class DormRuleSettings(EpisodeSettings):
    person_dwell_s: float = Field(
        default=600, gt=0, description="A person in a no-residence zone this long at night (N minutes)."
    )
    bed_min_hits: int = Field(default=3, ge=1, description="Detections of a bed before it counts.")
    several_people: int = Field(default=2, ge=2, description="This many people at once is one more sign.")
    occupancy_gap_s: float = Field(
        default=30, ge=0, description="The zone counts as continuously occupied across gaps this short."
    )


class WorkshopRuleSettings(EpisodeSettings):
    sustain_s: float = Field(default=300, gt=0, description="Activity must last this long (N minutes).")
    active_ratio: float = Field(
        default=0.5, gt=0, le=1, description="Share of analysed frames in that span with activity."
    )
    zone_motion: float = Field(
        default=0.003, gt=0, lt=1, description="Share of the zone moving that counts as motion."
    )
    activity_gap_s: float = Field(
        default=60, ge=0, description="Activity continues across pauses this short."
    )
    fusion_window_s: float = Field(
        default=600, gt=0, description="Gas or smoke alarms this recent near the camera raise severity."
    )


class FireRuleSettings(EpisodeSettings):
    clear_after_s: float = Field(default=60, gt=0, description="No flames or smoke this long: clear.")
    cooldown_s: float = Field(default=120, ge=0, description="After a clear, the rule stays quiet this long.")
    window: int = Field(default=12, ge=4, le=100, description="Analysed frames of history per decision.")
    min_positive: int = Field(default=6, ge=1, description="Frames in the window that must show fire.")
    min_area: float = Field(
        default=0.002, gt=0, lt=1, description="Smallest fire or smoke region, as a share of the frame."
    )
    flicker_min: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="Share of a flame region's pixels that must flicker while staying flame-coloured.",
    )
    spectrum_min: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Share of a flame region's brightness variation that must be fast (broadband flicker).",
    )
    shape_min: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="Mean frame-to-frame change of a flame region's outline (1 - IoU) it must show.",
    )
    min_evidence_s: float = Field(
        default=3,
        ge=0,
        description="Fire must be seen for this long (with at most short gaps) before it is raised.",
    )
    smoke: bool = Field(default=True, description="Also look for smoke (grey, slow, blurring); see docs.")
    fusion_window_s: float = Field(
        default=300, gt=0, description="Smoke alarms this recent near the camera are named in the event."
    )


class CameraHealthSettings(Section):
    offline_after_s: float = Field(default=30, gt=0, description="No frames this long: camera offline.")
    blocked_after_s: float = Field(
        default=15, gt=0, description="Dark/uniform view or a changed scene this long: camera blocked."
    )
    recover_after_s: float = Field(default=5, gt=0, description="Good frames this long clear it again.")
    uniform_std: float = Field(default=6, gt=0, description="Grey std-dev below this = uniform view.")
    scene_change_ncc: float = Field(
        default=0.35, gt=-1, lt=1, description="Correlation with the reference view below this = changed."
    )
    accept_new_view_s: float = Field(
        default=600, gt=0, description="A changed view that stays this long becomes the new reference."
    )
    lights_jump: float = Field(
        default=40, gt=0, description="A zone this many grey levels brighter than its dark level: lights on."
    )
    update_interval_s: float = Field(
        default=600, gt=0, description="An offline or blocked camera is reported again this often."
    )


class EvidenceSettings(Section):
    max_bytes: int = Field(default=200_000, gt=10_000, le=200_000, description="JPEG size limit.")
    max_width: int = Field(default=1280, ge=160, le=4096, description="Snapshots are scaled down to this.")
    quality: int = Field(default=85, ge=30, le=100, description="First JPEG quality tried.")
    blur_people_outside_zone: bool = Field(
        default=False, description="Blur people outside the hazard's zone (privacy)."
    )


class VideoSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GRIDWATCH_VIDEO_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    timezone: TimeZoneName = Field(default="Asia/Shanghai", description="Site time zone for zone schedules.")
    max_fps: float = Field(default=10, gt=0, le=60, description="Cap on any camera's analysis rate.")
    metrics_port: int | None = Field(default=None, description="Serve Prometheus /metrics here.")
    switch_interval_ms: float | None = Field(
        default=1.0,
        gt=0,
        le=100,
        description="While cameras run, Python's thread switch interval (sys.setswitchinterval; "
        "Python's own is 5 ms). An inference worker coming back from onnxruntime waits for the "
        "interpreter lock while camera and reader threads run Python; a shorter interval hands it "
        "over sooner so the detector is fed again sooner. None: leave the interpreter's setting.",
    )
    opencv_threads: int | None = Field(
        default=1,
        ge=0,
        le=64,
        description="While cameras run, OpenCV's own worker threads (cv2.setNumThreads; 1 = every "
        "call in the calling thread). A node runs a thread per camera already: OpenCV's pool only "
        "adds hand-overs for the small images the stages work on, and its parallel labelling of "
        "connected regions costs ~3x the sequential one on the fire stage's masks (same labels). "
        "None: leave OpenCV's setting (one thread per core).",
    )
    detector: DetectorSettings = Field(default_factory=DetectorSettings)
    sources: SourceSettings = Field(default_factory=SourceSettings)
    motion: MotionSettings = Field(default_factory=MotionSettings)
    scan: ScanSettings = Field(default_factory=ScanSettings)
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    fixtures: FixtureSettings = Field(default_factory=FixtureSettings)
    dorm: DormRuleSettings = Field(default_factory=DormRuleSettings)
    workshop: WorkshopRuleSettings = Field(default_factory=WorkshopRuleSettings)
    fire: FireRuleSettings = Field(default_factory=FireRuleSettings)
    camera: CameraHealthSettings = Field(default_factory=CameraHealthSettings)
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
