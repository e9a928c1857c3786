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

    jwt_keys: str = Field(
        default="",
        repr=False,
        description="Signing keys of access tokens, '<kid>:<secret>' separated by newlines or commas; the "
        "first signs (GRIDWATCH_JWT_KEYS). 'gridwatch users jwt-key' prints one.",
    )
    jwt_key_file: Path | None = Field(
        default=None,
        description="A file with the signing keys, one '<kid>:<secret>' a line (GRIDWATCH_JWT_KEY_FILE).",
    )
    access_ttl_s: int = Field(default=300, ge=30, le=3600, description="Lifetime of an access token.")
    session_ttl_s: int = Field(
        default=14 * 86400, ge=300, le=90 * 86400, description="Lifetime of a sign-in (its refresh cookie)."
    )
    access_check_s: float = Field(
        default=5,
        ge=0,
        le=30,
        description="How often each API process looks for disabled people, revoked tokens, ended sessions.",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, le=64 * 1_048_576, description="Larger request bodies are refused (413)."
    )
    dynsec_host: str | None = Field(
        default=None,
        description="The site broker whose dynamic-security plugin gives devices their logins "
        "(docs/broker-access.md); unset: installers get no credentials from the API.",
    )
    dynsec_port: int = Field(default=1883, ge=1, le=65535)
    dynsec_username: str = Field(default="admin", description="The login that may use $CONTROL.")
    dynsec_password: str = Field(default="", description="Its password (from credentials.json).")
    max_photo_bytes: int = Field(
        default=16 * 1_048_576,
        ge=1024,
        le=64 * 1_048_576,
        description="A photo upload's largest body (413 above): what a phone camera makes, with room.",
    )
    max_photo_pixels: int = Field(
        default=50_000_000,
        ge=100_000,
        le=150_000_000,
        description="A photo claiming more pixels is refused before it is decoded (decompression bombs).",
    )
    resident_pow_bits: int = Field(
        default=18,
        ge=1,
        le=32,
        description="Proof of work a resident's report carries (leading zero bits of its SHA-256): 18 is "
        "about 260 000 hashes, a third of a second on a desktop, one to two on a phone (docs/residents.md).",
    )
    resident_reports_per_address: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Residents' reports one address may send per window (429 above).",
    )
    resident_window_s: float = Field(
        default=3600, gt=0, le=7 * 86400, description="The window of the per-address limit."
    )
    resident_max_body_bytes: int = Field(
        default=6 * 1_048_576,
        ge=4096,
        le=32 * 1_048_576,
        description="A resident's report with its photo (base64) as one body: larger is refused (413).",
    )
    phone_session_ttl_s: int = Field(
        default=90 * 86400,
        ge=300,
        le=365 * 86400,
        description="Lifetime of a sign-in from a grid worker's or installer's phone (sign-in with "
        "'phone': true); other sign-ins last session_ttl_s.",
    )
    receipt_days: float = Field(
        default=30,
        gt=0,
        le=365,
        description="How long the answer to a request with an Idempotency-Key is kept (a phone offline "
        "longer than this that sends the same step again gets it applied as new, or refused by its state).",
    )
    cookie_secure: bool | None = Field(
        default=None, description="Mark cookies Secure; default: when the request came over https."
    )
    password_time_cost: int = Field(default=2, ge=1, le=20, description="argon2id passes per password check.")
    password_memory_kib: int = Field(
        default=65536, ge=8, le=1_048_576, description="argon2id memory per password check (KiB)."
    )

    @field_validator("api_tokens")
    @classmethod
    def _tokens_parse(cls, value: str) -> str:
        _, problems = parse_env(value)
        if problems:
            raise ValueError("; ".join(f"{p.where}: {p.message} (fix: {p.hint})" for p in problems))
        return value
