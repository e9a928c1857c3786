"""The outbox's disk queue on its own: numbering, order, durability across reopen, eviction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from contracts import (
    DeviceStatus,
    EdgeHealth,
    HazardEvent,
    SensorReading,
    decode,
    encode,
    topics,
)
from contracts.devices import Availability
from contracts.examples import examples
from edge.emit import Priority
from edge.outbox import Outbox, OutboxError
from edge.outbox.store import OutboxStore, numbered_payload
from edge.settings import BrokerSettings, OutboxSettings
from tests.support.brokers.edge_mqtt import event_topic, hazard
from tests.support.sensors import reading

NODE = "node-t"
READING = topics.node_reading(NODE)
# Nothing listens there: these tests never start the uplink.
NOWHERE = BrokerSettings(host="127.0.0.1", port=9)


def outbox(path: Path, capacity: int = 1000) -> Outbox:
    return Outbox(NODE, path / "outbox.sqlite3", NOWHERE, OutboxSettings(capacity=capacity, warn_fill=0.8))


def queued(store: OutboxStore) -> list:
    return [decode(r.topic, r.payload) for r in store.pending(0, 1_000_000)]


def test_outbox_numbers_messages_per_source_replacing_the_callers_seq(tmp_path: Path) -> None:
    ob = outbox(tmp_path)
    ob.emit(READING, reading(1).model_copy(update={"seq": 999}), Priority.TELEMETRY)
    ob.emit(event_topic(NODE), hazard(NODE, 1), Priority.EVENT)
    ob.emit(READING, reading(2), Priority.TELEMETRY)
    msgs = queued(ob.store)
    assert [m.seq for m in msgs] == [1, 2, 3]
    assert isinstance(msgs[1], HazardEvent) and msgs[1].rule == "test-1"


def test_sequence_and_queue_survive_reopening_even_after_the_queue_emptied(tmp_path: Path) -> None:
    ob = outbox(tmp_path)
    for i in range(5):
        ob.emit(READING, reading(i), Priority.TELEMETRY)
    rows = ob.store.pending(0, 100)
    ob.store.delete([(r.pos, r.priority) for r in rows[:3]])
    ob.store.close()

    ob = outbox(tmp_path)
    assert [m.measurements[0].value for m in queued(ob.store)] == [3, 4]
    ob.store.delete([(r.pos, r.priority) for r in ob.store.pending(0, 100)])
    assert ob.store.depth == 0
    ob.store.close()

    ob = outbox(tmp_path)  # empty now: numbers must still continue, positions never reused
    ob.emit(READING, reading(9), Priority.TELEMETRY)
    [row] = ob.store.pending(0, 10)
    assert row.pos == 6
    assert decode(row.topic, row.payload).seq == 6


def test_full_outbox_evicts_oldest_telemetry_first_and_never_events(tmp_path: Path) -> None:
    ob = outbox(tmp_path, capacity=10)
    for i in range(6):
        ob.emit(READING, reading(i), Priority.TELEMETRY)
    status = DeviceStatus(source=NODE, seq=0, device_id="gas-1", state=Availability.ONLINE)
    ob.emit(topics.node_device_status(NODE, "gas-1"), status, Priority.STATUS, retain=True)
    for i in range(3):
        ob.emit(event_topic(NODE), hazard(NODE, i), Priority.EVENT)
    assert ob.store.depth == 10

    # Two more readings push out the two oldest readings.
    ob.emit(READING, reading(100), Priority.TELEMETRY)
    ob.emit(READING, reading(101), Priority.TELEMETRY)
    values = [m.measurements[0].value for m in queued(ob.store) if isinstance(m, SensorReading)]
    assert values == [2, 3, 4, 5, 100, 101]

    # Events keep coming: telemetry goes, then the status; events are never evicted.
    for i in range(3, 13):
        ob.emit(event_topic(NODE), hazard(NODE, i), Priority.EVENT)
    msgs = queued(ob.store)
    assert [m.rule for m in msgs if isinstance(m, HazardEvent)] == [f"test-{i}" for i in range(13)]
    assert not any(isinstance(m, SensorReading | DeviceStatus) for m in msgs)
    assert ob.store.depth == 13  # past capacity: events are kept anyway

    # A reading now finds nothing cheaper to evict: it is the one dropped.
    ob.emit(READING, reading(7), Priority.TELEMETRY)
    assert ob.store.depth == 13
    assert ob.store.count_by_priority() == {Priority.EVENT: 13}

    health, warnings = ob.health()
    assert health.depth == 13 and health.capacity == 10
    assert health.evicted_total == 8 + 1 + 1  # every reading, the status, the dropped reading
    assert any("130% full" in w for w in warnings), warnings
    assert any("evicted 10" in w for w in warnings), warnings

    # The sequence shows the gaps the gateway will see: every message got a number.
    seqs = [m.seq for m in queued(ob.store)]
    assert seqs == sorted(seqs) and seqs[-1] == 22
    assert ob.store.last_seq(NODE) == 23  # the dropped reading took 23


def test_health_priority_outranks_telemetry_when_evicting(tmp_path: Path) -> None:
    ob = outbox(tmp_path, capacity=10)
    health = EdgeHealth(source=NODE, seq=0, uptime_s=1)
    ob.emit(READING, reading(1), Priority.TELEMETRY)
    for _ in range(10):  # the 10th evicts the reading, not a health message
        ob.emit(topics.node_health(NODE), health, Priority.HEALTH)
    assert ob.store.count_by_priority() == {Priority.HEALTH: 10}
    ob.emit(READING, reading(2), Priority.TELEMETRY)  # nothing at or below telemetry: dropped
    assert ob.store.count_by_priority() == {Priority.HEALTH: 10}


def test_node_publishes_only_under_its_own_topics_and_source(tmp_path: Path) -> None:
    ob = outbox(tmp_path)
    with pytest.raises(ValueError, match="only under gridwatch/v1/node/node-t/"):
        ob.emit(topics.node_reading("node-other"), reading(1), Priority.TELEMETRY)
    with pytest.raises(ValueError, match="not under"):
        ob.emit("zigbee2mqtt/foo", reading(1), Priority.TELEMETRY)
    with pytest.raises(ValueError, match="cannot send a message from 'node-other'"):
        ob.emit(READING, reading(1).model_copy(update={"source": "node-other"}), Priority.TELEMETRY)
    assert ob.store.depth == 0


def test_a_second_process_cannot_share_an_outbox(tmp_path: Path) -> None:
    first = outbox(tmp_path)
    first.emit(READING, reading(1), Priority.TELEMETRY)
    with pytest.raises(OutboxError, match="in use by another process"):
        OutboxStore(tmp_path / "outbox.sqlite3", 10)
    first.store.close()
    assert OutboxStore(tmp_path / "outbox.sqlite3", 10).depth == 1


def test_unreadable_outbox_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(OutboxError, match=r"not a readable SQLite database.*move it aside"):
        OutboxStore(path, 10)


def test_outbox_is_wal_and_rows_are_committed_when_emit_returns(tmp_path: Path) -> None:
    ob = outbox(tmp_path)
    ob.emit(event_topic(NODE), hazard(NODE, 1), Priority.EVENT)
    ob.emit(READING, reading(1), Priority.TELEMETRY)
    # Copy the files as a crash would leave them (no close, no checkpoint) and read the copy.
    copy = tmp_path / "copy"
    copy.mkdir()
    for suffix in ("", "-wal"):
        (copy / f"outbox.sqlite3{suffix}").write_bytes((tmp_path / f"outbox.sqlite3{suffix}").read_bytes())
    db = sqlite3.connect(copy / "outbox.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 2


def test_numbering_gives_the_same_bytes_as_encoding_a_renumbered_copy() -> None:
    for name, message in examples().items():
        for seq in (0, 1, 9, 10, 123_456_789_012):
            expected = encode(message.model_copy(update={"seq": seq}))
            assert numbered_payload(message, seq) == expected, name


def test_deleting_acknowledged_rows_takes_exactly_those_rows_whatever_their_order(tmp_path: Path) -> None:
    ob = outbox(tmp_path)
    for i in range(10):
        ob.emit(READING, reading(i), Priority.TELEMETRY)
    rows = ob.store.pending(0, 100)
    acked = [rows[i] for i in (6, 0, 1, 2, 4, 5, 9)]  # runs 1-3, 5-7, 10; 4 and 8, 9 still in flight
    assert ob.store.delete([(r.pos, r.priority) for r in acked]) == 7
    assert [m.measurements[0].value for m in queued(ob.store)] == [3, 7, 8]
    assert ob.store.delete([(rows[0].pos, rows[0].priority)]) == 0  # already gone: nothing else goes
    assert ob.store.depth == 3
