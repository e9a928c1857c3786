"""How long the gateway keeps evidence and dead letters (``GRIDWATCH_RETENTION_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.retention import Limit


class RetentionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_RETENTION_", extra="forbid")

    evidence_days: Limit = Field(
        default=180,
        description="Evidence snapshots older than this go, unless their case is still open (then they "
        "stay, and count from when the case closed). None: kept for ever.",
    )
    evidence_quota_mb: Limit = Field(
        default=10_240,
        description="Most megabytes of evidence kept; past it the oldest go first (open cases' evidence "
        "never). None: no quota.",
    )
    dead_letter_days: Limit = Field(
        default=30, description="Dead letters older than this go. None: kept for ever."
    )
    dead_letter_quota_mb: Limit = Field(
        default=512, description="Most megabytes of dead-letter payloads kept, oldest go first."
    )
    interval_s: float = Field(default=3600, gt=0, description="How often a gateway sweeps.")
    batch: int = Field(
        default=200, ge=1, le=10_000, description="Rows deleted per transaction (short write locks)."
    )
