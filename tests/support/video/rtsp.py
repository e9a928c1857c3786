"""A real RTSP camera for tests and benches: GStreamer's RTSP server (Debian packages, installed by
scripts/setup.sh) serving live H.264, in its own process, that can go away and come back on the
same port."""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path

import numpy as np

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # PyGObject and GStreamer come from Debian, not from the venv


def rtsp_missing() -> str | None:
    """Why a real RTSP server cannot run here (None when it can)."""
    if shutil.which(SYSTEM_PYTHON) is None:
        return f"{SYSTEM_PYTHON} is missing"
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
            "from gi.repository import Gst; Gst.init(None);"
            "assert Gst.ElementFactory.find('x264enc') and Gst.ElementFactory.find('rtph264pay')",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode:
        return (
            "GStreamer's RTSP server with x264 is not installed (gir1.2-gst-rtsp-server-1.0, "
            "gstreamer1.0-plugins-ugly/good): run scripts/setup.sh"
        )
    return None


def h264_clip(frames: Iterable[np.ndarray], out: Path, fps: int = 10) -> Path:
    """Encode frames (BGR, all one size) into an H.264 MP4 for ``RtspCamera(file=...)``, once:
    kept if ``out`` exists."""
    if out.is_file():
        return out
    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    tmp = out.with_suffix(".tmp.mp4")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [SYSTEM_PYTHON, str(SERVER), "--encode", str(tmp), "--size", f"{w}x{h}", "--fps", str(fps)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for frame in itertools.chain([first], frames):
            proc.stdin.write(np.ascontiguousarray(frame).tobytes())
    finally:
        proc.stdin.close()
    assert proc.stderr is not None
    err = proc.stderr.read()
    if proc.wait(timeout=600):
        raise RuntimeError(f"encoding {out.name} failed: {err.decode(errors='replace')[-500:]}")
    tmp.replace(out)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RtspCamera:
    def __init__(
        self,
        size: str = "640x360",
        fps: int = 10,
        port: int | None = None,
        pattern: str = "ball",
        file: Path | None = None,
    ) -> None:
        self.size = size
        self.fps = fps
        self.pattern = pattern  # videotestsrc's: "ball" (a moving ball), "snow" (noise: the worst case)
        self.file = file  # an H.264 MP4 (h264_clip) served as it is, instead of the test pattern
        self.port = port or free_port()
        self._proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self) -> RtspCamera:
        cmd = [SYSTEM_PYTHON, str(SERVER), "--port", str(self.port), "--size", self.size]
        cmd += ["--fps", str(self.fps), "--pattern", self.pattern]
        if self.file is not None:
            cmd += ["--file", str(self.file)]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # "ready" once it listens (or EOF if it failed)
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"the RTSP server did not start: {line!r}")
        return self

    def stop(self) -> None:
        """The camera goes away: its process ends, open sessions break, the port refuses."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.communicate(timeout=10)
            self._proc = None
