"""Prometheus metrics of dispatch: decisions, task steps, re-dispatches."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
