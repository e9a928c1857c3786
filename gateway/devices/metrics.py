"""Prometheus metrics of the fleet: what an operator graphs to see devices drop off."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DEVICES = Gauge("gridwatch_devices", "Devices of the registry, by kind and status", ["kind", "status"])
NODE_OFFLINE_CASES = Counter(
    "gridwatch_node_offline_cases_total", "Maintenance cases opened for edge nodes offline too long"
)
