"""Edge video analytics: cameras → motion gate → ONNX detector → tracker → zones
and schedules → hazard rules → evidence → the node's emitter.

The node runtime creates one :class:`edge.video.service.VideoService` per node.
"""
