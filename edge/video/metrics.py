"""Prometheus metrics of a node's video analytics, read from the live service
at scrape time (no second set of counters to keep in step)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from edge.video.service import VideoService


class VideoCollector(Collector):
    def __init__(self, service: VideoService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        s = self.service
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
        yield from (frames_in, analysed, dropped, decode, infer, up, reconnects, events)
        det = s.detector
        yield GaugeMetricFamily(
            "gridwatch_video_detector_loaded", "1 when the detector model is loaded", value=int(det.available)
        )
        yield GaugeMetricFamily(
            "gridwatch_video_detector_queue_depth", "Detection requests waiting", value=det.queue_depth()
        )
        yield CounterMetricFamily("gridwatch_video_detector_inferences", "Network runs", value=det.inferences)
        yield CounterMetricFamily(
            "gridwatch_video_detector_busy_seconds", "Time the detector spent on requests", value=det.busy_s
        )
