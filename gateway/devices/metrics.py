"""Prometheus metrics of the fleet: what an operator graphs to see devices drop off."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DEVICES = Gauge("gridwatch_devices", "Devices of the registry, by kind and status", ["kind", "status"])
NODE_OFFLINE_CASES = Counter(
    "gridwatch_node_offline_cases_total", "Maintenance cases opened for edge nodes offline too long"
)
WATCHING_BROKER_LOG = Gauge(
    "gridwatch_gateway_broker_log_watch",
    "1 while the gateway reads the broker's log ($SYS/broker/log/N) for refused logins",
)
LOGINS_REFUSED = Counter(
    "gridwatch_gateway_broker_logins_refused_total",
    "Logins the broker refused (read from its log), by whether the login could be named",
    ["named"],
)
