"""A token bucket: how many messages the uplink may publish right now."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``rate <= 0`` means unlimited."""

    def __init__(self, rate: float, burst: float, now: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._now = now
        self._tokens = self.burst
        self._at = now()

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0

    def available(self) -> int:
        if self.unlimited:
            return 1 << 30
        t = self._now()
        self._tokens = min(self.burst, self._tokens + (t - self._at) * self.rate)
        self._at = t
        return int(self._tokens)

    def take(self, n: int) -> None:
        if not self.unlimited:
            self._tokens -= n

    def wait_s(self, tokens: float = 1) -> float:
        """Seconds until ``tokens`` are available (0 when they already are)."""
        tokens = min(tokens, self.burst)
        if self.unlimited or self._tokens >= tokens:
            return 0.0
        return (tokens - self._tokens) / self.rate
