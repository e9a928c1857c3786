"""How edge components hand messages to the node's uplink.

Video rules, sensor inputs and health reporters never talk to MQTT; they call
:meth:`Emitter.emit`. The node's implementation (the store-and-forward outbox)
owns the source id and the per-source sequence: the ``seq`` a caller puts in a
message is replaced at write time, under the outbox's lock, so sequence order
is exactly outbox order.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol

from contracts import Envelope


class Priority(IntEnum):
    """What is evicted first when the outbox is full: the lowest. Events never."""

    TELEMETRY = 0  # sensor readings
    HEALTH = 1  # edge health
    STATUS = 2  # device statuses
    EVIDENCE = 3  # snapshots
    EVENT = 4  # hazard and maintenance events: never evicted


class Emitter(Protocol):
    node_id: str

    def emit(self, topic: str, message: Envelope, priority: Priority, retain: bool = False) -> None:
        """Queue a message for the broker; returns once it is durably queued."""
        ...


class ListEmitter:
    """Keeps what was emitted, in order (tests, dry runs)."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.sent: list[tuple[str, Envelope, Priority]] = []
        self._seq = 0

    def emit(self, topic: str, message: Envelope, priority: Priority, retain: bool = False) -> None:
        self._seq += 1
        self.sent.append((topic, message.model_copy(update={"seq": self._seq}), priority))
