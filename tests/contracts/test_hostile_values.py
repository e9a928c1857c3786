"""Hostile values against the decoder: each is refused with a reason a person can act on, never a
traceback, and what is accepted is something the stores can hold.

The named cases are the ones an attacker found (issue 11); the property tests let hypothesis look
for more: any value in any field of any message kind, and any bytes at all.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import ContractError, Envelope, decode, encode, topics
from contracts.codec import decode_checked
from contracts.envelope import INT64_MAX, TS_MAX, TS_MIN
from contracts.examples import examples
from tests.support.wire import topic_for

# Every reason the decoder gives; a new one must be added here on purpose.
REASONS = {
    "too_large",
    "bad_topic",
    "bad_json",
    "invalid",
    "unsupported_version",
    "wrong_kind",
    "source_mismatch",
}
EXAMPLES = examples()
EVENT = EXAMPLES["hazard_event"]
EVENT_TOPIC = topics.node_event(EVENT.source)


def event_with(**changes: object) -> bytes:
    return json.dumps({**json.loads(encode(EVENT)), **changes}).encode()


def refusal(topic: str, payload: bytes) -> ContractError:
    with pytest.raises(ContractError) as err:
        decode(topic, payload)
    return err.value


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("seq", 2**63, "less than or equal to 9223372036854775807"),
        ("seq", True, "valid integer (got True)"),
        ("seq", "7", "valid integer (got '7')"),
        ("seq", 7.0, "valid integer (got 7.0)"),
        ("schema_version", True, "valid integer (got True)"),
        ("schema_version", "1", "valid integer (got '1')"),
        ("schema_version", [1], "schema_version: Input should be a valid integer"),
        ("confidence", "0.5", "valid number (got '0.5')"),
        ("ts", "0001-01-01T00:00:00+01:00", "out of range"),
        ("ts", "9999-12-31T23:59:59Z", "out of range"),
        ("ts", "1970-01-01T00:00:00Z", "is the source's clock set?"),
        ("started_at", "9999-12-31T23:59:59-01:00", "started_at: timestamp out of range"),
        ("summary", "smoke\x00", "summary: must not contain NUL"),
        ("location", {"lon": "120.28", "lat": 31.49}, "location.lon: Input should be a valid number"),
        ("readings", [{"quantity": "gas", "value": 1e400}], "readings.0.value"),
    ],
)
def test_coerced_or_out_of_range_values_are_invalid_with_the_reason(
    field: str, value: object, words: str
) -> None:
    error = refusal(EVENT_TOPIC, event_with(**{field: value}))
    assert error.reason == "invalid"
    assert words in error.detail and field in error.detail


def test_what_the_wire_carries_exactly_is_accepted() -> None:
    """The strictness refuses coercion, not valid JSON: an integer is a valid float, the largest
    sequence number a store holds is a valid one, and any offset is a valid timestamp."""
    message = decode(
        EVENT_TOPIC,
        event_with(confidence=1, seq=INT64_MAX, ts="2026-11-21T23:30:00.000-08:00"),
    )
    assert message.confidence == 1.0 and message.seq == INT64_MAX  # type: ignore[union-attr]
    assert message.ts == datetime(2026, 11, 22, 7, 30, tzinfo=UTC)


def test_a_newer_schema_version_is_unsupported_not_invalid() -> None:
    assert refusal(EVENT_TOPIC, event_with(schema_version=2)).reason == "unsupported_version"


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe garbage",
        b'{"summary": "\xed\xa0\x80"}',  # a surrogate in CESU-8: not UTF-8
        b"[" * 100_000,
        b"NaN",
        b"",
    ],
)
def test_only_bytes_that_are_not_json_are_bad_json(payload: bytes) -> None:
    assert refusal(EVENT_TOPIC, payload).reason == "bad_json"


def test_an_evidence_snapshot_names_its_event_by_the_events_id() -> None:
    """The event id it names is stored in a 36-character column: anything but a UUID is invalid."""
    snap = json.loads(encode(EXAMPLES["evidence"]))
    error = refusal(topics.node_evidence(snap["source"]), json.dumps({**snap, "event_id": "x" * 64}).encode())
    assert error.reason == "invalid" and "event_id: must be a UUID" in error.detail


# ------------------------------------------------------------------ property tests
HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**63 - 1, 2**63, -(2**63) - 1, 0, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=80),
    st.sampled_from(
        [
            "\x00",
            "\ud800",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-14:00",
            "2026-11-21T15:12:30Z",
            "1e400",
            "NaN",
            "true",
            "7",
            "a" * 300,
        ]
    ),
)
HOSTILE_VALUES = st.recursive(
    HOSTILE_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a JSON document (objects and arrays)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _replace(doc: Any, path: tuple[Any, ...], value: object) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _replace(doc[head], rest, value)}
    copy = list(doc)
    copy[head] = _replace(doc[head], rest, value)
    return copy


def _answer(topic: str, payload: bytes) -> Envelope | str:
    """The decoder's answer: a message or a reason. Anything else it raises fails the test."""
    try:
        message = decode(topic, payload)
    except ContractError as exc:
        assert exc.reason in REASONS, exc.reason
        assert exc.detail
        return exc.reason
    return message  # type: ignore[return-value]


def _storable(message: Envelope) -> None:
    """What a store would refuse never comes out of the decoder."""

    def walk(value: Any) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int):
            assert -(2**63) <= value <= INT64_MAX
        elif isinstance(value, float):
            assert value == value and abs(value) != float("inf")
        elif isinstance(value, str):
            assert "\x00" not in value
            value.encode("utf-8")  # no lone surrogates
        elif isinstance(value, datetime):
            assert TS_MIN <= value < TS_MAX and value.tzinfo is not None
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        elif hasattr(value, "__dict__"):
            # A config push carries the node's YAML as a free mapping that the node's own loader
            # checks; the gateway sends it and never stores what it holds.
            walk({k: v for k, v in value.__dict__.items() if k != "node_config"})

    walk(message)


KINDS = sorted(EXAMPLES)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), data=st.data(), value=HOSTILE_VALUES)
def test_any_value_in_any_field_gets_a_message_or_a_reason(
    kind: str, data: st.DataObject, value: object
) -> None:
    message = EXAMPLES[kind]
    topic = topic_for(message)
    doc = json.loads(encode(message))
    path = data.draw(st.sampled_from(_paths(doc)), label="path")
    payload = json.dumps(_replace(doc, path, value)).encode()  # may carry NaN/Infinity: not JSON
    answer = _answer(topic, payload)
    careful: Envelope | str
    try:
        careful = decode_checked(topic, payload)
    except ContractError as exc:
        careful = exc.reason
    assert answer == careful  # the fast path never accepts what the careful one refuses
    if not isinstance(answer, str):
        _storable(answer)
        assert decode(topic, encode(answer)) == answer


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    cut=st.integers(min_value=0, max_value=400),
    noise=st.binary(max_size=40),
)
def test_any_bytes_get_a_message_or_a_reason(kind: str, cut: int, noise: bytes) -> None:
    message = EXAMPLES[kind]
    good = encode(message)
    for payload in (good[:cut] + noise, noise, noise + good[cut:]):
        _answer(topic_for(message), payload)
