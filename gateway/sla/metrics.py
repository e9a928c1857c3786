"""Prometheus metrics of SLA timers."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from gateway.sla.models import Phase

SLA_EVENTS = Counter(
    "gridwatch_sla_events_total", "SLA warnings and breaches fired, by phase", ["phase", "event"]
)
# Every series exists from the start at 0: Prometheus' increase() cannot see a series' first
# sample, so an alert on the first breach of a phase would otherwise never fire.
for _phase in Phase:
    for _event in ("warning", "breach"):
        SLA_EVENTS.labels(_phase.value, _event)
SLA_TIMERS_DUE = Gauge("gridwatch_sla_timers_due", "SLA timers overdue for firing at the last tick")
