"""Prometheus metrics of the video analytics, read from the live services at
scrape time (no second set of counters to keep in step).

One collector per process serves every running :class:`VideoService` (a test
or the demo may run several nodes in one process): camera ids are unique in a
site, so camera series need no node label; the detector's series carry the node.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

if TYPE_CHECKING:
    from edge.video.service import VideoService


class VideoCollector(Collector):
    def __init__(self) -> None:
        self._services: list[VideoService] = []
        self._lock = threading.Lock()
        self._registered = False

    def add(self, service: VideoService) -> None:
        with self._lock:
            if service not in self._services:
                self._services.append(service)
            register, self._registered = not self._registered, True
        if register:  # outside the lock: registering collects once to learn the names
            REGISTRY.register(self)

    def remove(self, service: VideoService) -> None:
        with self._lock:
            if service in self._services:
                self._services.remove(service)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            services = list(self._services)
        frames_in = CounterMetricFamily(
            "gridwatch_video_frames_in", "Frames decoded from the camera", labels=["camera"]
        )
        analysed = CounterMetricFamily(
            "gridwatch_video_frames_analysed", "Frames the analysis looked at", labels=["camera"]
        )
        dropped = CounterMetricFamily(
            "gridwatch_video_frames_dropped",
            "Analysis slots missed because the node was busy (capacity warning)",
            labels=["camera"],
        )
        decode = GaugeMetricFamily(
            "gridwatch_video_decode_ms", "Decode time per frame (moving average)", labels=["camera"]
        )
        infer = GaugeMetricFamily(
            "gridwatch_video_inference_ms",
            "Detector time per pass incl. queueing (moving average)",
            labels=["camera"],
        )
        up = GaugeMetricFamily(
            "gridwatch_video_camera_state", "1 for the camera's current state", labels=["camera", "state"]
        )
        reconnects = CounterMetricFamily(
            "gridwatch_video_reconnects",
            "Times the camera's source failed and was reopened",
            labels=["camera"],
        )
        events = CounterMetricFamily(
            "gridwatch_video_events",
            "Events raised, by hazard and state",
            labels=["camera", "hazard", "state"],
        )
        loaded = GaugeMetricFamily(
            "gridwatch_video_detector_loaded", "1 when the detector model is loaded", labels=["node"]
        )
        queue = GaugeMetricFamily(
            "gridwatch_video_detector_queue_depth", "Detection requests waiting", labels=["node"]
        )
        runs = CounterMetricFamily("gridwatch_video_detector_inferences", "Network runs", labels=["node"])
        busy = CounterMetricFamily(
            "gridwatch_video_detector_busy_seconds",
            "Time the detector's workers spent on requests (summed over workers)",
            labels=["node"],
        )
        for s in services:
            node = s.emitter.node_id
            det = s.detector
            loaded.add_metric([node], int(det.available))
            queue.add_metric([node], det.queue_depth())
            runs.add_metric([node], det.inferences)
            busy.add_metric([node], det.busy_s)
            self._cameras(s, frames_in, analysed, dropped, decode, infer, up, reconnects, events)
        yield from (frames_in, analysed, dropped, decode, infer, up, reconnects, events)
        yield from (loaded, queue, runs, busy)

    @staticmethod
    def _cameras(s: VideoService, *families: CounterMetricFamily | GaugeMetricFamily) -> None:
        frames_in, analysed, dropped, decode, infer, up, reconnects, events = families
        for h in s.health():
            cam = s.camera(h.camera_id)
            frames_in.add_metric([h.camera_id], h.frames_in)
            analysed.add_metric([h.camera_id], h.frames_analysed)
            dropped.add_metric([h.camera_id], h.frames_dropped)
            decode.add_metric([h.camera_id], h.decode_ms)
            infer.add_metric([h.camera_id], h.inference_ms)
            up.add_metric([h.camera_id, h.state], 1)
            if cam is not None:
                reconnects.add_metric([h.camera_id], cam.reader.reconnects)
                for (hazard, state), n in cam.pipeline.stats.events.items():
                    events.add_metric([h.camera_id, hazard, state], n)


VIDEO_METRICS = VideoCollector()
