"""Bench footage made from the shared media (never committed): a quiet scene and
the busy pedestrian clip at 640x360 and 1280x720, cached under var/bench/video."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GRIDWATCH_SHARED", REPO.parent / "shared"))
MEDIA = SHARED / "media"
MODELS = SHARED / "models"
CACHE = REPO / "var" / "bench" / "video"
SOURCE_FPS = 10.0


def _write(path: Path, frames: list[np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    tmp = path.with_suffix(".tmp.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), SOURCE_FPS, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    os.replace(tmp, path)
    return path


def footage(scene: str, width: int, height: int) -> Path:
    """``quiet``: a still room with sensor noise; ``busy``: people walking (vtest)."""
    path = CACHE / f"{scene}_{width}x{height}.mp4"
    if path.is_file():
        return path
    if scene == "quiet":
        room = cv2.resize(cv2.imread(str(MEDIA / "photos" / "000000004495.jpg")), (width, height))
        rng = np.random.default_rng(0)
        frames = [
            np.clip(room + rng.standard_normal(room.shape, dtype=np.float32) * 2, 0, 255).astype(np.uint8)
            for _ in range(100)
        ]
    elif scene == "busy":
        cap = cv2.VideoCapture(str(MEDIA / "clips" / "pedestrians_vtest_300f.mp4"))
        frames = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(cv2.resize(f, (width, height), interpolation=cv2.INTER_LINEAR))
    else:
        raise ValueError(scene)
    return _write(path, frames)


@dataclass(frozen=True)
class CpuSample:
    total: int  # jiffies, whole machine, all cores
    idle: int
    steal: int  # time the hypervisor gave to other machines
    ours: float  # CPU seconds used by this process
    hz: int = os.sysconf("SC_CLK_TCK")


def cpu_times() -> CpuSample:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    t = os.times()
    return CpuSample(sum(fields[:8]), fields[3] + fields[4], fields[7], t.user + t.system)


def cpu_report(before: CpuSample, after: CpuSample) -> dict[str, float]:
    """Shares of the machine's CPU time: ours, other processes', stolen by the hypervisor."""
    total = after.total - before.total
    if not total:
        return {}
    ours = (after.ours - before.ours) * before.hz
    busy = total - (after.idle - before.idle) - (after.steal - before.steal)
    return {
        "ours": round(ours / total, 3),
        "other_processes": round(max(0.0, busy - ours) / total, 3),
        "steal": round((after.steal - before.steal) / total, 3),
    }


def wait_quiet(max_wait_s: float = 90.0, other_max: float = 0.15) -> dict[str, float | bool]:
    """Wait (bounded) until other processes leave the CPU mostly idle, so a trial
    measures this node and not a neighbour's test run; says what it found."""
    import time

    deadline = time.monotonic() + max_wait_s
    while True:
        before = cpu_times()
        time.sleep(1.0)
        report = cpu_report(before, cpu_times())
        busy = report.get("other_processes", 0.0) + report.get("steal", 0.0)
        if busy <= other_max or time.monotonic() > deadline:
            return {"others_before": round(busy, 3), "waited_out": busy > other_max}
