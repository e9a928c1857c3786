"""Cheapest insertion of one stop into an open walking route.

The route starts where the worker is and visits ``stops`` in order; it does not
return. Putting a new stop between a and b costs d(a,x) + d(x,b) - d(a,b); at
the end it costs d(last,x). Greedy and exact for one stop: O(n) distances, no
solver that could overrun a deadline.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.geo import haversine_m

LonLat = tuple[float, float]


def route_length(start: LonLat, stops: Sequence[LonLat]) -> float:
    total, here = 0.0, start
    for stop in stops:
        total += haversine_m(here[0], here[1], stop[0], stop[1])
        here = stop
    return total


def cheapest_insertion(start: LonLat, stops: Sequence[LonLat], new: LonLat) -> tuple[int, float]:
    """Where to insert ``new``: (index to insert before, metres added); index len(stops) = at the end."""
    prev = start
    d_prev_new = haversine_m(prev[0], prev[1], new[0], new[1])
    best_index, best_cost = len(stops), float("inf")
    for i, stop in enumerate(stops):
        d_new_stop = haversine_m(new[0], new[1], stop[0], stop[1])
        cost = d_prev_new + d_new_stop - haversine_m(prev[0], prev[1], stop[0], stop[1])
        if cost < best_cost - 1e-9:
            best_index, best_cost = i, cost
        prev, d_prev_new = stop, d_new_stop
    if d_prev_new < best_cost - 1e-9:  # appending after the last stop
        best_index, best_cost = len(stops), d_prev_new
    return best_index, max(0.0, best_cost)
