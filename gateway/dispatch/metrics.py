"""Prometheus metrics for dispatch, SLA timers, escalation, notifications and patrols."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DECISION_SECONDS = Histogram(
    "gridwatch_dispatch_decision_seconds",
    "Time to choose a worker (state lookup and ranking), per decision",
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
)
TASK_STEPS = Counter(
    "gridwatch_dispatch_task_steps_total", "Task steps applied, by step and by who", ["step", "actor"]
)
REDISPATCHES = Counter(
    "gridwatch_dispatch_redispatches_total", "Offers re-sent to the next candidate, by cause", ["cause"]
)
SLA_EVENTS = Counter(
    "gridwatch_sla_events_total", "SLA warnings and breaches fired, by phase", ["phase", "event"]
)
SLA_TIMERS_DUE = Gauge("gridwatch_sla_timers_due", "SLA timers overdue for firing at the last tick")
ESCALATIONS = Counter(
    "gridwatch_escalations_total", "Escalations, by tier reached and trigger", ["tier", "trigger"]
)
DELIVERIES = Counter(
    "gridwatch_notify_attempts_total",
    "Webhook delivery attempts, by format and outcome",
    ["format", "outcome"],
)
DELIVERIES_PENDING = Gauge("gridwatch_notify_pending", "Webhook deliveries waiting for an attempt")
PATROL_INSERTIONS = Counter(
    "gridwatch_patrol_insertions_total", "Inspections folded into a worker's daily patrol"
)
PATROL_DETOUR_M = Histogram(
    "gridwatch_patrol_detour_metres",
    "Distance an inserted inspection added to the patrol",
    buckets=(0, 50, 100, 250, 500, 1000, 2000, 5000),
)
