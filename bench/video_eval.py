"""`gridwatch eval`'s engine over the shared media and copies derived from it, per model.

Builds (once, under var/bench/eval, never committed) a folder holding the shared photos and
clips plus derived clips: the pedestrian clip with orange and red street objects painted in
(tests/support/video/synthetic.py) and a darkened, noisy copy of it. Labels: the counts of
MEDIA.md (bench/shared_media_labels.yaml) and no event expected on the street clips. Every
clip is played looped for ``--loop-minutes`` at 14:00 and at 23:00 through the camera path.
Prints one JSON line per model (recall and extra boxes per class and photo variant, events
per clip and hour, false events per hour, wall time).

    .venv/bin/python -m bench.video_eval --loop-minutes 10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import yaml

from bench.video_media import MEDIA, MODELS, REPO
from edge.video.detector.engine import DetectorService
from edge.video.evaluation import Evaluator, Labels, variant

FOLDER = REPO / "var" / "bench" / "eval"


def _write(path: Path, frames: list, fps: float) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()


def build() -> Path:
    sys.path.insert(0, str(REPO))
    from tests.support.video.synthetic import street_with_props

    FOLDER.mkdir(parents=True, exist_ok=True)
    for sub in ("photos", "clips"):
        link = FOLDER / sub
        if not link.exists():
            link.symlink_to(MEDIA / sub, target_is_directory=True)
    derived = FOLDER / "derived"
    derived.mkdir(exist_ok=True)
    props = list(street_with_props())
    if not (derived / "street_props.mp4").is_file():
        _write(derived / "street_props.mp4", props, 5.0)
    if not (derived / "street_props_dark.mp4").is_file():
        _write(derived / "street_props_dark.mp4", [variant(f, "dark", i) for i, f in enumerate(props)], 5.0)
    doc = yaml.safe_load((REPO / "bench" / "shared_media_labels.yaml").read_text())
    doc["files"]["derived/street_props.mp4"] = {"events": {}, "zone_type": "factory_floor"}
    doc["files"]["derived/street_props_dark.mp4"] = {"events": {}, "zone_type": "factory_floor"}
    (FOLDER / "labels.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return FOLDER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="yolox_nano,fastestdet")
    parser.add_argument("--loop-minutes", type=float, default=10)
    args = parser.parse_args()
    folder = build()
    labels = Labels.model_validate(yaml.safe_load((folder / "labels.yaml").read_text()))
    labels.loop_minutes = args.loop_minutes
    for model in args.models.split(","):
        detector = DetectorService.from_settings(model, [MODELS], threads=1)
        report = Evaluator(detector).run(folder, labels, model)
        print(
            json.dumps(
                {"bench": "video_eval", **report.as_dict(), "loadavg": [round(x, 2) for x in os.getloadavg()]}
            )
        )


if __name__ == "__main__":
    main()
