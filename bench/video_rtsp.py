"""H.264 over RTSP: what decoding a real camera stream costs a node (issue 19). ONE JSON line.

    .venv/bin/python bench/video_rtsp.py [--seconds 8] [--readers 4]

A real RTSP server (GStreamer's, tests/edge/video/rtsp.py: live x264 H.264, a key frame every 2 s,
10 fps, of videotestsrc's ``--pattern``: a moving ball — cheap to decode — or snow, the worst
case) at 640x360 and 1280x720; ``--readers`` of the node's ``CameraReader`` (OpenCV's FFmpeg:
RTSP, RTP, H.264 decoding, BGR conversion) read it at once for ``--seconds``. Measured: frames
decoded, and this process's CPU time per decoded frame (the server encodes in its own process,
not counted). In the same run, the same for the bench's MPEG-4 part 2 file of that size (what
bench/video_pipeline.py decodes), read back to back. ``decode_streams_per_node`` = how many
10 fps streams two cores could decode if they did nothing else: the decode side of streams per
node; the rest (a camera's stages, inference) is in bench/video_stages.py and video_pipeline.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2

from bench.video_media import footage
from contracts.clock import SystemClock
from edge.video.settings import SourceSettings
from edge.video.sources import CameraReader
from tests.edge.video.rtsp import RtspCamera, rtsp_missing

SOURCE_FPS = 10
CORES = 2


def rtsp_cost(size: str, readers: int, seconds: float, pattern: str) -> dict[str, float]:
    camera = RtspCamera(size, fps=SOURCE_FPS, pattern=pattern).start()
    settings = SourceSettings(open_timeout_s=10, read_timeout_s=5)
    started_readers = [CameraReader(f"cam-{i}", camera.url, settings, SystemClock()) for i in range(readers)]
    try:
        for r in started_readers:
            r.start()
        deadline = time.monotonic() + 30
        while min(r.frames_in for r in started_readers) < SOURCE_FPS and time.monotonic() < deadline:
            time.sleep(0.1)  # all opened and past the first key frame
        f0, c0, t0 = sum(r.frames_in for r in started_readers), time.process_time(), time.monotonic()
        time.sleep(seconds)
        f1, c1, t1 = sum(r.frames_in for r in started_readers), time.process_time(), time.monotonic()
    finally:
        for r in started_readers:
            r.stop()
        camera.stop()
    frames = f1 - f0
    return {
        "frames": frames,
        "frames_per_s": round(frames / (t1 - t0), 1),
        "cpu_ms_per_frame": round((c1 - c0) * 1000 / max(1, frames), 3),
    }


def file_cost(path: Path, seconds: float) -> dict[str, float]:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames, c0, stop = 0, time.process_time(), time.monotonic() + seconds
    while time.monotonic() < stop:
        ok, _ = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        frames += 1
    cap.release()
    return {
        "frames": frames,
        "cpu_ms_per_frame": round((time.process_time() - c0) * 1000 / max(1, frames), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--pattern", default="ball", help="videotestsrc pattern: ball, snow (worst case)")
    args = parser.parse_args()
    missing = rtsp_missing()
    if missing:
        raise SystemExit(missing)
    out: dict[str, object] = {
        "bench": "video_rtsp",
        "source_fps": SOURCE_FPS,
        "readers": args.readers,
        "pattern": args.pattern,
    }
    for size in ("640x360", "1280x720"):
        w, h = (int(v) for v in size.split("x"))
        h264 = rtsp_cost(size, args.readers, args.seconds, args.pattern)
        mp4v = file_cost(footage("busy", w, h), min(args.seconds, 4.0))
        out[size] = {
            "rtsp_h264": h264,
            "file_mp4v": mp4v,
            "h264_over_mp4v": round(h264["cpu_ms_per_frame"] / max(mp4v["cpu_ms_per_frame"], 1e-9), 2),
            "decode_streams_per_node": round(CORES * 1000 / (h264["cpu_ms_per_frame"] * SOURCE_FPS), 1),
        }
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
