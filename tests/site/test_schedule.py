"""Schedules as people write them, evaluated in the site's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from contracts.site.schedule import Schedule, ScheduleError

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local Shanghai time in the week of Mon 2026-11-16 (day 0 = Monday)."""
    return datetime(2026, 11, 16 + day, hour, minute, tzinfo=SH)


@pytest.mark.parametrize(
    ("text", "when", "active"),
    [
        ("daily 21:00-06:00", at(0, 23), True),
        ("daily 21:00-06:00", at(1, 5, 59), True),
        ("daily 21:00-06:00", at(1, 6), False),
        ("daily 21:00-06:00", at(1, 14), False),
        ("Fri 21:00-06:00", at(4, 22), True),
        ("Fri 21:00-06:00", at(5, 3), True),  # Saturday early morning belongs to Friday night
        ("Fri 21:00-06:00", at(6, 3), False),
        ("Mon-Fri 08:30-17:30", at(2, 8, 30), True),
        ("Mon-Fri 08:30-17:30", at(2, 17, 30), False),
        ("Mon-Fri 08:30-17:30", at(5, 10), False),
        ("weekends 08:00-18:00", at(6, 10), True),
        ("Sat-Mon 10:00-11:00", at(0, 10, 30), True),  # ranges wrap around the week
        ("Mon,Wed 00:00-24:00", at(2, 23, 59), True),
        ("always", at(3, 4), True),
    ],
)
def test_active_at(text: str, when: datetime, active: bool) -> None:
    assert Schedule.parse(text).active_at(when, SH) is active


def test_evaluated_in_the_site_zone_not_utc() -> None:
    night = Schedule.parse("daily 21:00-06:00")
    assert night.active_at(datetime(2026, 11, 21, 15, 0, tzinfo=UTC), SH)  # 23:00 in Shanghai
    assert not night.active_at(datetime(2026, 11, 21, 6, 0, tzinfo=UTC), SH)  # 14:00 in Shanghai


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Mon-Fry 21:00-06:00", "unknown day 'Fry'"),
        ("weekdays", "time range should look like 21:00-06:00"),
        ("25:00-01:00", "hours 00-23"),
        ("08:00-08:00", "use 'always'"),
        ("", "must be a string"),
        ("Mon Tue 08:00-09:00", "does not parse"),
    ],
)
def test_errors_say_what_to_write(text: str, words: str) -> None:
    with pytest.raises(ScheduleError) as err:
        Schedule.parse(text)
    assert words in str(err.value)
