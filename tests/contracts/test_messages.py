"""Every wire message round-trips JSON and refuses bad payloads with a readable error."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contracts import ALL_MESSAGES, ContractError, HazardEvent, TaskUpdate, decode, encode, topics
from contracts.codec import CHANNEL_MESSAGES, kind_of
from contracts.examples import examples
from contracts.ids import uuid7

EXAMPLES = examples()


def topic_for(kind: str, source: str) -> str:
    """A topic on which a message of this kind may be sent by this source."""
    for (role, channel), models in CHANNEL_MESSAGES.items():
        if kind in (kind_of(m) for m in models):
            device = EXAMPLES[kind].device_id if channel is topics.Channel.DEVICE else None  # type: ignore[attr-defined]
            owner = getattr(EXAMPLES[kind], "worker_id", None) if role is topics.Role.WORKER else source
            if role is topics.Role.NODE and kind in ("task_offer", "config_push"):
                owner = EXAMPLES[kind].node_id  # type: ignore[attr-defined]
            if kind == "delivery_receipt":
                owner = EXAMPLES[kind].stream  # type: ignore[attr-defined]
            return topics.build(role, owner or source, channel, device)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_example_round_trips_through_the_wire(kind: str) -> None:
    message = EXAMPLES[kind]
    decoded = decode(topic_for(kind, message.source), encode(message))
    assert decoded == message
    assert type(decoded) is type(message)


def test_every_message_kind_has_an_example() -> None:
    assert sorted(EXAMPLES) == sorted(kind_of(m) for m in ALL_MESSAGES)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_unknown_field_is_refused_and_named(kind: str) -> None:
    data = json.loads(encode(EXAMPLES[kind]))
    data["colour"] = "red"
    with pytest.raises(ContractError) as err:
        decode(topic_for(kind, data["source"]), json.dumps(data))
    assert err.value.reason == "invalid"
    assert "colour: unknown field" in err.value.detail


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_missing_required_field_is_named(kind: str) -> None:
    data = json.loads(encode(EXAMPLES[kind]))
    del data["seq"]
    with pytest.raises(ContractError) as err:
        decode(topic_for(kind, data["source"]), json.dumps(data))
    assert "seq: Field required" in err.value.detail


@pytest.mark.parametrize(
    ("change", "reason", "words"),
    [
        ({"severity": "huge"}, "invalid", "severity: Input should be 'info', 'minor', 'major' or 'critical'"),
        ({"confidence": 1.5}, "invalid", "confidence: Input should be less than or equal to 1"),
        ({"ts": "2026-11-21T23:00:00"}, "invalid", "ts: Input should have timezone info"),
        ({"id": "not-a-uuid"}, "invalid", "id: must be a UUID string"),
        ({"schema_version": 2}, "unsupported_version", "schema_version 2; this build reads [1]"),
        ({"kind": "sensor_reading"}, "wrong_kind", "kind 'sensor_reading' cannot be sent on node/event"),
        ({"source": "node-other"}, "source_mismatch", "envelope source 'node-other' differs"),
        ({"device_id": "CAM A"}, "invalid", "device_id: String should match pattern"),
        (
            {"location": {"lon": 200, "lat": 31}},
            "invalid",
            "location.lon: Input should be less than or equal",
        ),
    ],
)
def test_bad_hazard_event_gives_a_readable_reason(change: dict, reason: str, words: str) -> None:
    data = json.loads(encode(EXAMPLES["hazard_event"]))
    data.update(change)
    with pytest.raises(ContractError) as err:
        decode(topics.node_event("node-gongye-1"), json.dumps(data))
    assert err.value.reason == reason
    assert words in err.value.detail, err.value.detail


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[1, 2]", "bad_json"),
        (b"", "bad_json"),
        (b"x" * 300_001, "too_large"),
    ],
)
def test_payloads_that_are_not_messages(payload: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as err:
        decode(topics.node_event("node-a"), payload)
    assert err.value.reason == reason


def test_timestamps_are_normalised_to_utc_milliseconds() -> None:
    data = json.loads(encode(EXAMPLES["hazard_event"]))
    data["ts"] = "2026-11-21T23:12:30.123456+08:00"
    event = decode(topics.node_event("node-gongye-1"), json.dumps(data))
    assert event.ts == datetime(2026, 11, 21, 15, 12, 30, 123000, tzinfo=UTC)
    assert b'"ts":"2026-11-21T15:12:30.123Z"' in encode(event)


def test_resolve_needs_a_result() -> None:
    with pytest.raises(ValueError, match="needs a result"):
        TaskUpdate(source="w-a", seq=1, task_id="t", worker_id="w-a", action="resolve")


def test_worker_cannot_speak_for_another_worker() -> None:
    update = TaskUpdate(source="w-a", seq=1, task_id="t", worker_id="w-b", action="accept")
    with pytest.raises(ContractError) as err:
        decode(topics.worker_task_update("w-a"), encode(update))
    assert err.value.reason == "source_mismatch"


def test_ids_are_uuid7_and_increase() -> None:
    ids = [uuid7() for _ in range(10_000)]
    assert all(u.version == 7 for u in ids)
    assert ids == sorted(ids, key=lambda u: u.int)
    assert len(set(ids)) == len(ids)


def test_default_envelope_fields() -> None:
    event = HazardEvent(
        source="node-a",
        seq=0,
        hazard_type="gas_leak",
        severity="major",
        confidence=0.5,
        state="new",
        episode_id="e",
        device_id="gas-1",
    )
    assert event.schema_version == 1
    assert event.ts.tzinfo is UTC
    assert uuid7().version == 7


@pytest.mark.parametrize("key", ["id", "ts", "schema_version", "kind"])
def test_envelope_fields_have_no_defaults_on_the_wire(key: str) -> None:
    """A message without its source-made id would get a fresh one on every redelivery."""
    data = json.loads(encode(EXAMPLES["hazard_event"]))
    del data[key]
    with pytest.raises(ContractError) as err:
        decode(topics.node_event("node-gongye-1"), json.dumps(data))
    assert f"{key}: Field required" in err.value.detail


def test_numeric_timestamps_are_refused() -> None:
    data = json.loads(encode(EXAMPLES["hazard_event"]))
    data["ts"] = 1763737950
    with pytest.raises(ContractError) as err:
        decode(topics.node_event("node-gongye-1"), json.dumps(data))
    assert "RFC 3339" in err.value.detail
