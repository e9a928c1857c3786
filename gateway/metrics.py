"""Prometheus metrics an operator would graph for the gateway."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Sequence
from functools import cache
from importlib.metadata import version

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "gridwatch_gateway_messages_total",
    "MQTT messages consumed, by message kind and outcome",
    ["kind", "outcome"],
)
DEAD_LETTERS = Counter(
    "gridwatch_gateway_dead_letters_total", "Payloads refused by the contracts, by reason", ["reason"]
)
CASES_OPENED = Counter(
    "gridwatch_gateway_cases_opened_total", "Cases opened, by hazard type", ["hazard_type"]
)
DISPATCHES = Counter(
    "gridwatch_gateway_dispatch_decisions_total", "Dispatch decisions, by reason code", ["reason_code"]
)
BATCH_SECONDS = Histogram(
    "gridwatch_gateway_batch_seconds",
    "Time to validate, apply and commit one batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
BATCH_SIZE = Histogram(
    "gridwatch_gateway_batch_size",
    "Messages per committed batch",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
INGEST_LAG = Histogram(
    "gridwatch_gateway_ingest_lag_seconds",
    "From the source's timestamp to our commit",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300),
)
OPEN_CASES = Gauge("gridwatch_gateway_open_cases", "Open cases, by hazard type", ["hazard_type"])
OUTBOUND_PENDING = Gauge(
    "gridwatch_gateway_outbound_pending",
    "Messages committed for publication but not yet acknowledged by the broker",
)
MQTT_CONNECTED = Gauge(
    "gridwatch_gateway_mqtt_connected",
    "1 while connected to the broker with every subscription granted (after its SUBACK)",
)
MQTT_SUBSCRIPTIONS_REFUSED = Gauge(
    "gridwatch_gateway_mqtt_subscriptions_refused",
    "Topic filters the broker refused (SUBACK failure, e.g. its ACL denies them): stream partly missed",
)
SEQ_GAPS = Counter(
    "gridwatch_gateway_sequence_gap_messages_total",
    "Sequence numbers found missing when a source's counter jumped (may still arrive late)",
)
SEQ_LATE = Counter(
    "gridwatch_gateway_sequence_late_total",
    "Messages that filled a sequence gap (out-of-order delivery, e.g. across shared subscribers)",
)
SEQ_LOST = Counter(
    "gridwatch_gateway_sequence_lost_total",
    "Sequence numbers still missing after the grace period, by where they were lost: at the source "
    "(it dropped them itself), at the broker (sent and acknowledged, never delivered), or unknown",
    ["where"],
)
SEQ_RECOVERED = Counter(
    "gridwatch_gateway_sequence_recovered_total",
    "Sequence numbers that arrived after they had been counted lost (sent again by the source)",
)
RECEIPTS_SENT = Counter(
    "gridwatch_gateway_receipts_sent_total",
    "Delivery receipts published to sources (what the gateway has committed of their stream)",
)
SEQ_RESETS = Counter("gridwatch_gateway_sequence_resets_total", "Sources that restarted their counter")
BATCH_RETRIES = Counter(
    "gridwatch_gateway_batch_retries_total",
    "Batches redone, by why (conflict with another gateway, transient store error, bad message)",
    ["why"],
)
INGEST_RATE = Gauge(
    "gridwatch_gateway_ingest_rate", "Messages per second committed, averaged over the last ten seconds"
)
INBOX_DEPTH = Gauge(
    "gridwatch_gateway_inbox_depth", "Messages received from the broker and waiting for a batch"
)
TELEMETRY_LINES = Counter(
    "gridwatch_gateway_telemetry_lines_total",
    "Telemetry points (line-protocol lines): written, or dropped after the retries ran out",
    ["outcome"],
)
TELEMETRY_DROPPED = Counter(
    "gridwatch_gateway_telemetry_dropped_messages_total",
    "Readings and health reports dropped because the telemetry buffer was full",
)
TELEMETRY_BUFFERED = Gauge(
    "gridwatch_gateway_telemetry_buffered", "Telemetry points waiting for the telemetry store"
)
TELEMETRY_HEALTHY = Gauge(
    "gridwatch_gateway_telemetry_healthy", "1 while the telemetry store accepts writes, 0 while it fails"
)


# observe_many reads prometheus_client's histogram internals (_upper_bounds, _buckets, _sum): only on
# the releases it was checked against (tests/gateway/test_metrics_many.py); any other observes one
# value at a time. To admit a release, run that test against it and add its major.minor here.
OBSERVE_MANY_TESTED = ("0.26",)


@cache
def _internals_known() -> bool:
    release = ".".join(version("prometheus-client").split(".")[:2])
    return release in OBSERVE_MANY_TESTED


def observe_many(histogram: Histogram, values: Sequence[float]) -> None:
    """``histogram.observe(v)`` for every value (an unlabelled histogram, no exemplars), with a lock
    round per bucket touched instead of two per value: the ingest observes a lag for every message
    of a batch (issue 19). Same bucket counts; the sum is added once (the batch's values summed
    first: equal up to float rounding). tests/gateway/test_metrics_many.py compares both."""
    if not _internals_known():
        for v in values:
            histogram.observe(v)
        return
    histogram._raise_if_not_observable()  # type: ignore[attr-defined]
    bounds: list[float] = histogram._upper_bounds  # type: ignore[attr-defined]
    # observe() puts a value in the first bucket whose bound is >= it: bisect_left's index. NaN is in
    # no bucket (every comparison is false) but in the sum, as observe() does it.
    counts = Tally(bisect_left(bounds, v) for v in values if v == v)
    for index, n in counts.items():
        histogram._buckets[index].inc(n)  # type: ignore[attr-defined]
    if values:
        histogram._sum.inc(sum(values))  # type: ignore[attr-defined]
