"""VideoService: every camera of one edge node, from source to emitted events.

The node runtime creates it with the node's configuration, its emitter (the
outbox), the fusion hub, a clock and :class:`VideoSettings`, then calls
:meth:`start`, reads :meth:`health` / :meth:`detector_health` for its edge
health messages, and calls :meth:`stop`. A camera that fails (bad URL,
corrupt file, bad zone) is reported in its health and never stops the others;
without a usable model the node still runs motion, fire and camera checks.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import cv2
from prometheus_client import start_http_server

from contracts import CameraHealth, DetectorHealth, EvidenceSnapshot, HazardEvent, topics
from contracts.clock import Clock, SystemClock
from contracts.site.models import Camera, EdgeNodeConfig
from edge.emit import Emitter, Priority
from edge.fusion import FusionHub, SensorSignal
from edge.outbox.store import OutboxError
from edge.video.detector.engine import DetectorService
from edge.video.metrics import VIDEO_METRICS
from edge.video.pipeline import CameraPipeline, Outgoing
from edge.video.settings import VideoSettings
from edge.video.sources import CameraReader, ReaderState

log = logging.getLogger(__name__)

# What a camera keeps while the outbox cannot write (a full or read-only card): its hazard events
# all (a few an hour), its pictures only up to this many messages in all (the oldest picture goes
# first; a picture is ~100 kB of memory).
MAX_UNSENT = 200


@dataclass
class CameraRunner:
    camera: Camera
    reader: CameraReader
    pipeline: CameraPipeline
    thread: threading.Thread | None = None
    error: str = ""  # last analysis failure, if the last frame failed
    failures: int = 0
    frames_dropped: int = 0
    # Events and pictures the outbox refused, oldest first, tried again at every frame (see _send).
    unsent: deque[tuple[str, HazardEvent | EvidenceSnapshot, Priority]] = field(default_factory=deque)
    unsent_error: str = ""
    pictures_dropped: int = 0  # pictures given up while the outbox could not write


class VideoService:
    def __init__(
        self,
        node: EdgeNodeConfig,
        emitter: Emitter,
        fusion: FusionHub | None = None,
        clock: Clock | None = None,
        settings: VideoSettings | None = None,
        detector: DetectorService | None = None,
    ) -> None:
        self.node = node
        self.emitter = emitter
        self.fusion = fusion
        self.clock = clock or SystemClock()
        self.settings = settings or VideoSettings()
        d = self.settings.detector
        self.detector = detector or DetectorService.from_settings(
            d.model, d.model_path or None, d.threads, d.registry, d.workers
        )
        self._stop = threading.Event()
        self._started = False
        self._http: object | None = None
        self._restore = contextlib.ExitStack()  # the process-wide settings we changed, for stop()
        self.runners: dict[str, CameraRunner] = {}
        for cam in node.cameras:
            if not cam.enabled:
                continue
            # Pictures only at the rate the analysis takes them; the other frames are decoded,
            # never converted (see edge.video.sources.FrameGate).
            analyse_fps = min(cam.fps, self.settings.max_fps)
            reader = CameraReader(cam.id, cam.source, self.settings.sources, self.clock, analyse_fps)
            pipeline = CameraPipeline(cam, emitter.node_id, self.detector, self.settings, fusion)
            self.runners[cam.id] = CameraRunner(cam, reader, pipeline)
        if fusion is not None:
            fusion.subscribe(self._on_signal)

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._stop.clear()
        if self.runners:
            self._set_process_wide()
        self.detector.start()
        for runner in self.runners.values():
            runner.reader.start()
            runner.thread = threading.Thread(
                target=self._run_camera, args=(runner,), name=f"video-{runner.camera.id}", daemon=True
            )
            runner.thread.start()
        VIDEO_METRICS.add(self)
        if self.settings.metrics_port is not None:
            self._http = start_http_server(self.settings.metrics_port)
        log.info(
            "video analytics started: %d camera(s), detector %s",
            len(self.runners),
            self.detector.model_name or f"unavailable ({self.detector.reason})",
            extra={"node_id": self.emitter.node_id},
        )

    def _set_process_wide(self) -> None:
        """The interpreter's switch interval and OpenCV's thread count while cameras run (see
        VideoSettings.switch_interval_ms and .opencv_threads); stop() puts back what was there."""
        if self.settings.switch_interval_ms is not None:
            self._restore.callback(sys.setswitchinterval, sys.getswitchinterval())
            sys.setswitchinterval(self.settings.switch_interval_ms / 1000)
        if self.settings.opencv_threads is not None:
            self._restore.callback(cv2.setNumThreads, cv2.getNumThreads())
            cv2.setNumThreads(self.settings.opencv_threads)

    def stop(self, timeout: float = 10.0) -> None:
        if not self._started:
            return
        self._stop.set()
        deadline = time.monotonic() + timeout
        for runner in self.runners.values():
            runner.reader.stop(max(0.1, deadline - time.monotonic()))
        for runner in self.runners.values():
            if runner.thread is not None:
                runner.thread.join(max(0.1, deadline - time.monotonic()))
        self.detector.stop()
        self._restore.close()
        VIDEO_METRICS.remove(self)
        if self._http is not None:
            server, _thread = self._http  # type: ignore[misc]
            server.shutdown()
            server.server_close()
            self._http = None
        self._started = False

    def apply_node_config(self, config: EdgeNodeConfig) -> list[str]:
        """Apply a new configuration of this node's cameras live (operators' marked objects,
        masks, zones); returns what changed, one line per camera. Cameras added or removed
        take a node restart (said in the returned lines)."""
        changes: list[str] = []
        wanted = {c.id: c for c in config.cameras if c.enabled}
        for cam_id, runner in self.runners.items():
            new = wanted.get(cam_id)
            if new is None:
                changes.append(f"camera {cam_id}: removed or disabled; takes effect at the next restart")
            elif new != runner.camera:
                runner.camera = new
                runner.pipeline.update_camera(new)
                changes.append(
                    f"camera {cam_id}: configuration applied ({len(new.ignore_objects)} marked object(s))"
                )
        for cam_id in sorted(set(wanted) - set(self.runners)):
            changes.append(f"camera {cam_id}: new; takes effect at the next restart")
        return changes

    # ------------------------------------------------------------------ health
    def camera(self, camera_id: str) -> CameraRunner | None:
        return self.runners.get(camera_id)

    def health(self) -> list[CameraHealth]:
        return [self._camera_health(r) for r in self.runners.values()]

    def detector_health(self) -> DetectorHealth:
        return self.detector.health()

    def warnings(self) -> list[str]:
        """Configuration problems worth an operator's attention, one line each."""
        out = []
        if not self.detector.available:
            out.append(f"video detector not loaded: {self.detector.reason}")
        for r in self.runners.values():
            out += [f"camera {r.camera.id}: {p}" for p in r.pipeline.warnings()]
            if r.unsent_error:
                out.append(f"camera {r.camera.id}: {_unsent_line(r)}"[:300])
        return out[:50]

    def _camera_health(self, r: CameraRunner) -> CameraHealth:
        reader, pipe = r.reader, r.pipeline
        if reader.spec is None:
            state = "error"
        elif pipe.offline:
            state = "offline"
        elif reader.state is ReaderState.RECONNECTING:
            state = "reconnecting"
        elif reader.state is ReaderState.STARTING:
            state = "starting"
        elif r.error:
            state = "error"
        elif pipe.blocked:
            state = "blocked"
        else:
            state = "streaming"
        unsent = _unsent_line(r) if r.unsent_error else ""
        errors = [e for e in (unsent, reader.error, r.error, *pipe.problems) if e]
        return CameraHealth(
            camera_id=r.camera.id,
            state=state,  # type: ignore[arg-type]
            frames_in=reader.frames_in,
            frames_analysed=pipe.stats.frames_analysed,
            frames_dropped=r.frames_dropped,
            decode_ms=round(reader.decode_ms, 2),
            inference_ms=round(pipe.stats.inference_ms, 2),
            queue_depth=self.detector.queue_depth(),
            error="; ".join(errors)[:300],
        )

    # ------------------------------------------------------------------ work
    def _on_signal(self, signal: SensorSignal) -> None:
        """A sensor near a camera is in alarm: look at the whole view now and keep a picture."""
        if signal.alarm is None or self._stop.is_set():
            return
        for camera_id in signal.cameras:
            runner = self.runners.get(camera_id)
            if runner is not None:
                runner.pipeline.request_scan(f"{signal.kind} alarm from {signal.device_id}", signal.event_id)

    def _run_camera(self, r: CameraRunner) -> None:
        fps = min(r.camera.fps, self.settings.max_fps)
        period = 1.0 / fps
        extra = {"device_id": r.camera.id}
        last_seq = 0
        next_due = time.monotonic()
        while not self._stop.is_set():
            delay = next_due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            frame = r.reader.latest(last_seq, timeout=max(period, 0.5))
            if self._stop.is_set():
                break
            now = self.clock.now()
            try:
                if frame is None:
                    self._send(r, r.pipeline.idle(now, r.reader.error))
                    next_due = time.monotonic()
                    continue
                last_seq = frame.seq
                self._send(r, r.pipeline.process(frame, now))
                r.error, r.failures = "", 0
            except Exception as exc:  # one bad frame or bug must not end this camera, nor the others
                r.failures += 1
                r.error = f"analysis failed: {type(exc).__name__}: {exc}"[:300]
                if r.failures in (1, 10, 100) or r.failures % 1000 == 0:
                    log.exception("analysis failed (%d in a row)", r.failures, extra=extra)
            next_due += period
            behind = time.monotonic() - next_due
            if behind > period:
                r.frames_dropped += int(behind // period)
                next_due = time.monotonic()

    def _send(self, r: CameraRunner, outgoing: list[Outgoing]) -> None:
        """Queue what a frame produced, after whatever the outbox refused before (in order).

        An outbox that cannot write (a full or read-only card) must not lose a fire: what it
        refuses waits in the camera's runner, is said in the camera's health and the node's
        warnings, and is tried again at every frame (or idle tick) until it goes. Hazard events
        are all kept; pictures only up to :data:`MAX_UNSENT` messages, the oldest first dropped."""
        node = self.emitter.node_id
        for o in outgoing:
            if o.event is not None:
                r.unsent.append((topics.node_event(node), o.event, Priority.EVENT))
            if o.evidence is not None:
                r.unsent.append((topics.node_evidence(node), o.evidence, Priority.EVIDENCE))
        while len(r.unsent) > MAX_UNSENT and _drop_oldest_picture(r.unsent):
            r.pictures_dropped += 1
        extra = {"device_id": r.camera.id}
        while r.unsent:
            topic, message, priority = r.unsent[0]
            try:
                self.emitter.emit(topic, message, priority)
            except (OutboxError, OSError) as exc:  # the store cannot write now: wait for it
                if not r.unsent_error:  # once per outage, not once a frame
                    log.exception(
                        "could not queue %s %s; it waits in the node", message.kind, message.id, extra=extra
                    )
                r.unsent_error = f"{type(exc).__name__}: {exc}"[:200]
                return
            except Exception:  # a bug about this one message: it must not hold back the ones after it
                log.exception("could not queue %s %s", message.kind, message.id, extra=extra)
            r.unsent.popleft()
            if r.unsent_error and not r.unsent:
                log.warning(
                    "the outbox writes again: what waited is queued (%d picture(s) given up meanwhile)",
                    r.pictures_dropped,
                    extra=extra,
                )
                r.unsent_error, r.pictures_dropped = "", 0


def _drop_oldest_picture(unsent: deque[tuple[str, HazardEvent | EvidenceSnapshot, Priority]]) -> bool:
    for i, (_topic, message, _priority) in enumerate(unsent):
        if isinstance(message, EvidenceSnapshot):
            del unsent[i]
            return True
    return False


def _unsent_line(r: CameraRunner) -> str:
    waiting = list(r.unsent)  # one C call under the GIL: the camera's thread may be changing it
    events = sum(isinstance(m, HazardEvent) for _t, m, _p in waiting)
    return (
        f"{events} event(s) and {len(waiting) - events} picture(s) not queued yet, "
        f"the outbox cannot write: {r.unsent_error}"
    )
