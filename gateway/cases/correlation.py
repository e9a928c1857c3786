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
from dataclasses import dataclass, field
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


def _box(at: GeoPoint, radius_m: float) -> tuple[float, float, float, float]:
    mx, my = metres_per_degree(at.lat)
    dlon, dlat = radius_m / mx, radius_m / my
    return at.lon - dlon, at.lat - dlat, at.lon + dlon, at.lat + dlat


def _inside(inner: tuple[float, float, float, float], outer: tuple[float, float, float, float]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def open_cases(hazard_types: Iterable[str]) -> Select[tuple[Case]]:
    return select(Case).where(Case.hazard_type.in_(list(hazard_types)), Case.status.in_(_OPEN))


@dataclass
class _Near:
    """Open cases loaded around some places: which hazard types, which box; bucketed by cells
    of about the correlation radius, so that a search looks at the cases near it only."""

    types: frozenset[str]
    box: tuple[float, float, float, float]  # lon min, lat min, lon max, lat max
    cell: tuple[float, float]  # degrees of longitude, latitude
    ids: set[str] = field(default_factory=set)
    cells: dict[tuple[int, int], list[Case]] = field(default_factory=dict)

    def add(self, case: Case) -> None:
        if case.id in self.ids or case.lon is None or case.lat is None:
            return
        self.ids.add(case.id)
        key = (math.floor(case.lon / self.cell[0]), math.floor(case.lat / self.cell[1]))
        self.cells.setdefault(key, []).append(case)

    def within(self, box: tuple[float, float, float, float]) -> list[Case]:
        cw, ch = self.cell
        return [
            case
            for i in range(math.floor(box[0] / cw), math.floor(box[2] / cw) + 1)
            for j in range(math.floor(box[1] / ch), math.floor(box[3] / ch) + 1)
            for case in self.cells.get((i, j), ())
        ]


class CaseBook:
    def __init__(self, session: Session, ctx: GatewayContext, batched: bool = False) -> None:
        self.session = session
        self.ctx = ctx
        self.lock = session.get_bind().dialect.name == "postgresql"
        # New cases are flushed with the batch (no savepoint each): the batch's driver retries
        # the whole batch when another gateway opened the same place's case meanwhile.
        self.batched = batched
        self._by_place: dict[PlaceKey, Case] = {}
        self._absent: set[PlaceKey] = set()
        self._near: _Near | None = None

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

    def absent(self, key: PlaceKey) -> bool:
        """No open case of this place was found (an event there opens one, unless one is near)."""
        return key in self._absent

    def prefetch_near(self, hazard_types: Iterable[str], places: Iterable[GeoPoint]) -> None:
        """Load the open cases of these types within the correlation radius of these places in one
        query, for :meth:`nearest_of` to search in memory."""
        points = list(places)
        types = frozenset(hazard_types)
        if not points or not types:
            return
        radius = self.ctx.site.settings.correlation.radius_m
        boxes = [_box(p, radius) for p in points]
        box = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        # No time filter here: a case's last_seen_at may move forward within the batch.
        found = self._query(
            open_cases(types).where(Case.lon.between(box[0], box[2]), Case.lat.between(box[1], box[3]))
        )
        first = boxes[0]
        self._near = _Near(types, box, (first[2] - first[0], first[3] - first[1]))
        for case in found:
            self._near.add(case)
        for case in self._by_place.values():  # opened earlier in this batch, not in the store yet
            self._add_near(case)

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
        lon0, lat0, lon1, lat1 = _box(at, radius_m)
        near = self._near
        if (
            near is not None
            and near.types.issuperset(hazard_types)
            and _inside((lon0, lat0, lon1, lat1), near.box)
        ):
            # the query below, answered over the rows loaded for the batch
            wanted, status = set(hazard_types), set(_OPEN)
            candidates = [
                c
                for c in near.within((lon0, lat0, lon1, lat1))
                if c.hazard_type in wanted
                and c.status in status
                and c.lon is not None
                and c.lat is not None
                and lon0 <= c.lon <= lon1
                and lat0 <= c.lat <= lat1
                and c.last_seen_at >= seen_since
            ]
        else:
            candidates = self._query(
                open_cases(hazard_types).where(
                    Case.lon.between(lon0, lon1),
                    Case.lat.between(lat0, lat1),
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
        self._add_near(case)

    def _add_near(self, case: Case) -> None:
        if self._near is not None and case.hazard_type in self._near.types:
            self._near.add(case)

    def forget(self, key: PlaceKey) -> None:
        self._by_place.pop(key, None)
        self._absent.discard(key)
