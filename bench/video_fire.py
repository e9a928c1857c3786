"""The fire stage's cost per frame and what it flags, before and after issue 16, in ONE run.

"Before" is ``edge/video/fire.py`` as of ``--before`` (a git revision; default: the
commit the issue-16 work started from), loaded from git into this process; "after" is
the working tree's. Both analyse the same frames, in alternating rounds so machine load
hits them alike:

- the real fire clip (258x246) and the real pedestrian clip (384x288),
- the pedestrian clip with orange and red street objects painted in (tests/support/video/synthetic.py),
- the same clip with each false fire source of tests/edge/video/test_fire_false_sources.py
  painted in (``false_<source>``; a light source at night, the others as shot),
- the busy footage at 1280x720 (bench/video_media.py), a camera's usual size.

Prints one JSON line: ms per frame (the thread's CPU time, median of rounds) and positive frames
per clip.

    .venv/bin/python -m bench.video_fire --rounds 5
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from bench.video_media import footage
from edge.video.fire import FireAnalyzer
from edge.video.settings import FireRuleSettings

REPO = Path(__file__).resolve().parents[1]
BEFORE = "852f7fa"  # main when the issue-16 work started


def load_before(rev: str) -> ModuleType:
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:edge/video/fire.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location("fire_before", fh.name)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["fire_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    os.unlink(fh.name)
    return module


def frames(path: Path, every: int, limit: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out: list[np.ndarray] = []
    i = 0
    while len(out) < limit:
        ok, f = cap.read()
        if not ok:
            break
        if i % every == 0:
            out.append(f)
        i += 1
    cap.release()
    return out


def run(make: object, clip: list[np.ndarray]) -> tuple[float, int]:
    h, w = clip[0].shape[:2]
    analyzer = make(FireRuleSettings(), (w, h), None)  # type: ignore[operator]
    positive = 0
    started = time.thread_time()  # CPU time of this thread: other processes do not count
    for f in clip:
        positive += analyzer.update(f).positive
    return (time.thread_time() - started) * 1000 / len(clip), positive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="git revision of the 'before' fire.py")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from tests.support.video.media import FIRE, PEDESTRIANS
    from tests.support.video.synthetic import FALSE_SOURCES, street_with, street_with_props

    clips = {
        "fire_clip": frames(FIRE, 6, 90),
        "pedestrians": frames(PEDESTRIANS, 2, 150),
        "street_props": list(street_with_props()),
        "busy_1280x720": frames(footage("busy", 1280, 720), 2, 100),
    }
    for source, light in FALSE_SOURCES.items():
        clips[f"false_{source}"] = list(street_with(source, "night" if light else "as_shot"))
    before = load_before(args.before).FireAnalyzer
    versions = {"before": before, "after": FireAnalyzer}
    times: dict[str, dict[str, list[float]]] = {v: {c: [] for c in clips} for v in versions}
    positives: dict[str, dict[str, int]] = {v: {} for v in versions}
    for _ in range(args.rounds):
        for name, make in versions.items():
            for clip_name, clip in clips.items():
                ms, pos = run(make, clip)
                times[name][clip_name].append(ms)
                positives[name][clip_name] = pos
    result = {
        "bench": "video_fire",
        "before": args.before,
        "rounds": args.rounds,
        "frames": {c: len(f) for c, f in clips.items()},
        "ms_per_frame": {
            v: {c: round(statistics.median(t), 3) for c, t in per.items()} for v, per in times.items()
        },
        "positive_frames": positives,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
