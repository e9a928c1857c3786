"""Detector latency per model at 1 and 2 onnxruntime threads (issue 3).

    .venv/bin/python bench/video_detector.py [--runs 50] [--seconds 4]

Prints one JSON line: per model and thread count, the median and 90th
percentile of the network alone (session.run) and of a whole detect() call
(letterbox/resize, network, decoding, NMS) on a 640x480 photo; per model, the
throughput (detections/s back to back for ``--seconds``) of one worker with 2
threads against two workers with 1 thread each on one shared session, measured
alternately three times (the node ships 2 workers x 1 thread); and how the
machine's CPU was shared meanwhile (this bench, other processes, hypervisor steal).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.video_media import MEDIA, MODELS, cpu_report, cpu_times
from edge.video.detector.engine import Detector, load_detector


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


def throughput(det: Detector, image: np.ndarray, workers: int, seconds: float) -> float:
    """Detections/s of ``workers`` threads calling ``detect`` on one session back to back."""
    counts = [0] * workers
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        while time.monotonic() < stop:
            det.detect(image, 0.3)
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=4.0)
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
        one_by_two, two_by_one = load_detector(model, [MODELS], 2), load_detector(model, [MODELS], 1)
        rates: dict[str, list[float]] = {"1x2": [], "2x1": []}
        for _ in range(3):  # alternated, so a neighbour's burst hits both alike
            rates["1x2"].append(round(throughput(one_by_two, image, 1, args.seconds), 1))
            rates["2x1"].append(round(throughput(two_by_one, image, 2, args.seconds), 1))
        result[model]["throughput_per_s"] = {
            **{k: statistics.median(v) for k, v in rates.items()},
            "runs": rates,
            "gain_2x1_over_1x2": round(statistics.median(rates["2x1"]) / statistics.median(rates["1x2"]), 2),
        }
    print(
        json.dumps(
            {
                "bench": "video_detector",
                "image": "640x480",
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "runs": args.runs,
                "models": result,
                "cpu_share": cpu_report(before, cpu_times()),
            }
        )
    )


if __name__ == "__main__":
    main()
