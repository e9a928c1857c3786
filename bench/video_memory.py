"""Resident memory of the video service with 8 cameras (issue 3; target <= 400 MB).

    .venv/bin/python bench/video_memory.py [--cameras 8] [--seconds 30]

Eight 640x360 cameras playing the busy pedestrian clip at 10 fps, analysed at
5 fps with YOLOX-Nano (the default detector settings), motion gating on, zones armed. Prints one JSON line:
RSS after imports, after start, at the end, and the peak (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.video_media import MODELS, cpu_report, cpu_times, footage
from bench.video_pipeline import CountingEmitter, node
from contracts.clock import SystemClock
from edge.video.service import VideoService
from edge.video.settings import VideoSettings


def status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    video = footage("busy", 640, 360)
    imported = status_mb("VmRSS")
    # The shipped detector configuration (2 workers x 1 thread), models from ../shared.
    settings = VideoSettings(detector={"model_path": [MODELS]}, dorm={"person_dwell_s": 1e9})
    emitter = CountingEmitter()
    service = VideoService(node(video, args.cameras, 640, 360), emitter, None, SystemClock(), settings)
    service.start()
    try:
        time.sleep(3)
        started = status_mb("VmRSS")
        before = cpu_times()
        samples = []
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            time.sleep(1)
            samples.append(status_mb("VmRSS"))
        health = service.health()
        cpu = cpu_report(before, cpu_times())
    finally:
        service.stop()
    print(
        json.dumps(
            {
                "bench": "video_memory",
                "cameras": args.cameras,
                "seconds": args.seconds,
                "rss_mb": {
                    "after_imports": imported,
                    "after_start": started,
                    "end": samples[-1],
                    "max_sampled": max(samples),
                    "peak_vmhwm": status_mb("VmHWM"),
                },
                "frames_analysed": sum(h.frames_analysed for h in health),
                "frames_dropped": sum(h.frames_dropped for h in health),
                "target_mb": 400,
                "cpu": cpu,
            }
        )
    )


if __name__ == "__main__":
    main()
