"""The fire stage on the node's two decoders' pixels (issue 19 item 3). Prints ONE JSON line.

    .venv/bin/python bench/video_decoders.py            # ~30 s; run bench/video_eval.py once first

PyAV frames stay in YUV and the stages' small copy is scaled from the planes
(``edge.video.sources``); OpenCV converts the whole frame to BGR and ``cv2.INTER_AREA`` shrinks
it. The fire stage is the one most sensitive to those pixels (flame colours, flicker), so this
counts its positive frames per clip through each decoder, same frames, at 5 analysed fps: the
fire clip (truth: fire), the evaluation's street clips with orange and red objects and tape
(truth: none; bench/video_eval.py builds them) and the busy footage at 1280x720. And the
people YOLOX-Nano finds in full-frame passes over 60 analysed frames of the busy footage at
1280x720, the detector's input made from each decoder's frames as the camera makes it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.video_eval import FOLDER
from bench.video_media import MEDIA, MODELS, footage
from edge.video.detector.engine import DetectorService, load_detector
from edge.video.fire import FireAnalyzer
from edge.video.motion import small_size
from edge.video.settings import SourceSettings, VideoSettings
from edge.video.sources import Frame, FrameGate, Interpolation, Scaler, open_source, resolve_source


def positives(path: Path, decoder: str, every: int) -> dict[str, int]:
    """Frames the fire stage finds flames or smoke in, of every ``every``-th frame of ``path``."""
    settings = VideoSettings()
    source = open_source(resolve_source(str(path)), SourceSettings(decoder=decoder))  # type: ignore[arg-type]
    assert source.backend == decoder, (path, source.backend)
    gate, scaler, fire, frames, positive, i = FrameGate(None), Scaler(), None, 0, 0, -1
    try:
        while True:
            ok, picture = source.read(gate)
            if not ok:
                break
            i += 1
            if i % every:
                continue
            if isinstance(picture, np.ndarray):
                frame = Frame(picture, i, None, 0.0)  # type: ignore[arg-type]
            else:
                frame = Frame(None, i, None, 0.0, picture, scaler)  # type: ignore[arg-type]
            size = small_size(*frame.size, settings.motion.width)
            fire = fire or FireAnalyzer(settings.fire, frame.size, None, size)
            small = frame.resized(size, Interpolation.AREA)
            positive += fire.update(small, small=small).positive
            frames += 1
    finally:
        source.release()
    return {"frames": frames, "positive": positive}


def people(path: Path, decoder: str, frames: int, detector: DetectorService) -> list[np.ndarray]:
    """Person boxes (frame pixels) of full-frame detector passes over the first ``frames``
    analysed frames, the detector's input made as the camera makes it from each decoder."""
    source = open_source(resolve_source(str(path)), SourceSettings(decoder=decoder))  # type: ignore[arg-type]
    gate, scaler, out = FrameGate(5.0, stream_time=True), Scaler(), []
    try:
        while len(out) < frames:
            ok, picture = source.read(gate)
            assert ok
            if picture is None:
                continue
            if isinstance(picture, np.ndarray):
                frame = Frame(picture, 0, None, 0.0)  # type: ignore[arg-type]
            else:
                frame = Frame(None, 0, None, 0.0, picture, scaler)  # type: ignore[arg-type]
            w, h = frame.size
            size, how = detector.fitted(w, h)
            (found,) = detector.detect("bench", [frame.resized(size, Interpolation(how))])
            sx, sy = w / size[0], h / size[1]
            out.append(
                np.array([[d.x1 * sx, d.y1 * sy, d.x2 * sx, d.y2 * sy] for d in found if d.label == "person"])
            )
    finally:
        source.release()
    return out


def _matched(a: np.ndarray, b: np.ndarray, iou: float = 0.5) -> int:
    """Boxes of ``a`` with a box of ``b`` overlapping at ``iou`` or more (greedy, one to one)."""
    used: set[int] = set()
    n = 0
    for box in a:
        for j, other in enumerate(b):
            if j in used:
                continue
            ix = max(0.0, min(box[2], other[2]) - max(box[0], other[0]))
            iy = max(0.0, min(box[3], other[3]) - max(box[1], other[1]))
            inter = ix * iy
            union = (box[2] - box[0]) * (box[3] - box[1]) + (other[2] - other[0]) * (other[3] - other[1])
            if inter / max(union - inter, 1e-9) >= iou:
                used.add(j)
                n += 1
                break
    return n


def main() -> None:
    clips = {
        "fire_clip": (MEDIA / "clips" / "fire_fuel_bed.mp4", 2),
        "street_props": (FOLDER / "derived" / "street_props.mp4", 1),  # 5 fps already
        "street_props_dark": (FOLDER / "derived" / "street_props_dark.mp4", 1),
        "pedestrians": (MEDIA / "clips" / "pedestrians_vtest_300f.mp4", 2),
        "busy_1280x720": (footage("busy", 1280, 720), 2),
    }
    out: dict[str, object] = {"bench": "video_decoders", "load_avg_1m": round(os.getloadavg()[0], 2)}
    for name, (path, every) in clips.items():
        if not path.is_file():
            out[name] = "missing: run bench/video_eval.py once to build it"
            continue
        out[name] = {dec: positives(path, dec, every) for dec in ("opencv", "pyav")}
    detector = DetectorService(load_detector("yolox_nano", [MODELS], 2))
    busy = footage("busy", 1280, 720)
    cv, pa = (people(busy, dec, 60, detector) for dec in ("opencv", "pyav"))
    out["people_1280x720"] = {
        "frames": len(cv),
        "opencv_boxes": sum(len(b) for b in cv),
        "pyav_boxes": sum(len(b) for b in pa),
        "pyav_matching_opencv_iou_0.5": sum(_matched(a, b) for a, b in zip(pa, cv, strict=True)),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
