"""API settings from the environment (``GRIDWATCH_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.site.access import parse_env
from gateway.settings import SchemaMode


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="ignore")

    site_dir: Path = Field(default=Path("device_configs/demo_site"))
    database_url: str = Field(default="sqlite:///gridwatch.db")
    db_schema: SchemaMode = Field(
        default=SchemaMode.UPGRADE,
        description="At start: 'upgrade' the schema under a lock, or 'wait' for 'gridwatch db upgrade'.",
    )
    db_schema_wait_s: float = Field(default=300, gt=0, description="How long to wait for the schema.")
    api_id: str = Field(
        default="api",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="Source id of messages the API itself publishes (task offers after a reassignment ...).",
    )
    live_interval_s: float = Field(
        default=0.2,
        gt=0,
        le=5,
        description="How often the live feed reads the change log (pages see a change within about this).",
    )
    api_tokens: str = Field(
        default="",
        description="API tokens besides the site's access.yaml: '<role>:<id>:<sha256>' entries separated by "
        "commas (GRIDWATCH_API_TOKENS). 'gridwatch auth token <role> <id>' prints one.",
    )

    @field_validator("api_tokens")
    @classmethod
    def _tokens_parse(cls, value: str) -> str:
        _, problems = parse_env(value)
        if problems:
            raise ValueError("; ".join(f"{p.where}: {p.message} (fix: {p.hint})" for p in problems))
        return value
