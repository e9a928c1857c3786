"""Prometheus metrics of escalation."""

from __future__ import annotations

from prometheus_client import Counter

ESCALATIONS = Counter(
    "gridwatch_escalations_total", "Escalations, by tier reached and trigger", ["tier", "trigger"]
)
