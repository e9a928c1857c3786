"""Prometheus metrics of notifications (webhook deliveries)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DELIVERIES = Counter(
    "gridwatch_notify_attempts_total",
    "Webhook delivery attempts, by format and outcome",
    ["format", "outcome"],
)
DELIVERIES_PENDING = Gauge("gridwatch_notify_pending", "Webhook deliveries waiting for an attempt")
