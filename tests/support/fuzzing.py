"""Seeded streams of good and broken payloads, with the bookkeeping to reconcile what comes out.

Broken payloads cover what the issue names — truncated JSON, wrong types, huge
strings, unknown schema versions — plus binary garbage, missing envelope
fields, deep nesting, wrong kinds for the channel, bad topics and a node
speaking for another. Every broken payload is invalid by construction, so a
gateway must dead-letter exactly those and accept exactly the rest.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from contracts import HazardEvent, Measurement, SensorReading, encode, new_id, topics
from gateway.cases.models import Case

# The demo site's nodes (a gateway admits only nodes its site knows), reporting devices of their own.
NODES = ("node-gongye-1", "node-donghu-1")
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


# (field, a value it can never take)
WRONG_TYPES: list[tuple[str, object]] = [
    ("seq", "seven"),
    ("seq", -1),
    ("seq", []),
    ("confidence", 2.5),
    ("confidence", "high"),
    ("severity", "apocalyptic"),
    ("severity", 3),
    ("ts", 1732200000),
    ("ts", "yesterday"),
    ("device_id", "Not An Id"),
    ("device_id", ""),
    ("device_id", 5),
    ("location", {"lon": 500, "lat": 0}),
    ("location", "here"),
    ("state", "melting"),
    ("state", None),
]


def place(i: int) -> dict[str, float]:
    """Device i's spot: 40 places about 520 m apart, far enough not to merge."""
    return {"lon": 120.28 + (i % 20) * 0.0055, "lat": 31.49 + (i // 20) * 0.0055}


@dataclass
class Stream:
    """What was sent, so that outcomes can be checked against it."""

    messages: list[tuple[str, bytes]] = field(default_factory=list)
    hazard_ids: set[str] = field(default_factory=set)  # distinct valid hazard events
    duplicates: int = 0  # valid hazard events sent again (same id)
    readings: int = 0
    broken: int = 0
    broken_kinds: Counter[str] = field(default_factory=Counter)
    events_per_device: Counter[str] = field(default_factory=Counter)


class Fuzzer:
    def __init__(self, seed: int, devices: int = 40, routable_only: bool = False) -> None:
        # routable_only: every topic matches a gateway subscription (for streams through a broker)
        self.routable_only = routable_only
        self.rng = random.Random(seed)
        self.devices = devices
        self.seq = {n: 0 for n in NODES}
        self.sent_events: list[tuple[str, bytes]] = []
        self._templates: dict[tuple[str, str, int], dict[str, object]] = {}

    def _next(self, node: str) -> int:
        self.seq[node] += 1
        return self.seq[node]

    def _template(self, kind: str, node: str, device: int) -> dict[str, object]:
        """One message built (and so validated) by the contract models; variants change only
        values that stay valid (id, seq, ts, severity, a reading's value), which is much cheaper."""
        key = (kind, node, device)
        if key not in self._templates:
            common = {"source": node, "seq": 1, "ts": T0, "device_id": f"smk-fz-{device:03d}"}
            model = (
                HazardEvent(
                    **common,
                    hazard_type="smoke_alarm",
                    severity="major",
                    confidence=0.9,
                    state="update",
                    episode_id=f"ep-{device}",
                    location=place(device),
                    summary="fuzzed",
                )
                if kind == "hazard_event"
                else SensorReading(**common, measurements=[Measurement(quantity="smoke_density", value=0.1)])
            )
            self._templates[key] = json.loads(encode(model))
        return dict(self._templates[key])

    def _ts(self, stream: Stream) -> str:
        return (T0 + timedelta(milliseconds=len(stream.messages))).isoformat(timespec="milliseconds")[
            :-6
        ] + "Z"

    def hazard(self, stream: Stream, device: int | None = None) -> tuple[str, bytes]:
        node = self.rng.choice(NODES)
        d = self.rng.randrange(self.devices) if device is None else device
        data = self._template("hazard_event", node, d)
        data.update(
            id=new_id(),
            seq=self._next(node),
            ts=self._ts(stream),
            severity=self.rng.choice(["minor", "major", "critical"]),
        )
        msg = (topics.node_event(node), json.dumps(data).encode())
        stream.hazard_ids.add(data["id"])  # type: ignore[arg-type]
        stream.events_per_device[data["device_id"]] += 1  # type: ignore[index]
        self.sent_events.append(msg)
        return msg

    def reading(self, stream: Stream) -> tuple[str, bytes]:
        node = self.rng.choice(NODES)
        data = self._template("sensor_reading", node, self.rng.randrange(self.devices))
        data.update(
            id=new_id(),
            seq=self._next(node),
            ts=self._ts(stream),
            measurements=[{"quantity": "smoke_density", "value": round(self.rng.random(), 4)}],
        )
        stream.readings += 1
        return topics.node_reading(node), json.dumps(data).encode()

    def broken(self, stream: Stream) -> tuple[str, bytes]:
        if self.sent_events:
            topic, good = self.rng.choice(self.sent_events)
        else:
            topic, good = self.hazard(Stream())
            self.sent_events.pop()  # only a stand-in to break: never sent as itself, nor as a duplicate
        data = json.loads(good)
        rng = self.rng
        kind = rng.choice(
            [
                "truncated",
                "garbage",
                "wrong_type",
                "huge_string",
                "unknown_version",
                "missing_envelope",
                "deep_nesting",
                "wrong_kind",
                "bad_topic",
                "impostor",
                "not_an_object",
            ]
        )
        stream.broken += 1
        stream.broken_kinds[kind] += 1
        data["id"] = new_id()  # never a copy of a valid id
        if kind == "truncated":
            return topic, good[: rng.randrange(1, len(good) - 1)]
        if kind == "garbage":
            return topic, b"\xff" + rng.randbytes(rng.randrange(0, 300))
        if kind == "wrong_type":
            key, bad = rng.choice(WRONG_TYPES)
            data[key] = bad
            return topic, json.dumps(data).encode()
        if kind == "huge_string":
            data[rng.choice(["summary", "rule", "episode_id"])] = "火" * rng.randrange(600, 3_000)
            return topic, json.dumps(data, ensure_ascii=False).encode()
        if kind == "unknown_version":
            data["schema_version"] = rng.choice([0, 2, 3, 99, "1", None])
            return topic, json.dumps(data).encode()
        if kind == "missing_envelope":
            del data[rng.choice(["id", "source", "seq", "ts", "schema_version", "kind"])]
            return topic, json.dumps(data).encode()
        if kind == "deep_nesting":
            depth = rng.randrange(900, 3_000)  # around and past the parser's limit
            return topic, b'{"x": ' + b"[" * depth + b"]" * depth + b"}"
        if kind == "wrong_kind":
            data["kind"] = rng.choice(["sensor_reading", "task_offer", "nope", 7])
            return topic, json.dumps(data).encode()
        if kind == "bad_topic":
            unroutable = [] if self.routable_only else [f"{topics.ROOT}/node/x", "other/app"]
            return rng.choice([f"{topics.ROOT}/node/NODE {rng.randrange(99)}/event", *unroutable]), good
        if kind == "impostor":
            data["source"] = "someone-else"
            return topic, json.dumps(data).encode()
        return topic, json.dumps([data]).encode()  # not_an_object

    def stream(
        self, n: int, broken_share: float = 0.5, reading_share: float = 0.2, dup_share: float = 0.05
    ) -> Stream:
        stream = Stream()
        while len(stream.messages) < n:
            r = self.rng.random()
            if r < broken_share:
                stream.messages.append(self.broken(stream))
            elif r < broken_share + reading_share:
                stream.messages.append(self.reading(stream))
            elif r < broken_share + reading_share + dup_share and self.sent_events:
                stream.messages.append(self.rng.choice(self.sent_events))
                stream.duplicates += 1
            else:
                stream.messages.append(self.hazard(stream))
        return stream


def count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def cases_by_device(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as s:
        rows = s.execute(select(Case.device_id, Case.event_count)).all()
    devices = [d for d, _ in rows]
    assert len(devices) == len(set(devices)), "a place has two cases"
    return dict(rows)  # type: ignore[arg-type]


def events(n: int, seed: int) -> Stream:
    return Fuzzer(seed).stream(n, broken_share=0, reading_share=0, dup_share=0)
