"""Detector latency per model at 1 and 2 onnxruntime threads (issue 3).

    .venv/bin/python bench/video_detector.py [--runs 50]

Prints one JSON line: per model and thread count, the median and 90th
percentile of the network alone (session.run) and of a whole detect() call
(letterbox/resize, network, decoding, NMS) on a 640x480 photo, and how the
machine's CPU was shared meanwhile (this bench, other processes, hypervisor steal).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.video_media import MEDIA, MODELS, cpu_report, cpu_times
from edge.video.detector.engine import load_detector


def timed(fn, runs: int) -> dict[str, float]:
    for _ in range(5):
        fn()
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {
        "median_ms": round(statistics.median(took), 2),
        "p90_ms": round(took[int(0.9 * len(took)) - 1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    image = cv2.imread(str(MEDIA / "photos" / "coco_fastestdet_1.jpg"))  # 640x480
    before = cpu_times()
    result: dict[str, dict] = {}
    for model in ("yolox_nano", "fastestdet"):
        result[model] = {}
        for threads in (1, 2):
            det = load_detector(model, [MODELS], threads)
            prep = det.adapter.prepare(image)
            inputs = {det.session.get_inputs()[0].name: prep.tensor}
            result[model][f"{threads}_thread"] = {
                "network": timed(lambda d=det, i=inputs: d.session.run(None, i), args.runs),
                "detect": timed(lambda d=det: d.detect(image, 0.3), args.runs),
            }
    print(
        json.dumps(
            {
                "bench": "video_detector",
                "image": "640x480",
                "runs": args.runs,
                "models": result,
                "cpu_share": cpu_report(before, cpu_times()),
            }
        )
    )


if __name__ == "__main__":
    main()
