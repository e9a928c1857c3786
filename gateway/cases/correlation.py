"""Which open case an event belongs to: same place first, then the nearest within the radius.

A :class:`CaseBook` serves one ingest batch. It loads the open cases for all
the batch's places in one query and remembers what it found (and what it did
not), so a stream of repeats from the same devices costs one query per batch
instead of one per event. On PostgreSQL the rows are read ``FOR UPDATE`` in
id order: two gateways folding events into the same case take turns instead
of overwriting each other's counts, and always lock in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from contracts import GeoPoint
from contracts.geo import haversine_m, metres_per_degree
from gateway.cases.lifecycle import OPEN_STATUSES
from gateway.cases.models import Case
from gateway.context import GatewayContext

_OPEN = [s.value for s in OPEN_STATUSES]
_PREFETCH_CHUNK = 400

PlaceKey = tuple[str, str]  # (hazard_type, place_key)


def open_cases(hazard_types: Iterable[str]) -> Select[tuple[Case]]:
    return select(Case).where(Case.hazard_type.in_(list(hazard_types)), Case.status.in_(_OPEN))


class CaseBook:
    def __init__(self, session: Session, ctx: GatewayContext) -> None:
        self.session = session
        self.ctx = ctx
        self.lock = session.get_bind().dialect.name == "postgresql"
        self._by_place: dict[PlaceKey, Case] = {}
        self._absent: set[PlaceKey] = set()

    def _query(self, query: Select[tuple[Case]]) -> list[Case]:
        query = query.order_by(Case.id)
        if self.lock:
            query = query.with_for_update()
        return list(self.session.scalars(query))

    def prefetch(self, keys: Iterable[PlaceKey]) -> None:
        """Load the open cases of these places (one query per few hundred places)."""
        wanted = sorted({k for k in keys if k not in self._by_place and k not in self._absent})
        for start in range(0, len(wanted), _PREFETCH_CHUNK):
            chunk = wanted[start : start + _PREFETCH_CHUNK]
            found = self._query(
                select(Case).where(
                    Case.status.in_(_OPEN), tuple_(Case.hazard_type, Case.place_key).in_(chunk)
                )
            )
            for case in found:
                self._by_place[(case.hazard_type, case.place_key)] = case
            self._absent.update(k for k in chunk if k not in self._by_place)

    def same_place(self, key: PlaceKey) -> Case | None:
        if key not in self._by_place and key not in self._absent:
            self.prefetch([key])
        case = self._by_place.get(key)
        return case if case is not None and case.status in _OPEN else None

    def nearest(self, hazard_type: str, at: GeoPoint, now: datetime) -> Case | None:
        """The nearest open case of this type within the radius, seen within the window."""
        radius = self.ctx.site.settings.correlation.radius_m
        window = timedelta(seconds=self.ctx.site.settings.correlation.window_s)
        return self.nearest_of([hazard_type], at, radius, now - window)

    def nearest_of(
        self, hazard_types: list[str], at: GeoPoint, radius_m: float, seen_since: datetime
    ) -> Case | None:
        mx, my = metres_per_degree(at.lat)
        dlon, dlat = radius_m / mx, radius_m / my
        candidates = self._query(
            open_cases(hazard_types).where(
                Case.lon.between(at.lon - dlon, at.lon + dlon),
                Case.lat.between(at.lat - dlat, at.lat + dlat),
                Case.last_seen_at >= seen_since,
            )
        )
        best, best_d = None, math.inf
        for case in candidates:
            d = haversine_m(at.lon, at.lat, case.lon, case.lat)  # type: ignore[arg-type]
            if d <= radius_m and (d, case.id) < (best_d, best.id if best else ""):
                best, best_d = case, d
        return best

    def remember(self, key: PlaceKey, case: Case) -> None:
        """Events of this place go to ``case`` for the rest of the batch."""
        self._by_place[key] = case
        self._absent.discard(key)

    def forget(self, key: PlaceKey) -> None:
        self._by_place.pop(key, None)
        self._absent.discard(key)
