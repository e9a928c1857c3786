"""What every sensor input hands to the alarm logic, whatever the device speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from contracts import DeviceFlag, Measurement, Unit

# Quantities about the device itself, never compared with alarm thresholds.
HOUSEKEEPING = frozenset({"battery", "linkquality", "voltage"})
# What a detector can read in each unit. Outside it, the number is the device's trouble (a
# register's all-ones, 0xFFFF = 6553.5 at 0.1 a count; a sign bit; a wrong register map), not gas.
PLAUSIBLE = {
    Unit.PERCENT_LEL: (-5.0, 120.0),
    Unit.PERCENT_VOL: (-1.0, 100.0),
    Unit.PPM: (-50.0, 1_000_000.0),
    Unit.PERCENT: (-1.0, 101.0),
}


def implausible(m: Measurement) -> str | None:
    """Why no detector could have read this, or None when it could."""
    low, high = PLAUSIBLE.get(m.unit, (float("-inf"), float("inf")))
    if low <= m.value <= high:
        return None
    return f"{m.quantity} reads {m.value:g} {m.unit.value}, outside {low:g}..{high:g}: a fault of the device"


@dataclass(frozen=True, slots=True)
class Observation:
    """One report from one device.

    ``flags`` are the device states that are true; ``known`` are the flags the
    device reported at all (true or false), so a message that does not mention
    ``battery_low`` does not clear a low-battery trouble. ``error`` is set when
    the device answered but the answer is unusable (a Modbus exception, a value
    outside the unit's range): a fault, not silence.
    """

    device_id: str
    at: datetime
    measurements: tuple[Measurement, ...] = ()
    flags: frozenset[DeviceFlag] = frozenset()
    known: frozenset[DeviceFlag] = field(default=frozenset())
    error: str = ""

    def flag(self, flag: DeviceFlag) -> bool | None:
        """True/False when the device reported this flag, None when it did not say."""
        if flag in self.flags:
            return True
        return False if flag in self.known else None

    def measurement(self, quantity: str) -> Measurement | None:
        return next((m for m in self.measurements if m.quantity == quantity), None)
