"""Message ids made at the source: UUIDv7 (RFC 9562).

The id is the idempotency key across the whole system, so it must be unique
without coordination and sortable by creation time (handy in logs and for
replay order). Python 3.11 has no uuid7, hence this small generator.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """Return a new UUIDv7; monotonic within one process even inside one millisecond."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            # Same (or earlier, clock stepped back) millisecond: bump the 12-bit counter
            # and borrow the next millisecond when it overflows, so ids never go backwards.
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
        rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76
        value |= _counter << 64
        value |= 0b10 << 62
        value |= rand_b
    return uuid.UUID(int=value)


def new_id() -> str:
    """A new message id as its canonical string."""
    return str(uuid7())
