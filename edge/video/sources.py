"""Camera sources: RTSP/HTTP streams, video files (looped for replay) and USB
cameras through OpenCV's FFmpeg (or V4L2) backend.

One :class:`CameraReader` thread per camera decodes continuously and keeps only
the newest frame (latest-frame semantics: a slow consumer never builds a
backlog). When a source fails it is reopened with exponential back-off; the
reader's state and error say what is wrong in words an installer can act on.

A video decoder has to decode every frame (the next ones are predicted from it),
but only the frames the camera's analysis will look at need converting to a BGR
picture: given the analysis rate, the reader grabs every frame and retrieves
(converts) only those due at that rate (:class:`FrameGate`); at 1280x720 the
conversion costs as much as the decoding. The pictures it retrieves are the very
ones a full read would give.

With PyAV (the default decoder for files and streams) a kept frame is not converted at
all in the reader: it stays in the decoder's own YUV and the camera's analysis asks it
for what it reads: the small copy the motion, scene and fire stages share, averaged from
the YUV planes and converted to BGR at its small size (~0.6 ms at 1280x720 where
OpenCV's full conversion and ``INTER_AREA`` took ~2.8 ms), and the full-size BGR
picture only when it needs one (the detector's input, its crops, evidence), converted
by a reused swscale context (~0.4 ms against ~0.8 ms through OpenCV, the same pixels).
Sources PyAV cannot open or decode fall back to OpenCV, and USB cameras always use
OpenCV (V4L2).
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
from typing import Any

import cv2
import numpy as np

from contracts.clock import Clock
from edge.video.settings import SourceSettings

try:  # PyAV (PyPI "av", FFmpeg bundled): without it every source is read through OpenCV
    import av
    from av.video.reformatter import VideoReformatter
except ImportError:  # pragma: no cover - av is a dependency; a node without it still works
    av = None  # type: ignore[assignment]

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
        _check_file(spec)
    params = [
        cv2.CAP_PROP_N_THREADS,
        settings.decoder_threads,
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


class Interpolation(StrEnum):
    """How a frame is scaled: ``area`` averages (downscales without aliasing), ``linear``
    interpolates (what the detectors' own letterbox resize uses)."""

    AREA = "area"
    LINEAR = "linear"


_CV2_INTERPOLATION = {Interpolation.AREA: cv2.INTER_AREA, Interpolation.LINEAR: cv2.INTER_LINEAR}
_SWS_INTERPOLATION = {Interpolation.AREA: "AREA", Interpolation.LINEAR: "BILINEAR"}


# YUV -> BGR as FFmpeg's swscale converts yuv420p for OpenCV (ITU-R BT.601): rows B, G, R over
# (Y, U, V, 1); video ("limited") range, and full range for MJPEG's yuvj420p.
def _yuv_to_bgr(y_scale: float, y_offset: float, c_scale: float) -> np.ndarray:
    m = np.array([[1.0, 1.772, 0.0], [1.0, -0.344136, -0.714136], [1.0, 0.0, 1.402]], np.float64)
    m[:, 0] *= y_scale
    m[:, 1:] *= c_scale
    offset = -(m @ np.array([y_offset, 128.0, 128.0]))
    return np.hstack([m, offset[:, None]]).astype(np.float32)


_BT601 = {"yuv420p": _yuv_to_bgr(255 / 219, 16, 255 / 224), "yuvj420p": _yuv_to_bgr(1.0, 0, 1.0)}


def _plane(decoded: Any, i: int, w: int, h: int) -> np.ndarray:
    plane = decoded.planes[i]
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:h, :w]


def _from_planes(decoded: Any, size: tuple[int, int], how: Interpolation) -> np.ndarray:
    """A 4:2:0 frame scaled to ``size`` plane by plane, then converted to BGR: the pixels of
    converting the whole frame and ``cv2.resize`` (scaling and the colour conversion commute;
    only rounding and gamut clipping differ), at a fraction of the cost (the conversion runs on
    the small copy). Chroma as swscale upsamples it for a full conversion (each sample covers
    2x2 pixels), so colour edges — what the fire stage reads — come out as they did through
    OpenCV. (swscale's own scaling blurred them differently: a red tape fluttering in the wind
    became a false fire on the evaluation's street clip.)"""
    fw, fh = decoded.width, decoded.height
    cw, ch = (fw + 1) // 2, (fh + 1) // 2
    flag = _CV2_INTERPOLATION[how]
    y = cv2.resize(_plane(decoded, 0, fw, fh), size, interpolation=flag)
    chroma = []
    for i in (1, 2):
        c = _plane(decoded, i, cw, ch)
        if how is Interpolation.AREA and (cw % size[0] or ch % size[1]):
            # not whole 2x2 chroma blocks per small pixel: duplicate the samples first
            c = cv2.resize(c, (fw, fh), interpolation=cv2.INTER_NEAREST)
        chroma.append(cv2.resize(c, size, interpolation=flag))
    return cv2.transform(cv2.merge((y, *chroma)), _BT601[decoded.format.name])


class Scaler:
    """Scales and converts a reader's PyAV frames: 4:2:0 frames scaled plane by plane
    (:func:`_from_planes`); the full-size BGR picture, and other pixel formats, by swscale
    contexts reused frame after frame (setting one up costs ~0.15 ms at 1280x720). Not
    thread-safe: each reader has its own, used by the one thread that analyses its frames."""

    def __init__(self) -> None:
        self._contexts: dict[tuple[int, int, str], Any] = {}

    def bgr(
        self, decoded: Any, size: tuple[int, int] | None = None, how: Interpolation = Interpolation.AREA
    ) -> np.ndarray:
        """``decoded`` (a PyAV frame) as BGR at ``size`` (None: its own)."""
        w, h = size or (decoded.width, decoded.height)
        if size is not None and decoded.format.name in _BT601:
            return _from_planes(decoded, (w, h), how)
        key = (w, h, how.value)
        context = self._contexts.get(key)
        if context is None:
            context = self._contexts[key] = VideoReformatter()
        # One thread: a node scales many cameras' frames at once, each in its own thread already.
        out = context.reformat(decoded, w, h, "bgr24", interpolation=_SWS_INTERPOLATION[how], threads=1)
        return out.to_ndarray()


class Frame:
    """One picture of a camera: a BGR array, or a decoded PyAV frame still in its YUV that is
    scaled or converted only when (and as far as) the analysis asks for it."""

    __slots__ = ("_image", "at", "decode_ms", "decoded", "scaler", "seq")

    def __init__(
        self,
        image: np.ndarray | None,
        seq: int,
        at: datetime,
        decode_ms: float,
        decoded: Any = None,
        scaler: Scaler | None = None,
    ) -> None:
        if image is None and decoded is None:
            raise ValueError("a frame needs an image or a decoded frame")
        self._image = image
        self.seq = seq  # per reader, from 1
        self.at = at  # clock time when decoded
        self.decode_ms = decode_ms
        self.decoded = decoded  # PyAV VideoFrame, or None
        self.scaler = scaler if scaler is not None or decoded is None else Scaler()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the full frame."""
        if self._image is not None:
            return self._image.shape[1], self._image.shape[0]
        return self.decoded.width, self.decoded.height

    @property
    def image(self) -> np.ndarray:
        """The full-size BGR picture (uint8), converted at first use."""
        if self._image is None:
            assert self.scaler is not None
            self._image = self.scaler.bgr(self.decoded)
        return self._image

    def resized(self, size: tuple[int, int], how: Interpolation) -> np.ndarray:
        """The frame as BGR at ``size``. Averaged (``area``) from the YUV planes while the frame is
        still decoded: the stages' small copy, OpenCV's pixels within rounding at a third of
        the cost. Otherwise ``cv2.resize`` of the full BGR picture (converted now if need be):
        the detector's input is then exactly the one OpenCV's frames give, the model's
        answers unchanged (its scaling from the planes cost ~0.3 ms less at 1280x720, and
        lost 2 % of the people on the busy footage)."""
        if size == self.size:
            return self.image
        if self._image is None and how is Interpolation.AREA:
            assert self.scaler is not None
            return self.scaler.bgr(self.decoded, size, how)
        return cv2.resize(self.image, size, interpolation=_CV2_INTERPOLATION[how])


class FrameGate:
    """Which decoded frames become pictures, for an analysis at ``analyse_fps``.

    A frame is kept when it is due: one analysis period after the last one was due, less
    half a source frame interval, so the pictures come at the analysis rate on average
    (a 10 fps source analysed at 5 fps keeps every other frame, a 25 fps one every fifth,
    an 8 fps one five of eight). ``analyse_fps`` None keeps every frame.

    Time is a file's own (``stream_time``: its timestamps, so every run of a file keeps
    the same frames) or, for cameras, when the frame arrived: a stream's timestamps are
    not to be trusted (FFmpeg stamps an MJPEG camera's frames at 25 fps whatever it sends).
    """

    def __init__(self, analyse_fps: float | None, stream_time: bool = False) -> None:
        self.period_ms = 1000.0 / analyse_fps if analyse_fps else 0.0
        self.stream_time = stream_time
        self._due: float | None = None
        self._previous: float | None = None

    def due(self, at: float) -> bool:
        """Is the frame at ``at`` (milliseconds) to become a picture?"""
        if not self.period_ms:
            return True
        previous, self._previous = self._previous, at
        if self._due is None or previous is None or at < previous:
            self._due = at + self.period_ms  # the first frame, or a file that rewound
            return True
        if at < self._due - (at - previous) / 2:
            return False
        # Late by more than a period (a stall, a gap in the stream): start over from here
        # rather than keep a burst of frames to catch up.
        self._due = at + self.period_ms if at - self._due > self.period_ms else self._due + self.period_ms
        return True


def next_frame(cap: cv2.VideoCapture, gate: FrameGate) -> tuple[bool, np.ndarray | None]:
    """Decode the next frame; convert it to a BGR picture only if ``gate`` says it is due.

    ``(False, None)``: the source ended or failed; ``(True, None)``: decoded, not wanted."""
    if not cap.grab():
        return False, None
    at = cap.get(cv2.CAP_PROP_POS_MSEC) if gate.stream_time else time.monotonic() * 1000
    if not gate.due(at):
        return True, None
    ok, image = cap.retrieve()
    if not ok or image is None:
        return False, None
    return True, image


class OpenCvCapture:
    """A source read through OpenCV's FFmpeg (or V4L2) backend: the analysed frames are
    converted to full BGR pictures in the reader."""

    backend = "opencv"

    def __init__(self, cap: cv2.VideoCapture) -> None:
        self.cap = cap
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps <= 240 else 0.0

    def read(self, gate: FrameGate) -> tuple[bool, np.ndarray | None]:
        ok, image = next_frame(self.cap, gate)
        if image is not None and image.ndim == 2:  # some USB and IR cameras deliver grey frames
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return ok, image

    def rewind(self) -> bool:
        return bool(self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0))

    def release(self) -> None:
        self.cap.release()


# Corrupt packets in a row before a stream counts as failed (FFmpeg conceals single losses).
_BAD_PACKETS = 25


class AvCapture:
    """A file or stream decoded by PyAV: the analysed frames are handed out as decoded, in
    their YUV (see :class:`Frame`)."""

    backend = "pyav"

    def __init__(self, spec: SourceSpec, settings: SourceSettings) -> None:
        options = {"rtsp_transport": "tcp"} if spec.target.lower().startswith("rtsp") else {}
        # PyAV's own timeouts (open, then per read) work for every protocol and FFmpeg version.
        self.container = av.open(
            spec.target, options=options, timeout=(settings.open_timeout_s, settings.read_timeout_s)
        )
        try:
            if not self.container.streams.video:
                raise SourceError(f"{spec.display} has no video stream")
            self.stream = self.container.streams.video[0]
            context = self.stream.codec_context
            context.thread_count = settings.decoder_threads  # 0: FFmpeg's choice
            if settings.decoder_threads != 1:
                context.thread_type = "AUTO"
            rate = self.stream.average_rate
            self.fps = float(rate) if rate and 0 < float(rate) <= 240 else 0.0
            start = self.stream.start_time
            self._start = start if start is not None else 0
            self._base = float(self.stream.time_base or 0)
            self._frames = self.container.decode(self.stream)
        except BaseException:
            self.container.close()
            raise

    def read(self, gate: FrameGate) -> tuple[bool, Any]:
        bad = 0
        while True:
            try:
                frame = next(self._frames)
                break
            except StopIteration:
                return False, None
            except av.error.InvalidDataError:
                bad += 1
                if bad >= _BAD_PACKETS:
                    return False, None
            except (av.error.FFmpegError, OSError):  # timed out, connection lost, end of stream
                return False, None
        if gate.stream_time and frame.pts is not None:
            at = (frame.pts - self._start) * self._base * 1000  # like OpenCV's POS_MSEC
        else:
            at = time.monotonic() * 1000
        return True, (frame if gate.due(at) else None)

    def rewind(self) -> bool:
        try:
            self.container.seek(0)  # flushes the decoder too
        except av.error.FFmpegError:
            return False
        self._frames = self.container.decode(self.stream)
        return True

    def release(self) -> None:
        self.container.close()


Capture = OpenCvCapture | AvCapture


def open_source(spec: SourceSpec, settings: SourceSettings) -> Capture:
    """Open a source with the configured decoder, or raise :class:`SourceError` saying why.

    PyAV for files and streams; a source it cannot make sense of (a format or codec its
    FFmpeg lacks, no video stream) is read through OpenCV instead. A stream that cannot be
    reached is not tried twice: OpenCV would wait out the same timeout again."""
    if settings.decoder == "pyav" and av is not None and spec.kind is not SourceKind.USB:
        if spec.kind is SourceKind.FILE:
            _check_file(spec)
        try:
            return AvCapture(spec, settings)
        except (av.error.ExitError, OSError) as exc:
            if spec.kind is SourceKind.STREAM:
                log.debug("PyAV cannot open %s: %s", spec.display, exc)
                raise SourceError(
                    f"stream {spec.display} cannot be opened (unreachable, refused or not a video)"
                ) from None
            reason: object = exc
        except (av.error.FFmpegError, SourceError, ValueError) as exc:
            reason = exc
        log.info("PyAV cannot read %s (%s): reading it through OpenCV", spec.display, reason)
    return OpenCvCapture(open_capture(spec, settings))


def _check_file(spec: SourceSpec) -> None:
    path = Path(spec.target)
    if not path.is_file():
        raise SourceError(f"video file {path} does not exist")
    if not os.access(path, os.R_OK):
        raise SourceError(f"video file {path} is not readable")


class ReaderState(StrEnum):
    STARTING = "starting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


class CameraReader:
    """Decodes one camera in its own thread and keeps the newest frame only."""

    def __init__(
        self,
        camera_id: str,
        source: str,
        settings: SourceSettings,
        clock: Clock,
        analyse_fps: float | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.analyse_fps = analyse_fps  # None: every frame becomes a picture
        self.raw_source = source
        self.settings = settings
        self.clock = clock
        self.state = ReaderState.STARTING
        self.error = ""
        self.frames_in = 0  # frames decoded, pictures or not
        self.pictures = 0  # of which converted to pictures (every one without analyse_fps)
        self.decode_ms = 0.0  # moving average per decoded frame (its conversion included)
        self.reconnects = 0
        self.backend = ""  # "pyav" or "opencv": which decoder reads the source now
        self._scaler = Scaler()  # used by the thread that analyses this reader's frames
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
                cap = open_source(self.spec, self.settings)
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

    def _pump(self, cap: Capture) -> int:
        """Read until the source fails or we are stopped; returns frames decoded."""
        assert self.spec is not None
        is_file = self.spec.kind is SourceKind.FILE
        self.backend = cap.backend
        period = 1.0 / cap.fps if is_file and self.settings.realtime_files and cap.fps else 0.0
        gate = FrameGate(self.analyse_fps, stream_time=is_file)
        delivered = 0
        next_due = time.monotonic()
        while not self._stop.is_set():
            started = time.perf_counter()
            ok, picture = cap.read(gate)
            took_ms = (time.perf_counter() - started) * 1000
            if not ok:
                if is_file and delivered and self.settings.loop_files:
                    if not cap.rewind():
                        self.error = f"video file {self.spec.target} cannot rewind"
                        return delivered
                    ok, picture = cap.read(gate)
                    if ok:
                        took_ms = (time.perf_counter() - started) * 1000
                if not ok:
                    if is_file and not delivered:
                        self.error = f"video file {self.spec.target} has no decodable frames (corrupt?)"
                    elif is_file:
                        self.error = f"video file {self.spec.target} ended"
                    else:
                        self.error = f"stream {self.spec.display} stopped sending frames"
                    return delivered
            delivered += 1
            self._deliver(picture, took_ms)
            if period:
                next_due += period
                delay = next_due - time.monotonic()
                if delay > 0:
                    if self._wait(delay):
                        break
                elif delay < -1.0:
                    next_due = time.monotonic()  # fell behind (busy CPU): do not try to catch up
        return delivered

    def _deliver(self, picture: Any, took_ms: float) -> None:
        """One frame decoded; ``picture``: a BGR array (OpenCV), a decoded PyAV frame, or None
        when no analysis is due."""
        with self._cond:
            self.frames_in += 1
            self.decode_ms = took_ms if self.frames_in == 1 else 0.9 * self.decode_ms + 0.1 * took_ms
            self.last_frame_mono = time.monotonic()
            if self.state is not ReaderState.STREAMING:
                if self.state is ReaderState.RECONNECTING:
                    log.info("camera source is back", extra=self._extra())
                self.state = ReaderState.STREAMING
                self.error = ""
            if picture is not None:
                self.pictures += 1
                now = self.clock.now()
                if isinstance(picture, np.ndarray):
                    self._latest = Frame(picture, self.frames_in, now, took_ms)
                else:
                    self._latest = Frame(None, self.frames_in, now, took_ms, picture, self._scaler)
                self._cond.notify_all()
