"""A real RTSP server for tests and benches: GStreamer's (Debian's gir1.2-gst-rtsp-server-1.0),
serving live H.264 (x264, baseline-like: zerolatency, a key frame every 2 s) of a moving test
pattern on rtsp://127.0.0.1:<port>/cam, as an IP camera does.

Run by the system Python (PyGObject is a Debian package, not in the venv):

    /usr/bin/python3 tests/support/video/rtsp_server.py --port 8554 --size 1280x720 --fps 10

Prints "ready" once it listens; serves until killed. One encoder shared by every client.

``--file CLIP.mp4`` serves an H.264 MP4 instead (made by ``--encode``), as it is, at its own
frame rate, from its start to every client (no encoding while serving: real footage for
benches at little cost to the machine). ``--encode OUT.mp4 --size WxH --fps N`` encodes raw
BGR frames read from standard input into such a file (x264, main profile without B-frames,
a key frame every 2 s: what IP cameras send).
"""

from __future__ import annotations

import argparse

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    parser.add_argument("--file", help="serve this H.264 MP4 to every client from its start")
    parser.add_argument("--encode", help="encode raw BGR frames from stdin into this MP4 and exit")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--pattern", default="ball")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    Gst.init(None)
    if args.encode:
        encode(args.encode, width, height, args.fps)
        return
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    if args.file:
        factory.set_launch(
            f"( filesrc location={args.file} ! qtdemux ! h264parse "
            "! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
    else:
        factory.set_launch(
            f"( videotestsrc is-live=true pattern={args.pattern} "
            f"! video/x-raw,width={width},height={height},framerate={args.fps}/1 "
            f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={2 * args.fps} "
            f"! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
    factory.set_shared(not args.file)  # a file: every client from its start
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on 127.0.0.1:{args.port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


def encode(out: str, width: int, height: int, fps: int) -> None:
    pipeline = Gst.parse_launch(
        f"fdsrc fd=0 ! rawvideoparse width={width} height={height} format=bgr framerate={fps}/1 "
        f"! videoconvert ! x264enc speed-preset=veryfast bframes=0 key-int-max={2 * fps} "
        f"! video/x-h264,profile=main ! h264parse ! mp4mux ! filesink location={out}"
    )
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR
    )
    pipeline.set_state(Gst.State.NULL)
    if msg.type == Gst.MessageType.ERROR:
        raise SystemExit(f"encoding failed: {msg.parse_error()[0].message}")


if __name__ == "__main__":
    main()
