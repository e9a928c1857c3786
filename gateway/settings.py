"""Gateway settings from the environment (``GRIDWATCH_*``) or arguments."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.tls import MqttTls
from gateway.retention.settings import RetentionSettings
from gateway.telemetry_influx import InfluxSettings


class SchemaMode(StrEnum):
    """What a service does with the store's schema at start (gateway.schema.migrate)."""

    UPGRADE = "upgrade"  # migrate under the lock at start (the embedded default)
    WAIT = "wait"  # wait for `gridwatch db upgrade` (Compose, systemd)


class MqttSettings(BaseSettings, MqttTls):
    """The broker; TLS from GRIDWATCH_MQTT_TLS_CA / _TLS_CERT / _TLS_KEY (contracts.tls)."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_MQTT_", extra="forbid")

    host: str = Field(default="127.0.0.1", description="Broker address.")
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    keepalive_s: int = Field(default=30, ge=5)


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="ignore")

    gateway_id: str = Field(
        default="gateway-1",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="This gateway's id: MQTT client id and message source.",
    )
    site_dir: Path = Field(
        default=Path("device_configs/demo_site"), description="Site configuration directory."
    )
    database_url: str = Field(
        default="sqlite:///gridwatch.db",
        description="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://user@host/db.",
    )
    db_schema: SchemaMode = Field(
        default=SchemaMode.UPGRADE,
        description="At start: 'upgrade' the schema (under a lock; safe with several processes) or "
        "'wait' for 'gridwatch db upgrade' to have run (Compose, systemd).",
    )
    db_schema_wait_s: float = Field(
        default=300, gt=0, description="How long to wait for the schema (or the migration lock)."
    )
    share_group: str | None = Field(
        default="gateways",
        description="MQTT 5 shared-subscription group; gateways in one group split the stream.",
    )
    batch_max: int = Field(
        default=200, ge=1, le=10_000, description="Most messages committed in one transaction."
    )
    batch_wait_s: float = Field(
        default=0.005,
        ge=0,
        le=1,
        description="How long a batch waits to fill before it commits. Under load batches fill from the "
        "backlog anyway; a longer wait only adds latency (20 ms took p50 at 500 events/s from 10 to 37 ms).",
    )
    session_expiry_s: int = Field(
        default=7 * 24 * 3600, ge=0, description="Broker keeps our queued messages this long offline."
    )
    metrics_port: int | None = Field(default=None, description="Prometheus /metrics port.")
    timer_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="How often due SLA timers and accept deadlines are checked."
    )
    heartbeat_s: float = Field(
        default=5.0, gt=0, le=60, description="How often this gateway's heartbeat (and gauges) are refreshed."
    )
    sequence_grace_s: float = Field(
        default=60.0, gt=0, description="A sequence gap still open after this long is reported as lost."
    )
    receipt_interval_s: float = Field(
        default=0.05,
        ge=0,
        le=5,
        description="Most one delivery receipt per source this often (receipts are cumulative: a busy "
        "source gets a few a second, each saying everything committed so far).",
    )
    outbound_lease_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="A gateway's claim on a pending outbound message (task offer, notice) lasts this long "
        "and is renewed while the broker has not acknowledged it; a dead gateway's claims are taken over "
        "by another after it.",
    )
    max_clock_skew_s: float = Field(
        default=300,
        ge=0,
        le=86_400,
        description="A message dated further ahead of this gateway's clock is refused (an 'invalid' dead "
        "letter): a source with a wrong clock must not freeze a worker's position or keep a case open.",
    )
    watch_broker_log: bool = Field(
        default=True,
        description="Read the broker's log ($SYS/broker/log/N) for refused logins, so that the "
        "commissioning check can say 'credentials refused' (docs/devices.md).",
    )
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    influx: InfluxSettings = Field(default_factory=InfluxSettings, description="Telemetry store.")
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="How long evidence and dead letters are kept."
    )
