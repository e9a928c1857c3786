"""Prometheus metrics of the outbox and its uplink (what an operator graphs)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DEPTH = Gauge("gridwatch_edge_outbox_depth", "Messages waiting for the broker's acknowledgement")
OLDEST_AGE = Gauge("gridwatch_edge_outbox_oldest_age_seconds", "Age of the oldest unacknowledged message")
QUEUED = Counter(
    "gridwatch_edge_outbox_queued_total", "Messages written to the outbox, by priority", ["priority"]
)
EVICTED = Counter(
    "gridwatch_edge_outbox_evicted_total",
    "Messages dropped because the outbox was full, by priority",
    ["priority"],
)
PUBLISHED = Counter(
    "gridwatch_edge_outbox_published_total", "Publishes sent to the broker (replays count again)"
)
ACKED = Counter("gridwatch_edge_outbox_acked_total", "Messages acknowledged by the broker and deleted")
REFUSED = Counter(
    "gridwatch_edge_outbox_refused_total", "Messages the broker refused permanently (kept aside)"
)
RETENTION_DROPPED = Counter(
    "gridwatch_edge_retention_dropped_total",
    "Unsent evidence and refused messages deleted by retention, by kind and why (age, quota)",
    ["kind", "why"],
)
CONNECTED = Gauge("gridwatch_edge_uplink_connected", "1 while the node is connected to its uplink broker")
