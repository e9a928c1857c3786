"""Prometheus metrics of the outbox and its uplink (what an operator graphs)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DEPTH = Gauge(
    "gridwatch_edge_outbox_depth", "Messages in the outbox: to send, and sent awaiting a gateway's receipt"
)
OLDEST_AGE = Gauge("gridwatch_edge_outbox_oldest_age_seconds", "Age of the oldest message in the outbox")
AWAITING = Gauge(
    "gridwatch_edge_outbox_awaiting_receipt",
    "Events, statuses and evidence sent (acknowledged by the broker) and waiting for a gateway's receipt",
)
OLDEST_UNRECEIPTED_AGE = Gauge(
    "gridwatch_edge_outbox_oldest_unreceipted_age_seconds",
    "Age of the oldest event, status or evidence no gateway's receipt covers yet (sent or not)",
)
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
ACKED = Counter("gridwatch_edge_outbox_acked_total", "Messages acknowledged by the broker (PUBACK)")
RECEIPTS = Counter("gridwatch_edge_outbox_receipts_total", "Delivery receipts received from gateways")
RECEIPTED = Counter(
    "gridwatch_edge_outbox_receipted_total", "Messages a gateway's receipt covered (then deleted)"
)
RESENT = Counter(
    "gridwatch_edge_outbox_resent_total",
    "Messages sent again because no receipt covered them in time (or after a reconnect)",
)
NO_SUBSCRIBER = Counter(
    "gridwatch_edge_outbox_no_subscriber_total",
    "Events the broker acknowledged with 'no matching subscribers' (0x10): no gateway was listening",
)
RECEIPT_SECONDS = Histogram(
    "gridwatch_edge_outbox_receipt_seconds",
    "From emit to the gateway's receipt",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
REFUSED = Counter(
    "gridwatch_edge_outbox_refused_total", "Messages the broker refused permanently (kept aside)"
)
RETENTION_DROPPED = Counter(
    "gridwatch_edge_retention_dropped_total",
    "Unsent evidence and refused messages deleted by retention, by kind and why (age, quota)",
    ["kind", "why"],
)
CONNECTED = Gauge("gridwatch_edge_uplink_connected", "1 while the node is connected to its uplink broker")
