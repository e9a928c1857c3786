"""Keep a flood of bad payloads from becoming a flood of log lines."""

from __future__ import annotations

import logging
import time
from types import TracebackType

ExcInfo = bool | BaseException | tuple[type[BaseException], BaseException, TracebackType | None] | None


class LogThrottle:
    """At most ``per_minute`` lines per key each minute; then one line saying how many were held back."""

    def __init__(self, logger: logging.Logger, per_minute: int = 20) -> None:
        self.logger = logger
        self.per_minute = per_minute
        self._window: dict[str, tuple[float, int]] = {}

    def warning(
        self,
        key: str,
        msg: str,
        *args: object,
        extra: dict[str, object] | None = None,
        exc_info: ExcInfo = None,
    ) -> None:
        now = time.monotonic()
        started, n = self._window.get(key, (now, 0))
        if now - started >= 60:
            held = n - self.per_minute
            if held > 0:
                self.logger.warning("%d more like that (%s) in the last minute, not logged", held, key)
            started, n = now, 0
        n += 1
        self._window[key] = (started, n)
        if n <= self.per_minute:
            self.logger.warning(msg, *args, extra=extra, exc_info=exc_info)
