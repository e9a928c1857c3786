"""Time source shared by edge and gateway, replaceable in tests."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def known_zone(value: str) -> str:
    """``value`` when it names an IANA time zone this machine knows (tzdata is a dependency)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like 'Asia/Shanghai'") from None
    return value


# A setting that names a time zone (the site's, for schedules and local days).
TimeZoneName = Annotated[str, AfterValidator(known_zone)]


class Clock(Protocol):
    def now(self) -> datetime:
        """Current aware UTC time."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Seconds that passed, whatever the wall clock was set to (timers that must not jump)."""
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to (tests, replays)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Time that passed: moved by :meth:`advance`, not by :meth:`set` (a wall clock being set)."""
        with self._lock:
            return self._elapsed

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        with self._lock:
            step = timedelta(seconds=seconds, **kwargs)
            self._now += step
            self._elapsed += step.total_seconds()
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)


class RunningClock:
    """Wall-clock speed from a chosen instant: timers run for real, the hour of day is the caller's.

    Lets a test (or a replay) run the live system "at 23:00 on a Wednesday" whatever
    the machine's clock says, without freezing SLA timers and offer expiry.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("RunningClock needs an aware datetime")
        self._start = start.astimezone(UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)

    def monotonic(self) -> float:
        return time.monotonic()
