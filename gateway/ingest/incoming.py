"""A message as the broker handed it over, before anything looked inside it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 0
    received_at: float = field(default_factory=time.time)
    retain: bool = False  # a retained message the broker repeats on subscribe
