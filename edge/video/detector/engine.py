"""onnxruntime sessions and the one inference worker a node's cameras share.

Cameras hand crops to :class:`DetectorService` through a request queue; a
fixed number of worker threads take requests in arrival order and run them on
the one session (onnxruntime sessions are safe to run concurrently), so the CPU
is never oversubscribed and the queue depth tells how far inference lags. A
camera waits for its own answer, so each camera has at most one request queued
(latest-frame semantics carry through to inference).

Why several single-threaded workers rather than one worker with several
onnxruntime threads: the intra-op threads of one run meet at a barrier after
every operator, so when a decoder or a camera's own analysis takes one core
for a moment the whole run waits for it, and the pre- and post-processing
around each run (letterbox, decoding, NMS) leaves the cores idle. Independent
runs side by side fill both gaps; on the 2-core development machine two
1-thread workers gave 35-40 % more detections per second than one 2-thread
worker (docs/benchmarks.md, "Edge video").
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from contracts import DetectorHealth
from edge.video.detector.adapters import Adapter, RawDetection, adapter_for
from edge.video.detector.registry import (
    Calibration,
    ModelError,
    ModelSpec,
    load_registry,
    resolve,
    search_path,
)

log = logging.getLogger(__name__)


class Detector:
    """One onnxruntime session plus its family's adapter."""

    def __init__(self, spec: ModelSpec, path: Path, threads: int = 2) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning worker threads would steal the cores the decoders need between requests.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ModelError(
                f"model {spec.name!r} at {path} cannot be loaded by onnxruntime: {exc}"
            ) from None
        self.spec = spec
        self.adapter: Adapter = adapter_for(spec)
        self._input = self.session.get_inputs()[0].name
        self._output = self.session.get_outputs()[0].name

    def detect(self, image: np.ndarray, threshold: float | None = None) -> list[RawDetection]:
        """Boxes above the model's calibrated per-class thresholds, or above ``threshold``
        for every class when given. Safe to call from several threads at once."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 image, got shape {image.shape} {image.dtype}")
        prep = self.adapter.prepare(image)
        output = self.session.run([self._output], {self._input: prep.tensor})[0]
        return self.adapter.decode(output, prep, threshold)


@dataclass
class _Request:
    camera_id: str
    images: list[np.ndarray]
    threshold: float | None
    future: Future[list[list[RawDetection]]] = field(default_factory=Future)
    queued_at: float = field(default_factory=time.perf_counter)


def load_detector(
    model: str, model_path: list[Path] | None, threads: int, registry_file: Path | None = None
) -> Detector:
    registry = load_registry(registry_file)
    spec = registry.get(model)
    return Detector(spec, resolve(spec, search_path(model_path)), threads)


class DetectorService:
    """Serves every camera of a node from one session and ``workers`` inference threads.

    Without a usable model it still runs (``available`` is False): cameras skip
    detection, and :meth:`health` says why.
    """

    def __init__(self, detector: Detector | None, reason: str = "", workers: int = 1) -> None:
        self.detector = detector
        self.reason = "" if detector else (reason or "no detector configured")
        self.workers = max(1, workers)
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._counts = threading.Lock()
        self.inferences = 0
        self.busy_s = 0.0  # summed over workers

    @classmethod
    def from_settings(
        cls,
        model: str,
        model_path: list[Path] | None,
        threads: int,
        registry_file: Path | None = None,
        workers: int = 1,
    ) -> DetectorService:
        try:
            return cls(load_detector(model, model_path, threads, registry_file), workers=workers)
        except ModelError as exc:
            log.error("detector disabled: %s", exc, extra={"reason": "model"})
            return cls(None, str(exc))

    @property
    def available(self) -> bool:
        return self.detector is not None

    @property
    def model_name(self) -> str:
        return self.detector.spec.name if self.detector else ""

    @property
    def input_size(self) -> tuple[int, int]:
        return self.detector.spec.input if self.detector else (416, 416)

    def fitted(self, width: int, height: int) -> tuple[tuple[int, int], str]:
        """The size (and "linear" or "area" scaling) the model's input makes of a whole
        width x height frame; an image handed in at that size is not resized again."""
        if self.detector is None:
            return (width, height), "area"
        return self.detector.adapter.fitted(width, height)

    def start(self) -> None:
        if self.detector is None or self._threads:
            return
        self._threads = [
            threading.Thread(target=self._run, name=f"video-detector-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 5.0) -> None:
        if not self._threads:
            return
        for _ in self._threads:
            self._queue.put(None)  # one goodbye per worker
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self._threads = []
        while True:  # whoever still waits gets an answer
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            if pending is not None and not pending.future.done():
                pending.future.set_exception(RuntimeError("detector stopped"))

    def queue_depth(self) -> int:
        return self._queue.qsize()

    @property
    def calibration(self) -> Calibration:
        return self.detector.spec.calibration if self.detector else Calibration()

    def submit(self, camera_id: str, images: list[np.ndarray], threshold: float | None = None) -> Future:
        if self.detector is None:
            raise RuntimeError(f"detector unavailable: {self.reason}")
        request = _Request(camera_id, images, threshold)
        if not self._threads:  # not started (tests, benches): run inline in the caller
            self._serve(request)
        else:
            self._queue.put(request)
        return request.future

    def detect(
        self, camera_id: str, images: list[np.ndarray], threshold: float | None = None, timeout: float = 30.0
    ) -> list[list[RawDetection]]:
        return self.submit(camera_id, images, threshold).result(timeout)

    def _run(self) -> None:
        while True:
            request = self._queue.get()
            if request is None:
                return
            self._serve(request)

    def _serve(self, request: _Request) -> None:
        assert self.detector is not None
        started = time.perf_counter()
        try:
            result = [self.detector.detect(img, request.threshold) for img in request.images]
        except Exception as exc:  # a bad crop must not kill the worker that serves every camera
            log.exception("inference failed", extra={"device_id": request.camera_id})
            request.future.set_exception(exc)
            return
        finally:
            with self._counts:
                self.inferences += len(request.images)
                self.busy_s += time.perf_counter() - started
        request.future.set_result(result)

    def health(self) -> DetectorHealth:
        if self.detector is None:
            return DetectorHealth(model="", loaded=False, reason=self.reason[:300])
        return DetectorHealth(model=self.detector.spec.name, loaded=True)
