"""Turn MQTT (topic, payload) into validated contract models and back.

Consumers call :func:`decode` and get either a model or a :class:`ContractError`
whose ``reason`` is a short code (a metrics label, a dead-letter column) and
whose ``detail`` tells a person what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic_core
from pydantic import BaseModel, ValidationError
from pydantic_core import SchemaValidator, from_json

from contracts import topics
from contracts.delivery import DeliveryReceipt
from contracts.devices import ConfigPush, DeviceStatus, EdgeHealth, NodeStatus, SensorReading
from contracts.envelope import (
    NO_NUL,
    SUPPORTED_SCHEMA_VERSIONS,
    WIRE_REQUIRED,
    Envelope,
    _canonical_uuid,
    _not_a_number,
)
from contracts.hazards import EvidenceSnapshot, HazardEvent
from contracts.tasks import CaseNotice, LocationFix, TaskOffer, TaskUpdate
from contracts.topics import Channel, Role

# Evidence JPEGs are ≤ 200 kB, ≈ 270 kB in base64; anything much bigger is not ours.
MAX_PAYLOAD_BYTES = 300_000

Message = (
    HazardEvent
    | EvidenceSnapshot
    | SensorReading
    | DeviceStatus
    | NodeStatus
    | EdgeHealth
    | ConfigPush
    | TaskOffer
    | TaskUpdate
    | LocationFix
    | CaseNotice
    | DeliveryReceipt
)

ALL_MESSAGES: tuple[type[Envelope], ...] = (
    HazardEvent,
    EvidenceSnapshot,
    SensorReading,
    DeviceStatus,
    NodeStatus,
    EdgeHealth,
    ConfigPush,
    TaskOffer,
    TaskUpdate,
    LocationFix,
    CaseNotice,
    DeliveryReceipt,
)

# (role, channel) -> the message kinds that may appear there.
CHANNEL_MESSAGES: dict[tuple[Role, Channel], tuple[type[Envelope], ...]] = {
    (Role.NODE, Channel.STATUS): (NodeStatus,),
    (Role.NODE, Channel.HEALTH): (EdgeHealth,),
    (Role.NODE, Channel.EVENT): (HazardEvent,),
    (Role.NODE, Channel.EVIDENCE): (EvidenceSnapshot,),
    (Role.NODE, Channel.READING): (SensorReading,),
    (Role.NODE, Channel.DEVICE): (DeviceStatus,),
    (Role.NODE, Channel.CONFIG): (ConfigPush,),
    (Role.NODE, Channel.RECEIPT): (DeliveryReceipt,),
    (Role.DEVICE, Channel.STATUS): (DeviceStatus,),
    (Role.DEVICE, Channel.EVENT): (HazardEvent,),
    (Role.DEVICE, Channel.EVIDENCE): (EvidenceSnapshot,),
    (Role.DEVICE, Channel.READING): (SensorReading,),
    (Role.DEVICE, Channel.RECEIPT): (DeliveryReceipt,),
    (Role.WORKER, Channel.TASK): (TaskOffer, TaskUpdate, CaseNotice),  # notice: escalated to a leader
    (Role.WORKER, Channel.TASK_UPDATE): (TaskUpdate,),
    (Role.WORKER, Channel.LOCATION): (LocationFix,),
    (Role.CENTRE, Channel.NOTICE): (CaseNotice,),
}
_KIND_FIELD = "kind"


class ContractError(ValueError):
    """A payload that does not meet the contract."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def kind_of(model: type[Envelope]) -> str:
    return model.model_fields[_KIND_FIELD].default


# Per channel, computed once: the kinds it carries, and the model when it carries only one.
_KINDS: dict[tuple[Role, Channel], dict[str, type[Envelope]]] = {
    channel: {kind_of(m): m for m in models} for channel, models in CHANNEL_MESSAGES.items()
}
_ONLY_MODEL: dict[tuple[Role, Channel], type[Envelope]] = {
    channel: models[0] for channel, models in CHANNEL_MESSAGES.items() if len(models) == 1
}
_WIRE_REQUIRED = frozenset(WIRE_REQUIRED)


# -- the fast path's validators ---------------------------------------------------------------------
# Three of the envelope's four Python validators only *refuse* the common message (they hand a
# canonical id, a timestamp string and a supported version back unchanged), yet each is a call from
# pydantic-core into Python for every message (issue 19). The fast path validates with a copy of the
# model's core schema in which each is a check pydantic-core makes itself, accepting a part of what
# the validator accepts: a canonical UUID's pattern, a strict datetime (from JSON: a string, never a
# number), an integer among the supported versions. What the copy refuses goes the careful way,
# which gives the model's own answer and error; what it accepts the model accepts with the same
# values (an instance of the model's class, every other part of the schema the model's).
_CANONICAL_UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_KNOWN_VERSION = Envelope._known_version.__func__  # type: ignore[attr-defined]


def _lean(node: Any) -> Any:
    """A copy of a core schema with the validators above replaced (nothing else changed)."""
    if isinstance(node, list):
        return [_lean(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _lean(v) for k, v in node.items()}
    kind, inner = node.get("type"), node.get("schema")
    fn = node.get("function", {}).get("function") if kind in ("function-after", "function-before") else None
    if fn is None or not isinstance(inner, dict):
        return node
    if kind == "function-after" and fn is _canonical_uuid and inner == {"type": "str"}:
        return {"type": "str", "pattern": _CANONICAL_UUID_PATTERN}
    if kind == "function-before" and fn is _not_a_number and inner.get("type") == "datetime":
        return {**inner, "strict": True}  # from JSON a string only, parsed as the lax datetime parses it
    versions = sorted(SUPPORTED_SCHEMA_VERSIONS)
    if (
        kind == "function-after"
        and getattr(fn, "__func__", None) is _KNOWN_VERSION
        and inner.get("type") == "int"
        and inner.get("strict") is True
        and versions == list(range(versions[0], versions[-1] + 1))
    ):
        return {**inner, "ge": versions[0], "le": versions[-1]}
    return node


# The copy relies on pydantic-core internals: the shape of a core schema (its "function-after" /
# "function-before" nodes) and when it reuses a model class's prebuilt validator (below). Only the
# pydantic-core versions it was checked against get the copy; any other validates with the model's
# own validator (correct, a few microseconds slower). To admit a new version, run
# tests/contracts/test_codec_fast_path.py against it, then add its major.minor here.
LEAN_TESTED_PYDANTIC_CORE = ("2.50",)
LEAN = ".".join(pydantic_core.__version__.split(".")[:2]) in LEAN_TESTED_PYDANTIC_CORE


def _fast_validate(model: type[Envelope]) -> Callable[[bytes], Envelope]:
    """``validate_json`` of the lean copy of ``model``'s schema (the model's own when unchanged,
    on a pydantic-core the copy was not checked against, or when the copy cannot be built)."""
    own: Callable[[bytes], Envelope] = model.__pydantic_validator__.validate_json  # type: ignore[assignment]
    schema = model.__pydantic_core_schema__
    lean = _lean(schema) if LEAN else schema
    if lean == schema:
        return own
    # pydantic-core reuses a complete model class's own validator for a model schema of that class
    # (its "prebuilt" validators), which would ignore the copy: while the copy's validator is built,
    # the class says it is not complete. Nested models keep their own validators.
    complete = model.__dict__.get("__pydantic_complete__", True)
    try:
        type.__setattr__(model, "__pydantic_complete__", False)
        validator = SchemaValidator(lean, lean.get("config"))
    except Exception:  # an internal that moved: the model's own validator is always right
        return own
    finally:
        type.__setattr__(model, "__pydantic_complete__", complete)
    return validator.validate_json  # type: ignore[no-any-return]


_FAST: dict[type[Envelope], Callable[[bytes], Envelope]] = {
    m: _fast_validate(m) for m in set(_ONLY_MODEL.values())
}


def describe_validation_error(exc: ValidationError, limit: int = 6) -> str:
    """'severity: Input should be ...; location.lat: ...' — short and readable."""
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "(message)"
        msg = err["msg"].removeprefix("Value error, ")
        given = err.get("input")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == NO_NUL:
            msg, given = "must not contain NUL (\\u0000) characters", None
        elif isinstance(given, str | int | float | bool) and len(repr(given)) <= 40:
            msg = f"{msg} (got {given!r})"
        parts.append(f"{loc}: {msg}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _addressed(topic: str, payload: bytes | str) -> tuple[topics.Topic, bytes]:
    """The checks both decode paths start with: payload size, then the topic."""
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ContractError("too_large", f"{len(raw)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    try:
        address = topics.parse(topic)
    except topics.TopicError as exc:
        raise ContractError("bad_topic", str(exc)) from None
    return address, raw


def decode(topic: str, payload: bytes | str) -> Message:
    """Validate one MQTT message against the topic scheme and the contracts.

    Fast path: on a channel that carries one kind of message, pydantic parses and validates the
    JSON in one pass (``model_validate_json``, no intermediate dict). It answers only when the
    message is valid and carries every wire-required envelope field; anything else goes the
    careful way (:func:`decode_checked`), which says exactly what is wrong. Both accept the same
    messages and build equal models (tests/contracts/test_codec_fast_path.py).
    """
    address, raw = _addressed(topic, payload)
    model = _ONLY_MODEL.get((address.role, address.channel))
    if model is not None:
        try:
            message = _FAST[model](raw)
        except Exception:  # invalid (or a validator bug): the careful path says what and why
            pass
        else:
            if message.model_fields_set >= _WIRE_REQUIRED:
                _check_ownership(address, message)
                return message  # type: ignore[return-value]
    return _decode_checked(address, raw)


def decode_checked(topic: str, payload: bytes | str) -> Message:
    """:func:`decode` without the fast path: parse the JSON, check the envelope, then validate."""
    address, raw = _addressed(topic, payload)
    return _decode_checked(address, raw)


def _decode_checked(address: topics.Topic, raw: bytes) -> Message:
    try:
        # The fast path's parser (jiter), so both paths agree on what is JSON: it refuses what
        # json.loads lets through (lone surrogates, CESU-8 bytes) and stops at 200 levels of nesting.
        data: Any = from_json(raw)
    except ValueError as exc:
        raise ContractError("bad_json", f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ContractError("bad_json", f"expected a JSON object, got {type(data).__name__}")

    missing = [k for k in WIRE_REQUIRED if k not in data]
    if missing:
        raise ContractError(
            "invalid",
            "; ".join(f"{k}: Field required (every message carries the envelope)" for k in missing),
        )
    version = data["schema_version"]
    # A number we do not read is another version; anything else (true, "1", [1]) is invalid.
    if type(version) is int and version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ContractError(
            "unsupported_version",
            f"schema_version {version!r}; this build reads {sorted(SUPPORTED_SCHEMA_VERSIONS)}",
        )

    by_kind = _KINDS.get((address.role, address.channel), {})
    kind = data.get(_KIND_FIELD)
    model = by_kind.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ContractError(
            "wrong_kind",
            f"kind {_short(kind)} cannot be sent on {address.role.value}/{address.channel.value}; "
            f"expected {' or '.join(repr(k) for k in by_kind)}",
        )
    try:
        message = model.model_validate(data)
    except ValidationError as exc:
        raise ContractError("invalid", f"{kind}: {describe_validation_error(exc)}") from None
    _check_ownership(address, message)
    return message  # type: ignore[return-value]


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Enum members bound once: on Python 3.11 reading ``Channel.X`` costs ~0.2 µs and a membership test
# in a tuple of members ~0.9 µs; this check runs for every message the gateway takes.
_DOWNLINK = frozenset({Channel.CONFIG, Channel.TASK, Channel.NOTICE, Channel.RECEIPT})
_RECEIPT, _DEVICE_CHANNEL = Channel.RECEIPT, Channel.DEVICE
_WORKER, _DEVICE = Role.WORKER, Role.DEVICE


def _check_ownership(address: topics.Topic, message: Envelope) -> None:
    """The id in the topic is what the ACL checked; the payload must agree with it."""
    channel, role, owner = address.channel, address.role, address.owner
    if channel not in _DOWNLINK and message.source != owner:
        raise ContractError(
            "source_mismatch",
            f"envelope source {message.source!r} differs from the topic's id {owner!r}",
        )
    if channel is _RECEIPT and message.stream != owner:  # type: ignore[attr-defined]
        raise ContractError(
            "source_mismatch",
            f"receipt for {message.stream!r} sent on {owner!r}'s topic",  # type: ignore[attr-defined]
        )
    fields = message.__dict__  # the model's field values; getattr on a missing field is slow in pydantic
    worker_id = fields.get("worker_id")
    if role is _WORKER and worker_id != owner:
        raise ContractError("source_mismatch", f"worker_id {worker_id!r} differs from the topic's {owner!r}")
    if channel is _DEVICE_CHANNEL and fields.get("device_id") != address.device:
        raise ContractError(
            "source_mismatch",
            f"device_id {fields.get('device_id')!r} differs from the topic's {address.device!r}",
        )
    if role is _DEVICE and fields.get("device_id", owner) != owner:
        raise ContractError(
            "source_mismatch",
            f"device_id {message.device_id!r} differs from the topic's {owner!r}",  # type: ignore[attr-defined]
        )


def encode(message: BaseModel) -> bytes:
    """Compact JSON bytes for the wire."""
    return message.model_dump_json(exclude_none=True).encode()
