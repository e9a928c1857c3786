"""Prometheus metrics of SLA timers."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SLA_EVENTS = Counter(
    "gridwatch_sla_events_total", "SLA warnings and breaches fired, by phase", ["phase", "event"]
)
SLA_TIMERS_DUE = Gauge("gridwatch_sla_timers_due", "SLA timers overdue for firing at the last tick")
