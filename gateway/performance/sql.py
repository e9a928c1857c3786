"""What the figures are made of, in SQL: durations, percentiles, weeks and area look-ups.

Every figure of the performance domain is an aggregate the database computes (GROUP BY over
the period's rows), so a year of a 500-grid street is read once per figure, not copied into
Python. Two dialects are spoken:

- PostgreSQL: ``percentile_cont(q) WITHIN GROUP (ORDER BY x)`` and ``extract(epoch ...)``;
- SQLite (small sites, tests): the same percentiles from window functions (``row_number`` and
  ``count`` over the group; linear interpolation between the closest ranks, which is what
  ``percentile_cont`` does), durations from ``julianday``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    select,
    values,
)
from sqlalchemy.orm import Session

QUANTILES = (0.5, 0.9)
NOWHERE = ""  # the key of a mapping CTE with no rows (no id of a site is empty)


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def seconds(dialect: str, later: Any, earlier: Any) -> ColumnElement[float]:
    """``later - earlier`` in seconds (NULL when either is NULL)."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    # SQLite keeps UTC times as text; julianday reads them to the millisecond.
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def mapping(name: str, pairs: Iterable[tuple[str, str | None]]) -> CTE:
    """A two-column look-up table (``k`` → ``v``) sent with the query: grid → community,
    worker → home grid. Joined like a table, so grouping by ``v`` is one hash join."""
    rows = list(pairs) or [(NOWHERE, NOWHERE)]
    return values(column("k", String), column("v", String), name=name).data(rows).cte(name)


def week_index(col: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """Which of the weeks ``[bounds[i], bounds[i+1])`` a time falls in (NULL outside them).

    The bounds are site-local Mondays made in Python (daylight saving time included), so
    both dialects bucket the same way without a time-zone database in SQLite."""
    return case(
        *((and_(col >= bounds[i], col < bounds[i + 1]), i) for i in range(len(bounds) - 1)),
        else_=None,
    )


@dataclass(frozen=True)
class Spread:
    """How many values, and their percentiles (seconds)."""

    count: int
    quantiles: tuple[float | None, ...]


def grouped(
    session: Session,
    rows: Subquery,
    keys: Sequence[str],
    counts: Mapping[str, Any],
    timed: Sequence[str] = (),
    quantiles: Sequence[float] = QUANTILES,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per group of ``keys``: each of ``counts`` (aggregate expressions over ``rows``) and, for
    each column in ``timed``, a :class:`Spread` of its non-null values. One query on PostgreSQL;
    on SQLite one for the counts and one per timed column (window functions)."""
    dialect = dialect_of(session)
    key_cols = [rows.c[k] for k in keys]
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    cols: list[Any] = [expr.label(name) for name, expr in counts.items()]
    pg = dialect == "postgresql"
    if pg:
        for name in timed:
            cols.append(func.count(rows.c[name]).label(f"{name}__n"))
            cols.extend(
                func.percentile_cont(q).within_group(rows.c[name]).label(f"{name}__q{i}")
                for i, q in enumerate(quantiles)
            )
    query: Select[Any] = select(*key_cols, *cols).group_by(*key_cols)
    for row in session.execute(query).mappings():
        key = tuple(row[k] for k in keys)
        entry = out[key] = {name: row[name] for name in counts}
        if pg:
            for name in timed:
                entry[name] = Spread(
                    int(row[f"{name}__n"]),
                    tuple(_num(row[f"{name}__q{i}"]) for i in range(len(quantiles))),
                )
    if not pg:
        for name in timed:
            for key, spread in _window_percentiles(session, rows, keys, name, quantiles).items():
                out.setdefault(key, {n: None for n in counts})[name] = spread
    empty = Spread(0, tuple(None for _ in quantiles))
    for entry in out.values():
        for name in timed:
            entry.setdefault(name, empty)
    return out


def _window_percentiles(
    session: Session, rows: Subquery, keys: Sequence[str], name: str, quantiles: Sequence[float]
) -> dict[tuple[Any, ...], Spread]:
    parts = [rows.c[k] for k in keys]
    ranked = (
        select(
            *parts,
            rows.c[name].label("x"),
            func.row_number().over(partition_by=parts or None, order_by=rows.c[name]).label("rn"),
            func.count().over(partition_by=parts or None).label("n"),
        )
        .where(rows.c[name].is_not(None))
        .subquery()
    )
    key_cols = [ranked.c[k] for k in keys]
    cols: list[Any] = [func.max(ranked.c.n).label("n")]
    for i, q in enumerate(quantiles):
        rank = (ranked.c.n - 1) * literal(q, Float)  # 0-based, between two ranks
        low = cast(rank, Integer)  # non-negative: CAST truncates, i.e. floor
        frac = rank - low
        high = low + case((frac > 0, 1), else_=0)
        x_low = func.max(case((ranked.c.rn - 1 == low, ranked.c.x)))
        x_high = func.max(case((ranked.c.rn - 1 == high, ranked.c.x)))
        cols.append((x_low + (x_high - x_low) * func.max(frac)).label(f"q{i}"))
    query = select(*key_cols, *cols).group_by(*key_cols)
    return {
        tuple(row[k] for k in keys): Spread(
            int(row["n"]), tuple(_num(row[f"q{i}"]) for i in range(len(quantiles)))
        )
        for row in session.execute(query).mappings()
        if row["n"] is not None  # no keys and no rows: one row of NULLs, not a group
    }


def _num(value: Any) -> float | None:
    return None if value is None else float(value)
