"""Weekly schedules written the way people say them: ``"Mon-Fri 21:00-06:00"``.

Grammar: ``[DAYS] HH:MM-HH:MM`` or ``always``. DAYS is ``daily``, ``weekdays``,
``weekends`` or a list of days and ranges (``Mon,Wed,Fri-Sun``). An end before
the start is an overnight range: it belongs to the day it starts on, so
``Fri 21:00-06:00`` runs until Saturday 06:00. ``24:00`` is allowed as an end.
Evaluated in the site's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ALIASES = {
    "daily": frozenset(range(7)),
    "everyday": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
EXAMPLE = "'Mon-Fri 21:00-06:00', 'daily 08:30-17:30' or 'always'"


class ScheduleError(ValueError):
    pass


def _day(token: str, text: str) -> int:
    key = token.strip().lower()[:3]
    if key not in DAY_NAMES or len(token.strip()) not in (3, len(_full(key))):
        raise ScheduleError(f"schedule {text!r}: unknown day {token.strip()!r}; use Mon..Sun")
    return DAY_NAMES.index(key)


def _full(key: str) -> str:
    return {
        "mon": "monday",
        "tue": "tuesday",
        "wed": "wednesday",
        "thu": "thursday",
        "fri": "friday",
        "sat": "saturday",
        "sun": "sunday",
    }[key]


def _parse_days(spec: str, text: str) -> frozenset[int]:
    if spec.lower() in _ALIASES:
        return _ALIASES[spec.lower()]
    days: set[int] = set()
    for part in spec.split(","):
        if "-" in part:
            first, last = part.split("-", 1)
            a, b = _day(first, text), _day(last, text)
            d = a
            while True:  # wraps: Sat-Mon is Sat, Sun, Mon
                days.add(d)
                if d == b:
                    break
                d = (d + 1) % 7
        else:
            days.add(_day(part, text))
    return frozenset(days)


@dataclass(frozen=True, slots=True)
class Schedule:
    days: frozenset[int]  # 0 = Monday: days on which a range starts
    start: time
    end: time | None  # None = 24:00
    text: str

    @classmethod
    def parse(cls, text: str) -> Schedule:
        if not isinstance(text, str) or not text.strip():
            raise ScheduleError(f"schedule must be a string such as {EXAMPLE}")
        clean = " ".join(text.split())
        if clean.lower() == "always":
            return cls(frozenset(range(7)), time(0, 0), None, clean)
        tokens = clean.split(" ")
        if len(tokens) > 2:
            raise ScheduleError(f"schedule {text!r} does not parse; expected {EXAMPLE}")
        days = _parse_days(tokens[0], text) if len(tokens) == 2 else frozenset(range(7))
        match = _TIME.match(tokens[-1])
        if not match:
            raise ScheduleError(f"schedule {text!r}: time range should look like 21:00-06:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ScheduleError(f"schedule {text!r}: hours 00-23 (24:00 only as an end), minutes 00-59")
        start = time(h1, m1)
        end = None if h2 == 24 else time(h2, m2)
        if end == start:
            raise ScheduleError(f"schedule {text!r}: start and end are equal; use 'always' for all day")
        return cls(days, start, end, clean)

    @property
    def overnight(self) -> bool:
        return self.end is not None and self.end < self.start

    def active_at(self, when: datetime, tz: tzinfo) -> bool:
        """Is an aware datetime inside this schedule (evaluated in ``tz``)?"""
        local = when.astimezone(tz)
        t = local.time().replace(tzinfo=None)
        today = local.weekday()
        if self.overnight:
            assert self.end is not None
            if t >= self.start and today in self.days:
                return True
            yesterday = (local - timedelta(days=1)).weekday()
            return t < self.end and yesterday in self.days
        if today not in self.days:
            return False
        return t >= self.start and (self.end is None or t < self.end)

    def __str__(self) -> str:
        return self.text


def any_active(schedules: list[Schedule] | tuple[Schedule, ...], when: datetime, tz: tzinfo) -> bool:
    return any(s.active_at(when, tz) for s in schedules)
