"""Where sensor readings and edge health go (InfluxDB in production).

The pipeline hands every reading to a :class:`TelemetrySink` and never waits
for it: a slow or dead telemetry store must not delay case handling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from contracts import EdgeHealth, SensorReading


class TelemetrySink(Protocol):
    def write(self, message: SensorReading | EdgeHealth) -> None:
        """Queue the message for writing; must not block."""
        ...

    def write_many(self, messages: Sequence[SensorReading | EdgeHealth]) -> None:
        """:meth:`write` for a batch's messages at once (sinks without it get them one by one)."""
        ...

    def status(self) -> dict[str, Any]:
        """Counts and state for the heartbeat and the operations API."""
        ...

    def warnings(self) -> list[str]:
        """What an operator should know (store down, drops); empty when all is well."""
        ...

    def close(self) -> None: ...


class NullTelemetry:
    """Used when no telemetry store is configured: readings are counted, not kept."""

    def __init__(self) -> None:
        self.received = 0

    def write(self, message: SensorReading | EdgeHealth) -> None:
        self.received += 1

    def write_many(self, messages: Sequence[SensorReading | EdgeHealth]) -> None:
        self.received += len(messages)

    def status(self) -> dict[str, Any]:
        return {"store": None, "received": self.received}

    def warnings(self) -> list[str]:
        return []

    def close(self) -> None:
        pass
