"""A camera's own stages per analysed frame, detector excluded (issue 19): prints ONE JSON line.

    .venv/bin/python bench/video_stages.py [--baseline DIR] [--rounds 5] [--frames 60]

What a camera costs the node besides inference and decoding: one ``CameraPipeline.process()``
(motion, infrared check, scene monitor, zone lights, fire and smoke, camera-health rules) on
the busy footage (the pedestrian clip) at 640x360 and 1280x720, with the bench's camera (a
full-frame factory-floor zone armed all the time) and the detector unavailable, so that only
the stages are timed. Time is the analysing thread's CPU time (``time.thread_time``), median
of ``--rounds`` passes over the same decoded frames: other processes on the machine slow the
wall clock, not this.

``--baseline DIR``: the same in a subprocess running the code checked out in DIR (e.g. the
commit before this work), alternating with today's round by round; both are in the line with
the ratio. With the inference ceiling of the same run (bench/video_pipeline.py) these say how
much of a core each analysed frame leaves to the detector.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if "--code" in sys.argv:  # run against another checkout (the baseline)
    sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1])
else:
    sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from contracts.site.models import Camera  # noqa: E402
from edge.video.detector.engine import DetectorService  # noqa: E402
from edge.video.pipeline import CameraPipeline  # noqa: E402
from edge.video.settings import VideoSettings  # noqa: E402
from edge.video.sources import Frame  # noqa: E402

SIZES = ((640, 360), (1280, 720))
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def frames(path: str, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(path)
    out: list[np.ndarray] = []
    i = 0
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        if i % 2 == 0:  # a 10 fps source analysed at 5 fps
            out.append(f)
        i += 1
    cap.release()
    return out


def camera(width: int, height: int) -> Camera:
    return Camera.model_validate(
        {
            "id": "cam-bench",
            "source": "/dev/null",
            "resolution": [width, height],
            "fps": 5,
            "location": {"lon": 120.3, "lat": 31.5},
            "zones": [
                {
                    "id": "floor",
                    "type": "factory_floor",
                    "polygon": [[0, 0], [width, 0], [width, height], [0, height]],
                    "schedules": ["always"],
                }
            ],
        }
    )


def one_pass(clip: list[np.ndarray]) -> float:
    """CPU ms per frame of a fresh camera over the clip (its first frames learn backgrounds)."""
    h, w = clip[0].shape[:2]
    detector = DetectorService.from_settings("yolox_nano", [Path("/nonexistent")], 1)
    pipeline = CameraPipeline(camera(w, h), "node-bench", detector, VideoSettings())
    for k, image in enumerate(clip[:5]):  # warm-up: set-up, first backgrounds
        pipeline.process(Frame(image, k + 1, T0, 0.0), T0 + timedelta(seconds=k / 5))
    started = time.thread_time()
    for k, image in enumerate(clip[5:], start=5):
        pipeline.process(Frame(image, k + 1, T0, 0.0), T0 + timedelta(seconds=k / 5))
    return (time.thread_time() - started) * 1000 / max(1, len(clip) - 5)


def serve(paths: dict[str, str], n: int) -> None:
    """Subprocess mode: a pass per request line on stdin, ms per frame on stdout."""
    clips = {k: frames(p, n) for k, p in paths.items()}
    for line in sys.stdin:
        print(json.dumps(round(one_pass(clips[line.strip()]), 3)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", help="a checkout of the code to compare with (same run)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # "detector disabled", on purpose
    if args.code:
        serve(json.loads(args.paths), args.frames)
        return
    from bench.video_media import footage

    paths = {f"{w}x{h}": str(footage("busy", w, h)) for w, h in SIZES}
    clips = {k: frames(p, args.frames) for k, p in paths.items()}
    base = None
    if args.baseline:
        cmd = [sys.executable, __file__, "--code", args.baseline, "--paths", json.dumps(paths)]
        cmd += ["--frames", str(args.frames)]
        base = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ours: dict[str, list[float]] = {k: [] for k in clips}
    theirs: dict[str, list[float]] = {k: [] for k in clips}
    for _ in range(args.rounds):
        for key, clip in clips.items():
            if base is not None:
                assert base.stdin is not None and base.stdout is not None
                base.stdin.write(key + "\n")
                base.stdin.flush()
                theirs[key].append(json.loads(base.stdout.readline()))
            ours[key].append(one_pass(clip))
    if base is not None:
        assert base.stdin is not None
        base.stdin.close()
        base.wait()
    out: dict[str, object] = {
        "bench": "video_stages",
        "frames": {k: len(c) for k, c in clips.items()},
        "rounds": args.rounds,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "stages_cpu_ms_per_frame": {k: round(statistics.median(v), 3) for k, v in ours.items()},
    }
    if base is not None:
        out["baseline_cpu_ms_per_frame"] = {k: round(statistics.median(v), 3) for k, v in theirs.items()}
        out["ratio"] = {k: round(statistics.median(ours[k]) / statistics.median(theirs[k]), 3) for k in clips}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
