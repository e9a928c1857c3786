"""Prometheus metrics of the weekly report: whether it is made, and how long drawing it takes."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEEKLY_REPORTS = Counter(
    "gridwatch_weekly_reports_total", "Weekly reports made, by how (schedule or on demand)", ["how"]
)
REPORT_DRAW_SECONDS = Histogram(
    "gridwatch_weekly_report_draw_seconds",
    "Time to read a weekly report's figures and draw its pages",
    buckets=(0.5, 1, 2, 5, 10, 30, 60),
)
