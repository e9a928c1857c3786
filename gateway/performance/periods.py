"""Site-local weeks and months as UTC instants (a week starts on Monday 00:00, site time).

Figures are asked for in the site's calendar: "last week" in Qingshan ends at Monday 00:00
Asia/Shanghai, whatever the server's zone. Bounds are made here, with the zone database,
and handed to SQL as plain instants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_WEEK = re.compile(r"^(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])$")
# The years a week or month may name: the API's bounds on every time it takes (cloud_api.params);
# year 1 or 9999 would overflow Python's dates in the site-time and trend arithmetic.
FIRST_YEAR, LAST_YEAR = 1971, 2199


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC
    label: str  # 2026-W23, 2026-05, or the local dates

    def before(self) -> Period:
        """The period of the same length just before (week-on-week, month-on-month)."""
        span = self.end - self.start
        return Period(self.start - span, self.start, f"before {self.label}")


def midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def week_of(day: date, tz: tzinfo) -> Period:
    monday = day - timedelta(days=day.weekday())
    year, week, _ = monday.isocalendar()
    return Period(midnight(monday, tz), midnight(monday + timedelta(days=7), tz), f"{year}-W{week:02d}")


def last_full_week(now: datetime, tz: tzinfo) -> Period:
    """The latest Monday-to-Sunday week that has ended by ``now``."""
    return week_of(now.astimezone(tz).date() - timedelta(days=7), tz)


def parse_week(text: str, tz: tzinfo) -> Period:
    """``2026-W23`` (ISO week) as a period; ValueError says what to write."""
    found = _WEEK.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a week: write YYYY-Www, e.g. 2026-W23")
    _check_year(text, int(found.group(1)))
    try:
        monday = date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1)
    except ValueError:
        raise ValueError(f"{text!r}: {found.group(1)} has no week {found.group(2)}") from None
    return week_of(monday, tz)


def _check_year(text: str, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"{text!r}: only the years {FIRST_YEAR}-{LAST_YEAR} are kept")


def month_of(day: date, tz: tzinfo) -> Period:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(midnight(first, tz), midnight(following, tz), f"{first:%Y-%m}")


def parse_month(text: str, tz: tzinfo) -> Period:
    """``2026-05`` as a period; ValueError says what to write."""
    found = _MONTH.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a month: write YYYY-MM, e.g. 2026-05")
    _check_year(text, int(found.group(1)))
    return month_of(date(int(found.group(1)), int(found.group(2)), 1), tz)


def weeks_ending(end: datetime, count: int, tz: tzinfo) -> list[datetime]:
    """Bounds of the ``count`` site-local weeks before the week that starts at or after ``end``:
    ``count + 1`` instants, oldest first."""
    last = week_of((end - timedelta(microseconds=1)).astimezone(tz).date(), tz)
    mondays = [last.start.astimezone(tz).date() - timedelta(days=7 * i) for i in range(count - 1, -1, -1)]
    return [midnight(m, tz) for m in mondays] + [last.end]


def local_days(period: Period, tz: tzinfo) -> tuple[str, str]:
    """First and last site-local day of a period, as YYYY-MM-DD (patrol days are kept so)."""
    first = period.start.astimezone(tz).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(tz).date()
    return first.isoformat(), last.isoformat()
