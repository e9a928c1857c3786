"""Camera sources: RTSP/HTTP streams, video files (looped for replay) and USB
cameras through OpenCV's FFmpeg (or V4L2) backend.

One :class:`CameraReader` thread per camera decodes continuously and keeps only
the newest frame (latest-frame semantics: a slow consumer never builds a
backlog). When a source fails it is reopened with exponential back-off; the
reader's state and error say what is wrong in words an installer can act on.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np

from contracts.clock import Clock
from edge.video.settings import SourceSettings

log = logging.getLogger(__name__)

_STREAM = re.compile(r"^(rtsps?|rtmp|https?|udp|tcp|srt)://", re.IGNORECASE)
_USB = re.compile(r"^(?:usb:(\d+)|/dev/video(\d+))$")
# TCP for RTSP: UDP loses packets on busy networks and smears the picture.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")


class SourceError(RuntimeError):
    """A source that cannot be opened or read; the message names the camera's source."""


class SourceKind(StrEnum):
    STREAM = "stream"
    FILE = "file"
    USB = "usb"


@dataclass(frozen=True, slots=True)
class SourceSpec:
    kind: SourceKind
    target: str  # URL, file path, or device path
    index: int | None = None  # USB camera index

    @property
    def display(self) -> str:
        # Never show credentials from rtsp://user:pass@host in health or logs.
        return re.sub(r"//[^/@]*@", "//***@", self.target)


def resolve_source(raw: str) -> SourceSpec:
    """Expand environment variables (``${GRIDWATCH_MEDIA}``) and classify the source."""
    expanded = os.path.expandvars(raw.strip())
    missing = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", expanded)
    if missing:
        raise SourceError(
            f"source {raw!r} uses environment variable(s) {', '.join(sorted(set(missing)))} "
            "that are not set on this node"
        )
    usb = _USB.match(expanded)
    if usb:
        index = int(usb.group(1) or usb.group(2))
        return SourceSpec(SourceKind.USB, f"/dev/video{index}", index)
    if _STREAM.match(expanded):
        return SourceSpec(SourceKind.STREAM, expanded)
    path = expanded.removeprefix("file://")
    return SourceSpec(SourceKind.FILE, str(Path(path).expanduser()))


def open_capture(spec: SourceSpec, settings: SourceSettings) -> cv2.VideoCapture:
    """Open a source or raise :class:`SourceError` saying why."""
    if spec.kind is SourceKind.USB:
        cap = cv2.VideoCapture(spec.index if spec.index is not None else 0, cv2.CAP_V4L2)
        if not cap.isOpened():
            raise SourceError(f"USB camera {spec.target} cannot be opened (not plugged in, or busy)")
        return cap
    if spec.kind is SourceKind.FILE:
        path = Path(spec.target)
        if not path.is_file():
            raise SourceError(f"video file {path} does not exist")
        if not os.access(path, os.R_OK):
            raise SourceError(f"video file {path} is not readable")
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(settings.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(settings.read_timeout_s * 1000),
    ]
    cap = cv2.VideoCapture(spec.target, cv2.CAP_FFMPEG, params)
    if not cap.isOpened():
        if spec.kind is SourceKind.FILE:
            raise SourceError(f"video file {spec.target} cannot be decoded (corrupt or not a video)")
        raise SourceError(f"stream {spec.display} cannot be opened (unreachable, refused or not a video)")
    return cap


@dataclass(frozen=True, slots=True)
class Frame:
    image: np.ndarray  # BGR uint8
    seq: int  # per reader, from 1
    at: datetime  # clock time when decoded
    decode_ms: float


class ReaderState(StrEnum):
    STARTING = "starting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


class CameraReader:
    """Decodes one camera in its own thread and keeps the newest frame only."""

    def __init__(self, camera_id: str, source: str, settings: SourceSettings, clock: Clock) -> None:
        self.camera_id = camera_id
        self.raw_source = source
        self.settings = settings
        self.clock = clock
        self.state = ReaderState.STARTING
        self.error = ""
        self.frames_in = 0
        self.decode_ms = 0.0  # moving average
        self.reconnects = 0
        self.last_frame_mono: float | None = None
        self._latest: Frame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            self.spec: SourceSpec | None = resolve_source(source)
        except SourceError as exc:
            self.spec = None
            self.error = str(exc)

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"reader-{self.camera_id}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self.state = ReaderState.STOPPED

    def latest(self, after_seq: int, timeout: float) -> Frame | None:
        """The newest frame with a sequence above ``after_seq``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._stop.is_set():
                frame = self._latest
                if frame is not None and frame.seq > after_seq:
                    return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
        return None

    # ------------------------------------------------------------------ thread
    def _extra(self) -> dict[str, str]:
        return {"device_id": self.camera_id}

    def _wait(self, seconds: float) -> bool:
        """Sleep unless stopped; True when stopped."""
        return self._stop.wait(seconds)

    def _run(self) -> None:
        backoff = self.settings.backoff_initial_s
        while not self._stop.is_set():
            if self.spec is None:  # unusable configuration: keep saying so, never spin
                self.state = ReaderState.RECONNECTING
                if self._wait(self.settings.backoff_max_s):
                    break
                continue
            try:
                cap = open_capture(self.spec, self.settings)
            except SourceError as exc:
                self._failed(str(exc), backoff)
                if self._wait(backoff):
                    break
                backoff = min(backoff * 2, self.settings.backoff_max_s)
                continue
            try:
                delivered = self._pump(cap)
            finally:
                cap.release()
            if self._stop.is_set():
                break
            if delivered:
                backoff = self.settings.backoff_initial_s  # it worked for a while: start over gently
            self._failed(self.error or "stream ended", backoff)
            if self._wait(backoff):
                break
            backoff = min(backoff * 2, self.settings.backoff_max_s)
        self.state = ReaderState.STOPPED

    def _failed(self, message: str, retry_in: float) -> None:
        first = self.state is not ReaderState.RECONNECTING or self.error != message
        self.state = ReaderState.RECONNECTING
        self.error = message
        self.reconnects += 1
        if first:
            log.warning(
                "camera source failed: %s; retrying in %.1f s", message, retry_in, extra=self._extra()
            )

    def _pump(self, cap: cv2.VideoCapture) -> int:
        """Read until the source fails or we are stopped; returns frames delivered."""
        assert self.spec is not None
        is_file = self.spec.kind is SourceKind.FILE
        fps = cap.get(cv2.CAP_PROP_FPS) if is_file else 0.0
        period = 1.0 / fps if is_file and self.settings.realtime_files and 0 < fps <= 240 else 0.0
        delivered = 0
        next_due = time.monotonic()
        while not self._stop.is_set():
            started = time.perf_counter()
            ok, image = cap.read()
            took_ms = (time.perf_counter() - started) * 1000
            if not ok or image is None:
                if is_file and delivered and self.settings.loop_files:
                    if not cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
                        self.error = f"video file {self.spec.target} cannot rewind"
                        return delivered
                    ok, image = cap.read()
                    if ok and image is not None:
                        took_ms = (time.perf_counter() - started) * 1000
                if not ok or image is None:
                    if is_file and not delivered:
                        self.error = f"video file {self.spec.target} has no decodable frames (corrupt?)"
                    elif is_file:
                        self.error = f"video file {self.spec.target} ended"
                    else:
                        self.error = f"stream {self.spec.display} stopped sending frames"
                    return delivered
            if image.ndim == 2:  # some USB and IR cameras deliver grey frames
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            delivered += 1
            self._deliver(image, took_ms)
            if period:
                next_due += period
                delay = next_due - time.monotonic()
                if delay > 0:
                    if self._wait(delay):
                        break
                elif delay < -1.0:
                    next_due = time.monotonic()  # fell behind (busy CPU): do not try to catch up
        return delivered

    def _deliver(self, image: np.ndarray, took_ms: float) -> None:
        with self._cond:
            self.frames_in += 1
            self.decode_ms = took_ms if self.frames_in == 1 else 0.9 * self.decode_ms + 0.1 * took_ms
            self._latest = Frame(image, self.frames_in, self.clock.now(), took_ms)
            self.last_frame_mono = time.monotonic()
            if self.state is not ReaderState.STREAMING:
                if self.state is ReaderState.RECONNECTING:
                    log.info("camera source is back", extra=self._extra())
                self.state = ReaderState.STREAMING
                self.error = ""
            self._cond.notify_all()
