"""Camera sources on real footage: files (looped), an HTTP MJPEG camera that goes
away and comes back, and the errors an installer sees for bad sources."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from contracts.clock import SystemClock
from edge.video import sources
from edge.video.detector.engine import DetectorService
from edge.video.pipeline import CameraPipeline
from edge.video.settings import SourceSettings, VideoSettings
from edge.video.sources import (
    CameraReader,
    Frame,
    FrameGate,
    Interpolation,
    ReaderState,
    Scaler,
    SourceError,
    SourceKind,
    next_frame,
    open_capture,
    open_source,
    resolve_source,
)
from tests.support.video.drive import at, camera, full_zone
from tests.support.video.media import PEDESTRIANS, clip
from tests.support.video.rtsp import RtspCamera, rtsp_missing
from tests.support.video.streams import MjpegCamera
from tests.support.waiting import wait_until

FAST = SourceSettings(backoff_initial_s=0.1, backoff_max_s=0.4, open_timeout_s=2, read_timeout_s=1)


def test_sources_expand_the_media_variable_and_are_classified(media_env: Path) -> None:
    spec = resolve_source("${GRIDWATCH_MEDIA}/clips/pedestrians_vtest_300f.mp4")
    assert spec.kind is SourceKind.FILE and spec.target == str(media_env / "clips/pedestrians_vtest_300f.mp4")
    assert resolve_source("usb:1").index == 1 and resolve_source("/dev/video2").kind is SourceKind.USB
    rtsp = resolve_source("rtsp://admin:secret@192.168.1.20:554/Streaming/Channels/101")
    assert rtsp.kind is SourceKind.STREAM and "secret" not in rtsp.display


def test_an_unset_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDWATCH_MEDIA", raising=False)
    with pytest.raises(SourceError, match=r"GRIDWATCH_MEDIA.*not set"):
        resolve_source("${GRIDWATCH_MEDIA}/clips/x.mp4")
    reader = CameraReader("cam-x", "${GRIDWATCH_MEDIA}/clips/x.mp4", FAST, SystemClock())
    assert reader.spec is None and "GRIDWATCH_MEDIA" in reader.error


def test_missing_and_corrupt_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_capture(resolve_source(str(tmp_path / "nope.mp4")), FAST)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
    with pytest.raises(SourceError, match="cannot be decoded"):
        open_capture(resolve_source(str(corrupt)), FAST)
    with pytest.raises(SourceError, match="cannot be opened"):
        open_capture(resolve_source("http://127.0.0.1:9/stream.mjpg"), FAST)


def test_a_slow_reader_gets_the_newest_frame_never_a_backlog() -> None:
    settings = FAST.model_copy(update={"realtime_files": False})  # decode as fast as possible
    reader = CameraReader("cam-a", str(PEDESTRIANS), settings, SystemClock())
    reader.start()
    try:
        first = reader.latest(0, timeout=5)
        assert first is not None and reader.state is ReaderState.STREAMING
        time.sleep(0.5)  # a consumer busy elsewhere
        newer = reader.latest(first.seq, timeout=5)
        assert newer is not None and newer.seq > first.seq + 5, "skipped straight to the newest frame"
        assert newer.image.shape == (288, 384, 3)
        wait_until(lambda: reader.frames_in > 320, timeout=20, what="the 300-frame clip to loop")
        assert reader.state is ReaderState.STREAMING and reader.error == ""
    finally:
        reader.stop()
    assert reader.state is ReaderState.STOPPED


def test_a_file_plays_at_its_own_frame_rate() -> None:
    reader = CameraReader("cam-a", str(PEDESTRIANS), FAST, SystemClock())  # 10 fps clip
    reader.start()
    try:
        assert reader.latest(0, timeout=5) is not None
        start_frames, started = reader.frames_in, time.monotonic()
        time.sleep(1.5)
        rate = (reader.frames_in - start_frames) / (time.monotonic() - started)
    finally:
        reader.stop()
    assert 6 <= rate <= 13, f"{rate:.1f} frames/s"


def test_a_network_camera_that_goes_away_is_reopened_with_back_off() -> None:
    camera = MjpegCamera(PEDESTRIANS, fps=10, limit=40).start()
    reader = CameraReader("cam-net", camera.url, FAST, SystemClock())
    reader.start()
    try:
        frame = reader.latest(0, timeout=10)
        assert frame is not None and frame.image.shape == (288, 384, 3)
        camera.stop()
        camera.wait_refused()
        wait_until(lambda: reader.state is ReaderState.RECONNECTING, timeout=10, what="the reader to notice")
        tries_before = reader.reconnects
        time.sleep(2.0)
        # back-off 0.1, 0.2, 0.4, 0.4 ... s: a handful of attempts, not a busy loop
        assert 2 <= reader.reconnects - tries_before <= 8
        assert "cannot be opened" in reader.error
        last = reader.frames_in
        camera.start()  # same port
        wait_until(lambda: reader.frames_in > last + 3, timeout=10, what="frames after the camera returned")
        assert reader.state is ReaderState.STREAMING and reader.error == ""
    finally:
        reader.stop()
        camera.stop()


def test_an_rtsp_camera_sending_h264_is_read_and_reopened_when_its_server_restarts() -> None:
    """A real RTSP server (GStreamer's) sending live H.264, as IP cameras do, restarted under
    the reader: the reader notices, backs off, and streams again on the same URL."""
    missing = rtsp_missing()
    if missing:
        pytest.fail(missing)  # never skipped: real cameras speak RTSP
    camera = RtspCamera("640x360", fps=10).start()
    # FFmpeg probes an RTSP stream for its parameters (~1-3 s): a longer open timeout than FAST's
    settings = SourceSettings(backoff_initial_s=0.2, backoff_max_s=1, open_timeout_s=10, read_timeout_s=2)
    reader = CameraReader("cam-rtsp", camera.url, settings, SystemClock())
    reader.start()
    try:
        frame = reader.latest(0, timeout=20)
        assert frame is not None and frame.image.shape == (360, 640, 3)
        wait_until(lambda: reader.frames_in >= 10, timeout=20, what="H.264 frames decoded")
        camera.stop()
        wait_until(lambda: reader.state is ReaderState.RECONNECTING, timeout=15, what="the reader to notice")
        assert reader.error
        last = reader.frames_in
        camera.start()  # same port
        wait_until(lambda: reader.frames_in > last + 5, timeout=30, what="frames after the server returned")
        assert reader.state is ReaderState.STREAMING and reader.error == ""
        assert reader.reconnects >= 1
        assert reader.backend == "pyav"  # the node's decoder, through the reconnect
        frame = reader.latest(0, timeout=10)
        assert frame is not None and frame.decoded is not None and frame.image.shape == (360, 640, 3)
    finally:
        reader.stop()
        camera.stop()


def _pictures_at(fps: float, path: Path) -> tuple[list[np.ndarray], int]:
    """The pictures the node's reduced decoding path gives for an analysis at ``fps``, and the
    number of frames decoded to get them."""
    gate = FrameGate(fps, stream_time=True)
    cap = open_capture(resolve_source(str(path)), FAST)
    pictures: list[np.ndarray] = []
    decoded = 0
    try:
        while True:
            ok, image = next_frame(cap, gate)
            if not ok:
                return pictures, decoded
            decoded += 1
            if image is not None:
                pictures.append(image)
    finally:
        cap.release()


def _analyse(images: list[np.ndarray], yolox: DetectorService) -> list[object]:
    """What one camera makes of the frames (5 fps, a factory floor armed all the time, motion
    gating on): its tracked objects after every frame and the events it emits."""
    h, w = images[0].shape[:2]
    pipeline = CameraPipeline(
        camera(w, h, [full_zone(w, h, schedule="always")]), "node-test", yolox, VideoSettings()
    )
    clock = at(22)
    seen: list[object] = []
    for seq, image in enumerate(images, start=1):
        clock.advance(0.2)
        out = pipeline.process(Frame(image, seq, clock.now(), 0.0), clock.now())
        tracks = [(t.id, t.label, t.pixel_box(), round(t.score, 5)) for t in pipeline.tracker.tracks]
        events = [
            (e.hazard_type, e.state, e.severity, e.summary, [d.model_dump() for d in e.detections])
            for o in out
            if (e := o.event) is not None
        ]
        seen.append((tracks, events))
    return seen


def test_reduced_decoding_gives_the_full_reads_pictures_and_detections(yolox: DetectorService) -> None:
    """A 10 fps clip analysed at 5 fps: the reader decodes every frame but converts only every
    other one to a picture. Those pictures are the very frames a full read gives, and the camera
    finds the same people and emits the same events from them."""
    reduced, decoded = _pictures_at(5, PEDESTRIANS)
    full = list(clip(PEDESTRIANS))  # every frame decoded and converted
    assert decoded == len(full) == 300
    expected = full[::2]  # a 10 fps source at 5 analysed fps
    assert len(reduced) == len(expected) == 150
    assert all(np.array_equal(a, b) for a, b in zip(reduced, expected, strict=True))
    # The first 8 s of analysis (the detector is what takes the time)
    got, want = _analyse(reduced[:40], yolox), _analyse(expected[:40], yolox)
    assert sum(len(tracks) for tracks, _ in want) > 40, "people walk through the clip: they are tracked"
    assert got == want


def _read_to_the_end(reader: CameraReader) -> None:
    """Run a reader of a file that does not loop until it says the file ended."""
    reader.start()
    try:
        wait_until(lambda: "ended" in reader.error, timeout=30, what="the clip to end")
    finally:
        reader.stop()


def test_the_reader_decodes_every_frame_and_converts_those_the_analysis_takes() -> None:
    settings = FAST.model_copy(update={"realtime_files": False, "loop_files": False})
    reader = CameraReader("cam-a", str(PEDESTRIANS), settings, SystemClock(), analyse_fps=5)
    _read_to_the_end(reader)
    assert reader.frames_in == 300 and reader.pictures == 150
    every = CameraReader("cam-b", str(PEDESTRIANS), settings, SystemClock())  # no rate: every frame
    _read_to_the_end(every)
    assert every.frames_in == every.pictures == 300


def test_the_frame_gate_keeps_the_analysis_rate_whatever_the_source_rate() -> None:
    for source_fps, analyse_fps, kept in ((10, 5, 20), (25, 5, 20), (8, 5, 20), (5, 5, 20), (30, 10, 40)):
        gate = FrameGate(analyse_fps)
        step = 1000 / source_fps
        assert sum(gate.due(i * step) for i in range(source_fps * 4)) == kept, (source_fps, analyse_fps)
    gate = FrameGate(5)  # frames arriving in pairs (a jittery network): still 5 a second
    arrivals = [t for k in range(20) for t in (k * 200.0, k * 200.0 + 3)]
    assert sum(gate.due(t) for t in arrivals) == 20
    gate = FrameGate(5)  # after a stall, no burst to catch up
    assert [gate.due(t) for t in (0, 100, 200, 1500, 1600, 1700)] == [1, 0, 1, 1, 0, 1]
    gate = FrameGate(5, stream_time=True)  # a file that rewinds starts over at its first frame
    assert [gate.due(t) for t in (0, 100, 200, 300, 0, 100, 200)] == [1, 0, 1, 0, 1, 0, 1]
    assert all(FrameGate(None).due(0.0) for _ in range(3))


PYAV = FAST.model_copy(update={"decoder": "pyav"})
OPENCV = FAST.model_copy(update={"decoder": "opencv"})


def _kept(path: Path, settings: SourceSettings, fps: float = 5) -> list[tuple[int, Frame]]:
    """(index of the decoded frame, the frame) for each frame the gate keeps at ``fps``."""
    source = open_source(resolve_source(str(path)), settings)
    assert source.backend == settings.decoder
    gate, scaler, kept, i = FrameGate(fps, stream_time=True), Scaler(), [], 0
    try:
        while True:
            ok, picture = source.read(gate)
            if not ok:
                return kept
            if isinstance(picture, np.ndarray):
                kept.append((i, Frame(picture, i + 1, at(22).now(), 0.0)))
            elif picture is not None:
                kept.append((i, Frame(None, i + 1, at(22).now(), 0.0, picture, scaler)))
            i += 1
    finally:
        source.release()


def test_pyav_keeps_the_frames_opencv_keeps_and_gives_the_same_pictures() -> None:
    """The PyAV path chooses the very frames the OpenCV path chooses (same timestamps, same
    gate); the full-size picture it converts lazily is OpenCV's within rounding, and the small
    copies it scales from the YUV planes are close to OpenCV's resize of the BGR picture."""
    av_frames, cv_frames = _kept(PEDESTRIANS, PYAV), _kept(PEDESTRIANS, OPENCV)
    assert [i for i, _ in av_frames] == [i for i, _ in cv_frames] == list(range(0, 300, 2))
    for (_, a), (_, c) in zip(av_frames, cv_frames, strict=True):
        assert a.decoded is not None and a.size == c.size == (384, 288)
        assert np.abs(a.image.astype(np.int16) - c.image).mean() < 1.0  # same conversion
    for (_, a), (_, c) in list(zip(av_frames, cv_frames, strict=True))[::15]:
        for size, how in (((320, 240), Interpolation.AREA), ((416, 312), Interpolation.LINEAR)):
            got, want = a.resized(size, how), c.resized(size, how)
            assert got.shape == want.shape == (size[1], size[0], 3)
            assert np.abs(got.astype(np.int16) - want).mean() < 3.0, (size, how)


def test_pyav_frames_are_full_size_in_true_colour(tmp_path: Path) -> None:
    """Red stays red and blue stays blue (BGR order, no swapped planes) in the full picture and
    in the scaled copies, at 1280x720."""
    path = tmp_path / "flags.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (1280, 720))
    flag = np.zeros((720, 1280, 3), np.uint8)
    flag[:, :640] = (0, 0, 255)  # red
    flag[:, 640:] = (255, 0, 0)  # blue
    for _ in range(10):
        writer.write(flag)
    writer.release()
    (_, frame), *_ = _kept(path, PYAV)
    assert frame.decoded is not None
    for image in (frame.image, frame.resized((320, 180), Interpolation.AREA)):
        h, w = image.shape[:2]
        red, blue = image[h // 2, w // 4].astype(int), image[h // 2, 3 * w // 4].astype(int)
        assert red[2] > 200 and red[0] < 50 and red[1] < 50, red
        assert blue[0] > 200 and blue[2] < 50 and blue[1] < 50, blue
    assert frame.image.shape == (720, 1280, 3)


def test_evidence_from_pyav_frames_is_the_full_picture(yolox: DetectorService) -> None:
    """A snapshot taken from a frame still in YUV is the full-size picture, as from OpenCV's."""
    (_, a), *_ = _kept(PEDESTRIANS, PYAV)
    (_, c), *_ = _kept(PEDESTRIANS, OPENCV)
    shots = []
    for frame in (a, c):
        w, h = frame.size
        pipeline = CameraPipeline(camera(w, h, [full_zone(w, h)]), "node-test", yolox, VideoSettings())
        pipeline.request_scan("smoke alarm from det-1")
        (out,) = [o for o in pipeline.process(frame, at(22).now()) if o.evidence is not None]
        assert out.evidence is not None and (out.evidence.width, out.evidence.height) == (384, 288)
        jpeg = np.frombuffer(base64.b64decode(out.evidence.jpeg_b64), np.uint8)
        shots.append(cv2.imdecode(jpeg, cv2.IMREAD_COLOR).astype(np.int16))
    assert np.abs(shots[0] - shots[1]).mean() < 2.0


def test_pyav_frames_give_the_people_opencv_frames_give(yolox: DetectorService) -> None:
    """Slightly different pixels (another scaler for the small copy and the detector's input),
    the same answers: the camera tracks as many people, frame after frame, within one."""
    av_frames, cv_frames = _kept(PEDESTRIANS, PYAV)[:40], _kept(PEDESTRIANS, OPENCV)[:40]
    counts = []
    for frames in (av_frames, cv_frames):
        pipeline = CameraPipeline(
            camera(384, 288, [full_zone(384, 288, schedule="always")]), "node-test", yolox, VideoSettings()
        )
        clock, tracked = at(22), []
        for _, frame in frames:
            clock.advance(0.2)
            pipeline.process(frame, clock.now())
            tracked.append(sum(t.label == "person" for t in pipeline.tracker.tracks))
        counts.append(tracked)
    assert sum(counts[1]) > 40, "people walk through the clip: they are tracked"
    assert all(abs(x - y) <= 1 for x, y in zip(*counts, strict=True)), counts
    assert abs(sum(counts[0]) - sum(counts[1])) <= 0.05 * sum(counts[1]), counts


def test_a_source_pyav_cannot_read_falls_back_to_opencv(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file PyAV cannot make sense of (here: its decoder refuses) is read through OpenCV, frames
    and health counters as before; a stream that cannot be reached is not tried twice."""

    def refuse(spec: object, settings: object) -> None:
        raise ValueError("no decoder for this codec in PyAV's FFmpeg")

    monkeypatch.setattr(sources, "AvCapture", refuse)
    settings = PYAV.model_copy(update={"realtime_files": False, "loop_files": False})
    reader = CameraReader("cam-a", str(PEDESTRIANS), settings, SystemClock(), analyse_fps=5)
    _read_to_the_end(reader)
    assert reader.backend == "opencv" and reader.frames_in == 300 and reader.pictures == 150
    monkeypatch.undo()

    opened: list[str] = []
    real = sources.open_capture
    monkeypatch.setattr(sources, "open_capture", lambda spec, s: opened.append(spec.target) or real(spec, s))
    with pytest.raises(SourceError, match="cannot be opened"):
        open_source(resolve_source("rtsp://127.0.0.1:9/cam"), PYAV)  # port 9: refused at once
    assert opened == []
