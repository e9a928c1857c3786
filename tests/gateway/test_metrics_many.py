"""``metrics.observe_many`` (issue 19: a batch's ingest lags observed at once) leaves a histogram as
one ``observe`` per value does: the same bucket counts, the same count and, up to float rounding,
the same sum."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram

from gateway.metrics import observe_many

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300)


def _samples(histogram: Histogram) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("le", "")): s.value
        for family in histogram.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_observe_many_counts_what_observe_counts() -> None:
    # Values on, below, between and past the bounds; zero, a negative, the same value twice, a NaN.
    values = [0.0, 0.005, 0.0050001, 0.004, 0.01, 0.3, 1.0, 1.0, 299.9, 300.0, 300.1, 1e9, -2.0, math.nan]
    values += [k / 37 for k in range(200)]
    one, many = (
        Histogram("lag_seconds", "lag", buckets=BUCKETS, registry=CollectorRegistry()) for _ in range(2)
    )
    for v in values:
        one.observe(v)
    observe_many(many, values[:100])
    observe_many(many, values[100:])
    observe_many(many, [])
    want, got = _samples(one), _samples(many)
    assert want.keys() == got.keys()
    for key, value in want.items():
        if key[0].endswith("_sum"):
            assert math.isnan(value) and math.isnan(got[key])  # the NaN makes both sums NaN
        else:
            assert got[key] == value, key


def test_observe_many_sum_matches_observe_up_to_rounding() -> None:
    values = [k / 7 for k in range(500)]
    one, many = (
        Histogram("lag_seconds", "lag", buckets=BUCKETS, registry=CollectorRegistry()) for _ in range(2)
    )
    for v in values:
        one.observe(v)
    observe_many(many, values)
    want, got = _samples(one), _samples(many)
    sum_key = ("lag_seconds_sum", "")
    assert {k: v for k, v in got.items() if k != sum_key} == {k: v for k, v in want.items() if k != sum_key}
    assert math.isclose(got[sum_key], want[sum_key], rel_tol=1e-12)


def test_the_internals_it_reads_were_checked_on_the_installed_prometheus_client() -> None:
    """A trip-wire: fails on a prometheus_client release ``observe_many`` was not checked against
    (run this module against it, then add it to ``OBSERVE_MANY_TESTED``)."""
    from importlib.metadata import version

    from gateway import metrics

    installed = ".".join(version("prometheus-client").split(".")[:2])
    assert installed in metrics.OBSERVE_MANY_TESTED, f"prometheus_client {installed}: check observe_many"
    assert metrics._internals_known()


def test_an_unchecked_release_observes_one_value_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway import metrics

    monkeypatch.setattr(metrics, "_internals_known", lambda: False)
    values = [0.001, 0.3, 7.0, 400.0]
    one, many = (
        Histogram("lag_seconds", "lag", buckets=BUCKETS, registry=CollectorRegistry()) for _ in range(2)
    )
    for v in values:
        one.observe(v)
    observe_many(many, values)
    assert _samples(many) == _samples(one)
