"""Settings of one edge node process, from arguments or the environment (``GRIDWATCH_EDGE_*``).

What a node watches (cameras, sensors) comes from its site file
(``nodes/<node id>.yaml``); this is how the process runs: where it keeps its
state, which brokers it talks to, how its outbox behaves.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.retention import Limit
from contracts.tls import MqttTls


class BrokerSettings(MqttTls):
    """A broker the node talks to; TLS fields (tls_ca, tls_cert, tls_key): contracts.tls."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="Broker address.")
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = Field(default=None, description="Usually the node id (broker ACLs use it).")
    password: str | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)


class OutboxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    capacity: int = Field(
        default=100_000,
        ge=10,
        description="Messages kept while the uplink is down; past it telemetry is evicted first, "
        "hazard events never.",
    )
    warn_fill: float = Field(default=0.8, gt=0, le=1, description="Health warns above this share.")
    window: int = Field(
        default=500, ge=1, le=10_000, description="Messages in flight awaiting the broker's PUBACK."
    )
    publish_rate: float = Field(
        default=1000,
        ge=0,
        description="Most messages per second sent to the broker (bounds the replay after an "
        "outage); 0 = unlimited.",
    )
    fsync_events: bool = Field(
        default=True, description="fsync each hazard event so it also survives a power cut."
    )
    flush_on_stop_s: float = Field(
        default=3, ge=0, description="On shutdown, keep sending this long to empty the outbox."
    )
    receipts: bool = Field(
        default=True,
        description="Keep events, statuses and evidence until a gateway's receipt says it committed them "
        "(a PUBACK is one hop: the broker has them, not the gateway). Off: they leave on the PUBACK.",
    )
    receipt_timeout_s: float = Field(
        default=10,
        gt=0,
        description="Sent again when no receipt covers it this long after the broker's PUBACK (doubling "
        "while none comes, up to resend_max_s).",
    )
    resend_max_s: float = Field(default=60, gt=0, description="Longest wait before sending again.")
    awaiting_max: int = Field(
        default=10_000,
        ge=1,
        description="Most messages sent and waiting for a receipt; past it nothing new is sent until "
        "receipts come (a gateway that is away is not flooded).",
    )


class EdgeRetentionSettings(BaseModel):
    """How long a node keeps evidence it could not send yet, and messages the broker refused
    (``GRIDWATCH_EDGE_RETENTION__*``). Hazard events are never dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    evidence_days: Limit = Field(
        default=7, description="Unsent snapshots older than this go (the uplink was down that long)."
    )
    evidence_quota_mb: Limit = Field(
        default=512, description="Most megabytes of unsent snapshots kept; the oldest go first."
    )
    refused_days: Limit = Field(
        default=30, description="Messages the broker refused for good are kept this long."
    )
    refused_quota_mb: Limit = Field(default=64, description="Most megabytes of them kept.")
    interval_s: float = Field(default=3600, gt=0, description="How often the node sweeps.")


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_EDGE_", env_nested_delimiter="__", extra="forbid")

    state_dir: Path = Field(
        default=Path("var/edge"), description="Where the outbox lives (one directory per node)."
    )
    uplink: BrokerSettings = Field(
        default_factory=BrokerSettings, description="The broker the gateway reads (events go here)."
    )
    sensor_broker: BrokerSettings | None = Field(
        default=None,
        description="Broker of zigbee2mqtt and GridWatch-speaking sensors; default: the uplink broker.",
    )
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    retention: EdgeRetentionSettings = Field(default_factory=EdgeRetentionSettings)
    health_interval_s: float = Field(default=60, gt=0, description="Period of the EdgeHealth message.")
    metrics_port: int | None = Field(default=None, description="Serve Prometheus /metrics on this port.")

    def outbox_path(self, node_id: str) -> Path:
        return self.state_dir / node_id / "outbox.sqlite3"

    @property
    def sensors_broker(self) -> BrokerSettings:
        return self.sensor_broker or self.uplink
