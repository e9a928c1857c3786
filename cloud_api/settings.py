"""API settings from the environment (``GRIDWATCH_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="ignore")

    site_dir: Path = Field(default=Path("device_configs/demo_site"))
    database_url: str = Field(default="sqlite:///gridwatch.db")
    api_id: str = Field(
        default="api",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="Source id of messages the API itself publishes (task offers after a reassignment ...).",
    )
