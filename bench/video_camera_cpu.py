"""A busy 1280x720 camera's CPU per analysed frame, by part, full decoding against the node's
reduced decoding, in one process taking turns (issue 19). Prints ONE JSON line.

    .venv/bin/python bench/video_camera_cpu.py [--size 1280x720] [--frames 60] [--rounds 3]
    .venv/bin/python bench/video_camera_cpu.py --size 640x360 --modes reduced,h264_file,rtsp_h264

Where bench/video_pipeline.py measures the node's inference rate against the inference ceiling
(right on a quiet machine, noise on a loaded one: both rates move with the neighbours), this
counts CPU time, which a neighbour slows far less. One camera as the node runs it (the bench's
camera: a full-frame factory-floor zone armed all the time, motion gating on, YOLOX-Nano inline
with one onnxruntime thread) over the busy footage, a 10 fps source analysed at 5 fps:

- ``full``: every source frame read (decoded and converted to BGR) with FFmpeg's own thread
  count, every other one analysed: what the node did before;
- ``reduced``: every frame decoded (one FFmpeg thread), only the analysed ones converted
  (``edge.video.sources.next_frame`` with a ``FrameGate``): what the node does now.

- ``h264_file``: the reduced path on the same footage encoded in H.264 (bench/video_rtsp.py's
  ``h264_footage``: x264, main profile, ~2 Mbit/s), read from the file;
- ``rtsp_h264``: the same H.264 served by GStreamer's RTSP server (its own process, not counted),
  read as the node reads a camera: RTSP over TCP, real time, the gate on the reader's clock.
- ``pyav``, ``h264_pyav``, ``rtsp_pyav``: the same three sources decoded by PyAV, the node's
  decoder since issue 19 item 3: analysed frames stay in YUV, the stages' small copy and the
  detector's input are scaled from the planes (``edge.video.sources.AvCapture``, ``Frame``).

``reduced``, ``h264_file`` and ``rtsp_h264`` are the OpenCV fallback of today's code (the
analysis is today's too: the detector is handed the frame at its input's size); run the
script of an older checkout for the code before.

Per analysed frame: the process's CPU time (``time.process_time``, FFmpeg's threads included)
split into inference (the detector's calls) and the rest (decoding two source frames, the
camera's stages). ``inference_share`` = inference / total: at saturation the share of the node's
CPU the detector gets, i.e. the ratio to the inference ceiling the node can reach at best (the
ceiling being the detector alone on all cores), before threads and the interpreter lock take
their part. Median of ``--rounds``; the pictures analysed are the same frames in both modes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from bench.video_media import MODELS, footage
from bench.video_stages import camera
from edge.video.detector.adapters import RawDetection
from edge.video.detector.engine import DetectorService, load_detector
from edge.video.pipeline import CameraPipeline
from edge.video.settings import SourceSettings, VideoSettings
from edge.video.sources import Frame, FrameGate, Scaler, open_source, resolve_source

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
WARM_UP = 5  # analysed frames that set the camera up and learn its backgrounds


class TimedDetector(DetectorService):
    """The detector, inline, counting the CPU time of its calls."""

    cpu_s = 0.0

    def detect(self, *args: Any, **kwargs: Any) -> list[list[RawDetection]]:
        started = time.process_time()
        try:
            return super().detect(*args, **kwargs)
        finally:
            self.cpu_s += time.process_time() - started


def pictures(mode: str, path: Path | str) -> tuple[Callable[[], None], Callable[[int], Frame]]:
    """A reader of ``path`` in ``mode``: its release, and a function giving its next analysed frame."""
    if mode == "full":
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)

        def take_full(seq: int) -> Frame:
            ok, _skipped = cap.read()  # converted, never analysed
            ok, image = cap.read()
            assert ok
            return Frame(image, seq, T0, 0.0)

        return cap.release, take_full
    settings = SourceSettings(
        open_timeout_s=30, read_timeout_s=10, decoder="pyav" if "pyav" in mode else "opencv"
    )
    source = open_source(resolve_source(str(path)), settings)
    assert source.backend == settings.decoder, (mode, source.backend)
    gate = FrameGate(5.0, stream_time=not mode.startswith("rtsp"))
    scaler = Scaler()

    def take(seq: int) -> Frame:
        while True:
            ok, picture = source.read(gate)
            assert ok
            if picture is None:
                continue
            if isinstance(picture, np.ndarray):
                return Frame(picture, seq, T0, 0.0)
            return Frame(None, seq, T0, 0.0, picture, scaler)

    return source.release, take


def one_pass(mode: str, path: Path | str, n: int, detector: TimedDetector) -> dict[str, float]:
    release, take = pictures(mode, path)
    try:
        first = take(1)
        pipeline = CameraPipeline(camera(*first.size), "node-bench", detector, VideoSettings())
        pipeline.process(first, T0)
        for k in range(1, WARM_UP):
            pipeline.process(take(k + 1), T0 + timedelta(seconds=k / 5))
        detector.cpu_s = 0.0
        passes = pipeline.stats.detector_passes
        started = time.process_time()
        for k in range(WARM_UP, WARM_UP + n):
            pipeline.process(take(k + 1), T0 + timedelta(seconds=k / 5))
        total = time.process_time() - started
    finally:
        release()
    return {
        "total_ms": total * 1000 / n,
        "inference_ms": detector.cpu_s * 1000 / n,
        "rest_ms": (total - detector.cpu_s) * 1000 / n,
        "detector_passes_per_frame": (pipeline.stats.detector_passes - passes) / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="1280x720", choices=["640x360", "1280x720"])
    parser.add_argument("--frames", type=int, default=60, help="analysed frames per pass")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--modes",
        default="full,reduced,pyav",
        help="full, reduced, pyav, h264_file, h264_pyav, rtsp_h264, rtsp_pyav",
    )
    args = parser.parse_args()
    logging.disable(logging.INFO)
    w, h = (int(v) for v in args.size.split("x"))
    modes = [m for m in args.modes.split(",") if m]
    busy = footage("busy", w, h)
    paths: dict[str, Path | str] = {"full": busy, "reduced": busy, "pyav": busy}
    server = None
    if {"h264_file", "h264_pyav", "rtsp_h264", "rtsp_pyav"} & set(modes):
        from bench.video_rtsp import h264_footage
        from tests.support.video.rtsp import RtspCamera

        paths["h264_file"] = paths["h264_pyav"] = h264_footage(w, h)
        if {"rtsp_h264", "rtsp_pyav"} & set(modes):
            server = RtspCamera(args.size, file=h264_footage(w, h)).start()
            paths["rtsp_h264"] = paths["rtsp_pyav"] = server.url
    detector = TimedDetector(load_detector("yolox_nano", [MODELS], 1))  # inline, one thread
    threads = VideoSettings().opencv_threads  # OpenCV's threads as a node running cameras sets them
    if threads is not None:
        cv2.setNumThreads(threads)
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    try:
        for _ in range(args.rounds):
            for mode in runs:
                runs[mode].append(one_pass(mode, paths[mode], args.frames, detector))
    finally:
        if server is not None:
            server.stop()
    out: dict[str, object] = {
        "bench": "video_camera_cpu",
        "size": args.size,
        "scene": "busy",
        "analysed_frames": args.frames,
        "rounds": args.rounds,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    for mode, passes in runs.items():
        med = {k: round(statistics.median(p[k] for p in passes), 3) for k in passes[0]}
        med["inference_share"] = round(med["inference_ms"] / med["total_ms"], 3)
        med["rest_ms_runs"] = [round(p["rest_ms"], 3) for p in passes]  # type: ignore[assignment]
        out[mode] = med
    if "full" in runs and "reduced" in runs:
        full, reduced = out["full"], out["reduced"]
        out["rest_reduced_over_full"] = round(reduced["rest_ms"] / full["rest_ms"], 3)  # type: ignore[index]
    if "reduced" in runs and "pyav" in runs:
        reduced, pyav = out["reduced"], out["pyav"]
        out["rest_pyav_over_reduced"] = round(pyav["rest_ms"] / reduced["rest_ms"], 3)  # type: ignore[index]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
