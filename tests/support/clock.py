"""Clocks for tests: the site's time zone, a running clock from a chosen site time,
a clock a test can jump."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from contracts.clock import Clock, RunningClock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def site_time(hour: int, minute: int = 0) -> RunningClock:
    """A clock running at real speed from a Wednesday, hour:minute in Shanghai.

    System tests run the live gateway on it, so what they see (who is on duty, which
    schedule is armed) is the same whatever the machine's clock and time zone say. The
    Wednesday is 2 December 2026, or as many whole weeks later as it takes not to be behind
    the machine's clock: what edge nodes and simulators date with that clock is then never
    ahead of the gateway's (which refuses messages from the future: max_clock_skew_s).
    """
    start = datetime(2026, 12, 2, hour, minute, tzinfo=SHANGHAI)
    behind = datetime.now(UTC) - start
    if behind > timedelta(0):
        start += timedelta(weeks=math.ceil(behind / timedelta(weeks=1)))
    return RunningClock(start)


class SteppedClock:
    """Real speed from a chosen instant, and a test may jump it ahead (an offline wait, a timeout)."""

    def __init__(self, inner: Clock) -> None:
        self.inner = inner
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.inner.now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)
