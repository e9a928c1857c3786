"""Parameter types every route shares, bounded so that no input reaches the store out of range.

- times: a time without an offset is the site's local time (what a grid office
  types), on every route; times before 1971 or after 2199 are refused (422), so
  no arithmetic on them can overflow;
- paging: ``limit`` 1..1000, ``offset`` 0..10^9; database ids 1..2^63-1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Annotated

from fastapi import HTTPException, Path, Query
from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1971, 1, 1)
LATEST = datetime(2199, 12, 31)
MAX_DB_ID = 2**31 - 1  # INTEGER primary keys (PostgreSQL: 32 bits)


def _in_range(value: datetime) -> datetime:
    wall = value.replace(tzinfo=None)
    if not EARLIEST <= wall <= LATEST:
        raise ValueError(f"times between {EARLIEST.year} and {LATEST.year} only")
    return value


def _day_in_range(value: date) -> date:
    if not EARLIEST.date() <= value <= LATEST.date():
        raise ValueError(f"dates between {EARLIEST.year} and {LATEST.year} only")
    return value


Day = Annotated[date, AfterValidator(_day_in_range)]
Time = Annotated[datetime, AfterValidator(_in_range)]  # naive allowed: see site_time
AwareTime = Annotated[AwareDatetime, AfterValidator(_in_range)]  # bodies: with an offset
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many (1-1000).")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Skip this many.")]
DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]


def _db_id(value: int) -> int:
    if not 1 <= value <= MAX_DB_ID:
        raise ValueError(f"ids are between 1 and {MAX_DB_ID}")
    return value


BodyDbId = Annotated[int, AfterValidator(_db_id)]


def site_time(value: datetime | None, tz: tzinfo, name: str) -> datetime | None:
    """Aware UTC; a naive time is taken as the site's local time."""
    if value is None:
        return None
    try:
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)
    except (OverflowError, ValueError):
        raise HTTPException(422, f"{name}: not a time this site can place") from None
