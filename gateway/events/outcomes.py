"""What became of a consumed message (the ingest batch's answer for each one; the ledger keeps
``applied`` or ``refused`` for the state-changing ones)."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    DEAD_LETTER = "dead_letter"
    REFUSED = "refused"  # valid message that does not fit the current state
    TELEMETRY = "telemetry"
    STALE = "stale"  # older than what we have (location fixes)
