"""Retention metrics an operator graphs: what went, why, and what is kept."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DELETED = Counter(
    "gridwatch_gateway_retention_deleted_total",
    "Evidence snapshots and dead letters deleted by retention, by kind and why (age, quota)",
    ["kind", "why"],
)
BYTES = Gauge(
    "gridwatch_gateway_retained_bytes", "Bytes kept after the last retention sweep, by kind", ["kind"]
)
KEPT_FOR_OPEN_CASES = Gauge(
    "gridwatch_gateway_retention_kept_for_open_cases",
    "Evidence snapshots past their retention days, kept because their case is still open",
)
