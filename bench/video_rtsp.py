"""H.264 over RTSP: what decoding a real camera stream costs a node (issue 19). ONE JSON line.

    .venv/bin/python bench/video_rtsp.py [--seconds 8] [--readers 4]
    .venv/bin/python bench/video_rtsp.py --streams [--sizes 640x360,1280x720] [--no-wait]

A real RTSP server (GStreamer's, tests/support/video/rtsp.py: live x264 H.264, a key frame every 2 s,
10 fps, of videotestsrc's ``--pattern``: a moving ball — cheap to decode — or snow, the worst
case) at 640x360 and 1280x720; ``--readers`` of the node's ``CameraReader`` (OpenCV's FFmpeg:
RTSP, RTP, H.264 decoding, BGR conversion) read it at once for ``--seconds``. Measured: frames
decoded, and this process's CPU time per decoded frame (the server encodes in its own process,
not counted). In the same run, the same for the bench's MPEG-4 part 2 file of that size (what
bench/video_pipeline.py decodes), read back to back. ``decode_streams_per_node`` = how many
10 fps streams two cores could decode if they did nothing else: the decode side of streams per
node; the rest (a camera's stages, inference) is in bench/video_stages.py and video_pipeline.py.

``--streams``: streams per node with everything counted (issue 19). Per size, the busy footage
(the pedestrian clip) is encoded once to H.264 (x264, main profile without B-frames, a key frame
every 2 s, ~2 Mbit/s; two loops, 60 s) and served by GStreamer's RTSP server, as it is, to every
camera from its start; bench/video_pipeline.py's capacity search (the node's ``VideoService``,
the shipped 2x1 detector, a full-frame zone armed, motion gating on, every camera analysed at
>= 4.5 fps and decoded at >= 9 fps) then runs on those RTSP sources and, in the same run, on the
mp4v file of the same footage that video_pipeline.py decodes, between two inference ceilings.
The RTSP server's own CPU (it only reads the file and packs RTP) is reported apart:
``server_cpu_share`` of the machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2

import bench.video_pipeline as video_pipeline
from bench.video_media import CACHE, cpu_times, footage
from contracts.clock import SystemClock
from edge.video.settings import SourceSettings
from edge.video.sources import CameraReader
from tests.support.video.media import frames
from tests.support.video.rtsp import RtspCamera, h264_clip, rtsp_missing

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


def h264_footage(width: int, height: int) -> Path:
    """The busy footage at this size as H.264 (two loops: 60 s), made once under var/bench."""
    mp4v = footage("busy", width, height)
    loops = itertools.chain.from_iterable(frames(mp4v) for _ in range(2))
    return h264_clip(loops, CACHE / f"busy_{width}x{height}_h264.mp4", fps=SOURCE_FPS)


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def streams(args: argparse.Namespace) -> dict[str, object]:
    """Streams per node over RTSP H.264 and, in the same run, over the mp4v files."""
    video_pipeline.NO_WAIT = args.no_wait
    out: dict[str, object] = {"bench": "video_rtsp_streams", "source_fps": SOURCE_FPS, "detector": "2x1"}
    load_start = os.getloadavg()[0]
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        mp4v = footage("busy", w, h)
        h264 = h264_footage(w, h)
        start = 16 if w <= 640 else 12
        ceilings = [video_pipeline.inference_ceiling(mp4v, args.seconds, 2, 1)]
        camera = RtspCamera(size, fps=SOURCE_FPS, file=h264).start()
        try:
            assert camera._proc is not None
            s0, m0 = process_cpu_s(camera._proc.pid), cpu_times()
            rtsp = video_pipeline.capacity(camera.url, (w, h), True, args.seconds, start, "2x1", warmup=8.0)
            s1, m1 = process_cpu_s(camera._proc.pid), cpu_times()
        finally:
            camera.stop()
        files = video_pipeline.capacity(mp4v, (w, h), True, args.seconds, start, "2x1")
        ceilings.append(video_pipeline.inference_ceiling(mp4v, args.seconds, 2, 1))
        inf = max(c["detections_per_s"] for c in ceilings)
        wall_cpu = (m1.total - m0.total) / m0.hz  # CPU seconds the machine had (all cores)
        for cap in (rtsp, files):
            at = cap["at_max"] or {}
            cap["inference_ratio"] = round(at.get("inference_rate", 0) / inf, 3)
        out[size] = {
            "inference_ceiling": {
                "detections_per_s": inf,
                "streams": round(inf / 5, 1),
                "runs": [c["detections_per_s"] for c in ceilings],
                "cpu": [c["cpu"] for c in ceilings],
            },
            "rtsp_h264": rtsp,
            "file_mp4v": files,
            "server_cpu_share": round((s1 - s0) / wall_cpu, 3) if wall_cpu else None,
        }
    out["load_avg_1m"] = {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--pattern", default="ball", help="videotestsrc pattern: ball, snow (worst case)")
    parser.add_argument("--streams", action="store_true", help="streams per node, detector included")
    parser.add_argument("--sizes", default="640x360,1280x720", help="--streams: these sizes")
    parser.add_argument("--no-wait", action="store_true", help="--streams: do not wait for a quiet machine")
    args = parser.parse_args()
    missing = rtsp_missing()
    if missing:
        raise SystemExit(missing)
    if args.streams:
        print(json.dumps(streams(args)))
        return
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
