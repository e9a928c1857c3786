"""The envelope every GridWatch MQTT message carries.

- ``id``: made at the source (UUIDv7); the idempotency key end to end.
- ``source``: the publishing node, device or worker; must equal the id in the topic.
- ``seq``: per-source sequence number, so the gateway can see gaps.
- ``ts``: when the source made the message, RFC 3339 in UTC.
- ``schema_version``: bumped on any incompatible change; consumers refuse unknown versions.
- ``kind``: which message this is (each message class fixes it).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    AllowInfNan,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    field_validator,
)

from contracts.ids import new_id

SCHEMA_VERSION = 1
# On the wire these must be present: defaults exist only for building messages in code.
WIRE_REQUIRED = ("id", "source", "seq", "ts", "schema_version", "kind")
SUPPORTED_SCHEMA_VERSIONS = frozenset({1})
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Ids appear inside MQTT topics and broker ACLs, so they must not contain '/', '+',
# '#' or '$', and are lower-case so that an ACL cannot be dodged by changing case.
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Identifier = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN),
    Field(description="Lower-case id: letters, digits, '-' and '_', at most 64 characters."),
]


# What the wire carries is what the JSON says: 7 is not "7", 7.0 or true. Integers are bounded by
# what the stores hold (BIGINT), so a valid message can never fail its INSERT. Aliases set only
# the bounds a field does not set itself (pydantic lets a field's own ge/le replace an alias's).
INT64_MAX = 2**63 - 1
StrictInt = Annotated[int, Strict()]
Count = Annotated[int, Strict(), Ge(0), Le(INT64_MAX)]
StrictFloat = Annotated[float, Strict(), AllowInfNan(False)]  # an int is still a valid float
StrictBool = Annotated[bool, Strict()]
# PostgreSQL text cannot hold NUL; refused here so that no valid message fails its INSERT.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(pattern=NO_NUL)]

# Timestamps a source can mean: a clock reset to 1970 or set to 9999 is refused, not stored.
# (How far ahead of the gateway's own clock a message may be is the gateway's setting.)
TS_MIN = datetime(2000, 1, 1, tzinfo=UTC)
TS_MAX = datetime(2100, 1, 1, tzinfo=UTC)


def _to_utc(value: datetime) -> datetime:
    # Checked before converting: astimezone() overflows for year 1 with a positive offset.
    # An offset moves a time by less than a day, so only the years at the bounds need the exact
    # comparison (comparing with pydantic's tzinfo costs ~2 µs: this runs for every message).
    if not TS_MIN.year < value.year < TS_MAX.year - 1 and not TS_MIN <= value < TS_MAX:
        raise ValueError(
            f"timestamp out of range ({TS_MIN.year}..{TS_MAX.year - 1}); is the source's clock set?"
        )
    # Millisecond precision is what the wire carries; truncating here keeps
    # decode(encode(m)) == m.
    value = value.astimezone(UTC)
    extra = value.microsecond % 1000
    return value.replace(microsecond=value.microsecond - extra) if extra else value


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _not_a_number(value: object) -> object:
    # pydantic would read 1732200000 as a Unix time; the wire carries RFC 3339 only.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("timestamps are RFC 3339 strings such as '2026-11-21T15:12:30.000Z', not numbers")
    return value


UtcDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_not_a_number),
    AfterValidator(_to_utc),
    PlainSerializer(_rfc3339, return_type=str, when_used="json"),
    Field(description="RFC 3339 timestamp with an offset; stored and sent as UTC ('Z')."),
]


def _canonical_uuid(value: str) -> str:
    if _CANONICAL_UUID.fullmatch(value):
        return value  # already what str(uuid.UUID(value)) gives (the usual case; ~10x cheaper)
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID string (UUIDv7 recommended)") from None


MessageId = Annotated[
    str,
    AfterValidator(_canonical_uuid),
    Field(description="A message id made at its source (UUIDv7), in canonical form."),
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Model(BaseModel):
    """Base for every contract model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Envelope(Model):
    """Fields common to every message. Subclasses fix ``kind``."""

    KIND: ClassVar[str] = ""

    id: MessageId = Field(
        default_factory=new_id,
        description="Unique message id made at the source (UUIDv7); the idempotency key.",
    )
    source: Identifier = Field(description="Id of the node, device or worker that published.")
    seq: Count = Field(description="Per-source sequence number; gaps mean lost messages.")
    ts: UtcDatetime = Field(default_factory=utcnow, description="When the source made it.")
    schema_version: StrictInt = Field(
        default=SCHEMA_VERSION, description="Contract version; consumers refuse unknown ones."
    )

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value not in SUPPORTED_SCHEMA_VERSIONS:
            supported = ", ".join(str(v) for v in sorted(SUPPORTED_SCHEMA_VERSIONS))
            raise ValueError(f"unsupported schema_version {value}; this build reads {supported}")
        return value
