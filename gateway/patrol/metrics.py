"""Prometheus metrics of patrols."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PATROL_INSERTIONS = Counter(
    "gridwatch_patrol_insertions_total", "Inspections folded into a worker's daily patrol"
)
PATROL_DETOUR_M = Histogram(
    "gridwatch_patrol_detour_metres",
    "Distance an inserted inspection added to the patrol",
    buckets=(0, 50, 100, 250, 500, 1000, 2000, 5000),
)
