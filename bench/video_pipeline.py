"""Pipeline capacity: how many camera streams one node sustains at 5 detect-fps (issue 3).

    .venv/bin/python bench/video_pipeline.py [--seconds 8] [--only 640x360]

For each resolution (640x360, 1280x720), scene (quiet: a still room; busy: the
pedestrian clip) and motion gating (on/off), the largest number of cameras
whose analysis keeps up: every camera analysed at >= 90% of 5 fps and decoded
at >= 90% of its 10 fps source. Each camera has its own reader (decoder) and a
full-frame factory_floor zone armed all the time, so the detector really runs.

Measured in the same run, per resolution: the decode-only ceiling (frames/s
two threads decode back to back, / 10 fps per stream) and the inference-only
ceiling (detections/s back to back, / 5 per stream); the pipeline's decode and
inference rates at its largest sustained count are reported as ratios of them.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.video_media import MODELS, SOURCE_FPS, cpu_report, cpu_times, footage, wait_quiet
from contracts import Envelope
from contracts.clock import SystemClock
from contracts.site.models import EdgeNodeConfig
from edge.emit import Priority
from edge.video.detector.engine import DetectorService, load_detector
from edge.video.service import VideoService
from edge.video.settings import VideoSettings

DETECT_FPS = 5.0
THREADS = 2


class CountingEmitter:
    node_id = "node-bench"

    def __init__(self) -> None:
        self.count = 0

    def emit(self, topic: str, message: Envelope, priority: Priority, retain: bool = False) -> None:
        self.count += 1


def decode_ceiling(video: Path, seconds: float) -> float:
    """Frames/s decoded by two threads reading the file back to back (no pacing, no analysis)."""
    counts = [0, 0]
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
        while time.monotonic() < stop:
            ok, _ = cap.read()
            if not ok:
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            counts[i] += 1
        cap.release()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def inference_ceiling(video: Path, seconds: float) -> float:
    """Detections/s of the detector alone on a frame of this size (same threads as the node)."""
    cap = cv2.VideoCapture(str(video))
    ok, frame = cap.read()
    assert ok
    det = load_detector("yolox_nano", [MODELS], THREADS)
    for _ in range(5):
        det.detect(frame, 0.3)
    n, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        det.detect(frame, 0.3)
        n += 1
    return n / (time.monotonic() - started)


def node(video: Path, n: int, width: int, height: int) -> EdgeNodeConfig:
    zone = {
        "id": "floor",
        "type": "factory_floor",
        "polygon": [[0, 0], [width, 0], [width, height], [0, height]],
        "schedules": ["always"],
    }
    cams = [
        {
            "id": f"cam-{i:02d}",
            "source": str(video),
            "resolution": [width, height],
            "fps": DETECT_FPS,
            "location": {"lon": 120.3, "lat": 31.5},
            "zones": [zone],
        }
        for i in range(n)
    ]
    return EdgeNodeConfig.model_validate(
        {"node": {"id": "node-bench", "location": {"lon": 120.3, "lat": 31.5}}, "cameras": cams}
    )


def trial(video: Path, n: int, size: tuple[int, int], gating: bool, seconds: float) -> dict:
    quiet = wait_quiet()
    settings = VideoSettings(
        detector={"model_path": [MODELS], "threads": THREADS},
        scan={"motion_gating": gating},
        dorm={"person_dwell_s": 1e9},  # measure analysis, not event traffic
    )
    detector = DetectorService.from_settings("yolox_nano", [MODELS], THREADS)
    service = VideoService(node(video, n, *size), CountingEmitter(), None, SystemClock(), settings, detector)
    service.start()
    try:
        time.sleep(3.0)  # open, warm up, learn backgrounds
        h0, i0, c0, t0 = service.health(), detector.inferences, cpu_times(), time.monotonic()
        time.sleep(seconds)
        h1, i1, c1, t1 = service.health(), detector.inferences, cpu_times(), time.monotonic()
    finally:
        service.stop()
    dt = t1 - t0
    analysed = [(b.frames_analysed - a.frames_analysed) / dt for a, b in zip(h0, h1, strict=True)]
    decoded = [(b.frames_in - a.frames_in) / dt for a, b in zip(h0, h1, strict=True)]
    ok = min(analysed) >= 0.9 * DETECT_FPS and min(decoded) >= 0.9 * SOURCE_FPS
    return {
        "cameras": n,
        "sustained": ok,
        "analysed_fps_min": round(min(analysed), 2),
        "decoded_fps_min": round(min(decoded), 2),
        "decode_rate": round(sum(decoded), 1),
        "inference_rate": round((i1 - i0) / dt, 1),
        "cpu": cpu_report(c0, c1),
        "machine_was_busy": quiet["waited_out"],
    }


def capacity(video: Path, size: tuple[int, int], gating: bool, seconds: float, start: int) -> dict:
    """Largest sustained camera count: double until it fails, then bisect."""
    tried: dict[int, dict] = {}

    def run(n: int) -> bool:
        tried[n] = trial(video, n, size, gating, seconds)
        print(
            f"  {size[0]}x{size[1]} {video.stem.split('_')[0]} gating={gating} n={n}: {tried[n]}",
            file=sys.stderr,
        )
        return tried[n]["sustained"]

    good, bad = 0, None
    n = start
    while bad is None and n <= 64:
        if run(n):
            good, n = n, n * 2
        else:
            bad = n
    if bad is None:
        bad = 65
    while bad - good > 1 and (bad - good) > max(1, good // 8):
        mid = (good + bad) // 2
        if run(mid):
            good = mid
        else:
            bad = mid
    best = tried.get(good)
    return {"max_streams": good, "at_max": best, "first_failing": tried.get(bad)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="Measurement per trial.")
    parser.add_argument("--only", choices=["640x360", "1280x720"], default=None)
    args = parser.parse_args()
    sizes = [(640, 360), (1280, 720)]
    if args.only:
        sizes = [tuple(int(v) for v in args.only.split("x"))]  # type: ignore[misc]
    out: dict[str, dict] = {}
    for w, h in sizes:
        key = f"{w}x{h}"
        busy, quiet = footage("busy", w, h), footage("quiet", w, h)
        wait_quiet()
        dec = decode_ceiling(busy, args.seconds)
        wait_quiet()
        inf = inference_ceiling(busy, args.seconds)
        res: dict[str, object] = {
            "decode_ceiling": {"frames_per_s": round(dec, 1), "streams": round(dec / SOURCE_FPS, 1)},
            "inference_ceiling": {"detections_per_s": round(inf, 1), "streams": round(inf / DETECT_FPS, 1)},
        }
        for scene, video in (("quiet", quiet), ("busy", busy)):
            for gating in (True, False):
                start = 16 if (scene == "quiet" and gating) else 4
                cap = capacity(video, (w, h), gating, args.seconds, start)
                at = cap["at_max"] or {}
                cap["decode_ratio"] = round(at.get("decode_rate", 0) / dec, 3) if dec else None
                cap["inference_ratio"] = round(at.get("inference_rate", 0) / inf, 3) if inf else None
                if scene == "busy":
                    # Overloaded on purpose: the most the pipeline gets out of the detector.
                    n = max(cap["max_streams"] + 2, math.ceil(1.5 * inf / DETECT_FPS))
                    sat = trial(video, n, (w, h), gating, args.seconds)
                    print(f"  saturated n={n}: {sat}", file=sys.stderr)
                    cap["saturated"] = sat
                    cap["saturated_inference_ratio"] = round(sat["inference_rate"] / inf, 3)
                res[f"{scene}_gating_{'on' if gating else 'off'}"] = cap
        out[key] = res
    print(
        json.dumps(
            {
                "bench": "video_pipeline",
                "detect_fps": DETECT_FPS,
                "source_fps": SOURCE_FPS,
                "threads": THREADS,
                "results": out,
            }
        )
    )


if __name__ == "__main__":
    main()
