"""decode()'s JSON fast path accepts exactly what the careful path accepts, with equal models,
and refuses exactly what it refuses, with the same reason and detail."""

from __future__ import annotations

import json
import random

import pytest

from contracts import ContractError, decode, encode
from contracts.codec import decode_checked
from contracts.examples import examples
from tests.support.fuzzing import Fuzzer
from tests.support.wire import topic_for


def outcome(fn: object, topic: str, payload: bytes) -> tuple[object, ...]:
    try:
        return ("ok", fn(topic, payload))  # type: ignore[operator]
    except ContractError as exc:
        return ("refused", exc.reason, exc.detail)
    except Exception as exc:  # the pipeline dead-letters these as decoder_error; both must agree
        return ("raised", type(exc).__name__)


def assert_same(topic: str, payload: bytes) -> tuple[object, ...]:
    fast, careful = outcome(decode, topic, payload), outcome(decode_checked, topic, payload)
    assert fast == careful, (topic, payload[:300])
    return fast


@pytest.mark.parametrize("seed", [1, 2])
def test_fuzzed_payloads_get_the_same_answer_both_ways(seed: int) -> None:
    stream = Fuzzer(seed).stream(6_000, broken_share=0.6, reading_share=0.2, dup_share=0.05)
    results = [assert_same(topic, payload)[0] for topic, payload in stream.messages]
    assert results.count("ok") > 1_500 and results.count("refused") > 3_000


def test_every_message_kind_and_its_edge_values() -> None:
    rng = random.Random(3)
    checked = 0
    for message in examples().values():
        topic = topic_for(message)
        good = json.loads(encode(message))
        variants: list[dict[str, object] | bytes] = [good]
        for key, values in {
            "schema_version": [1, 1.0, True, "1", "1.0", 2, None, [1], {"v": 1}, 1.5],
            "seq": [0, 1.0, True, "7", -1, 2**70, None],
            "ts": ["2026-11-21T15:12:30Z", "2026-11-21T15:12:30.123456+08:00", 1732200000, "", None],
            "id": [good["id"].upper(), good["id"].replace("-", ""), "x", 5],  # type: ignore[union-attr]
            "kind": [good["kind"], "nope", 7, None],
            "source": [good["source"], "Other", ""],
        }.items():
            for value in values:
                variants.append({**good, key: value})
            variants.append({k: v for k, v in good.items() if k != key})  # missing
        variants.append({**good, "unexpected": 1})
        text = encode(message).decode()
        variants += [
            text.replace('"seq":', '"seq":99,"seq":', 1).encode(),  # duplicate key: the last one counts
            b"\xef\xbb\xbf" + text.encode(),  # a byte-order mark
            b"  " + text.encode() + b"\n",
            text.encode() + b"x",
            text.replace('"kind"', '"k\\u0069nd"', 1).encode(),  # an escaped key
            text.encode()[: rng.randrange(1, len(text))],
        ]
        for v in variants:
            assert_same(topic, v if isinstance(v, bytes) else json.dumps(v).encode())
            checked += 1
    assert checked > 200


def test_the_fast_paths_own_checks_agree_with_the_envelopes_validators() -> None:
    """The fast path checks the id, the timestamp and the version itself (contracts/codec.py,
    ``_lean``): whatever it takes, it takes with the values the validators give — field by field,
    time zones included — and what it refuses the careful path answers as it always did."""
    checked = 0
    for message in examples().values():
        topic = topic_for(message)
        good = json.loads(encode(message))
        uid = str(good["id"])
        for key, values in {
            "id": [
                uid,
                uid.upper(),
                "{" + uid + "}",
                "urn:uuid:" + uid,
                uid + "\n",
                " " + uid,
                uid[:-1] + "g",
            ],
            "ts": [
                "2026-11-21T15:12:30Z",
                "2026-11-21T15:12:30.123456789Z",
                "2026-11-21 15:12:30+00:00",
                "2026-11-21t15:12:30z",
                "2026-11-21T15:12:30-00:00",
                "2026-11-21T23:30:00-08:00",
                "1999-12-31T23:30:00-01:00",  # 2000 in UTC
                "2000-01-01T00:30:00+01:00",  # 1999 in UTC
                "2099-12-31T23:59:59.999Z",
                "2100-01-01T00:00:00Z",
                "1732200000",
                "2026-11-21",
                1732200000,
                1.5e9,
                True,
            ],
            "schema_version": [1, 0, 2, -1, 2**64, True, 1.0, "1"],
        }.items():
            for value in values:
                payload = json.dumps({**good, key: value}).encode()
                fast = outcome(decode, topic, payload)
                assert fast == assert_same(topic, payload)
                if fast[0] == "ok":
                    careful = decode_checked(topic, payload)
                    got = fast[1]
                    assert type(got) is type(careful)  # type: ignore[arg-type]
                    assert repr(got.__dict__) == repr(careful.__dict__), (key, value)  # type: ignore[union-attr]
                    assert got.model_fields_set == careful.model_fields_set  # type: ignore[union-attr]
                checked += 1
    assert checked > 300


def test_the_lean_copy_is_in_use_on_the_pydantic_core_it_was_checked_against() -> None:
    """A trip-wire for the pydantic-core internals the copy relies on: fails when pydantic-core
    moves to a version not in ``LEAN_TESTED_PYDANTIC_CORE`` (check this module against it, then
    add it), and when the copy stops taking effect (pydantic-core reusing the class's validator)."""
    import pydantic_core

    from contracts import codec

    installed = ".".join(pydantic_core.__version__.split(".")[:2])
    assert installed in codec.LEAN_TESTED_PYDANTIC_CORE, f"pydantic-core {installed}: check the fast path"
    assert codec.LEAN
    models = {type(m): m for m in examples().values() if type(m) in codec._FAST}
    assert len(models) >= 5  # hazard events, readings, statuses, receipts, notices …
    for model, message in models.items():
        good = json.loads(encode(message))
        upper = json.dumps({**good, "id": str(good["id"]).upper()}).encode()
        assert model.model_validate_json(upper).id == good["id"]  # the model's validator canonicalises
        with pytest.raises(ValueError):  # the copy refuses what it leaves to the careful way
            codec._FAST[model](upper)


def test_a_pydantic_core_the_copy_was_not_checked_against_gets_the_models_own_validator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from contracts import codec
    from contracts.tasks import CaseNotice

    monkeypatch.setattr(codec, "LEAN", False)
    assert codec._fast_validate(CaseNotice) == CaseNotice.__pydantic_validator__.validate_json
