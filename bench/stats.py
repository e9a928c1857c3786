"""Percentiles as the benchmarks report them (nearest rank on the sorted sample)."""

from __future__ import annotations

import statistics


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values_s: list[float]) -> dict[str, float]:
    """Seconds in, a JSON-ready summary in milliseconds out."""
    v = [x * 1000 for x in values_s]
    return {
        "p50_ms": round(pct(v, 0.5), 2),
        "p99_ms": round(pct(v, 0.99), 2),
        "mean_ms": round(statistics.mean(v), 2),
        "n": len(v),
    }
