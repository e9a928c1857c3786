"""Retention on the edge box: after a long outage the oldest unsent snapshots go (by age and by
disk quota), refused messages go after their days, hazard events always get through.

A real outbox and a real Mosquitto that is down while the node keeps producing."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from cv2 import imencode

from contracts import EvidenceSnapshot, HazardEvent, encode, topics
from contracts.clock import ManualClock
from contracts.ids import new_id
from edge.emit import Priority
from edge.outbox import Outbox, retention
from edge.settings import BrokerSettings, EdgeRetentionSettings, OutboxSettings
from gridwatch.broker import Mosquitto, free_port
from tests.support.brokers.edge_mqtt import DurableSubscriber, hazard
from tests.support.waiting import wait_until

NODE = "node-ret-1"


def _snapshot(i: int, clock: ManualClock) -> EvidenceSnapshot:
    rng = np.random.default_rng(i)  # noise compresses badly: each snapshot is tens of kB, as real ones
    jpeg = imencode(".jpg", rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))[1].tobytes()
    return EvidenceSnapshot(
        source=NODE,
        seq=0,
        ts=clock.now(),
        evidence_id=new_id(),
        event_id=None,
        device_id="cam-1",
        width=160,
        height=120,
        sha256=hashlib.sha256(jpeg).hexdigest(),
        jpeg_b64=base64.b64encode(jpeg).decode(),
    )


def test_a_long_outage_keeps_events_and_only_the_newest_snapshots(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    watcher = DurableSubscriber(  # and answers with receipts, as a gateway does
        mosquitto, f"{topics.ROOT}/node/{NODE}/#", client_id="ret-watch", receipts=True
    )
    mosquitto.stop()  # the uplink is down from here on
    clock = ManualClock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    outbox = Outbox(
        NODE,
        tmp_path / "outbox.sqlite3",
        BrokerSettings(host=mosquitto.host, port=mosquitto.port, keepalive_s=5),
        OutboxSettings(publish_rate=0),
        clock,
    )
    outbox.start()
    snaps: list[EvidenceSnapshot] = []

    def snap(i: int) -> None:
        snaps.append(_snapshot(i, clock))
        outbox.emit(topics.node_evidence(NODE), snaps[-1], Priority.EVIDENCE)

    first = hazard(NODE, 1)
    outbox.emit(topics.node_event(NODE), first, Priority.EVENT)
    # the broker refused it for good (kept aside for an operator) 8 days before the sweep
    outbox.store.refuse(outbox.store.pending(0, 1)[0].pos, Priority.EVENT, "not authorised")
    snap(0)  # day 0: past the 7 days by the sweep
    clock.advance(days=3)
    snap(1)  # day 3: young enough, but the oldest left when the quota bites
    clock.advance(days=5)
    for i in (2, 3, 4):
        clock.advance(minutes=1)
        snap(i)
    last = hazard(NODE, 2)
    outbox.emit(topics.node_event(NODE), last, Priority.EVENT)

    # room for the two newest snapshots only (the store's bytes are the encoded messages)
    quota = len(encode(snaps[3])) + len(encode(snaps[4])) + 64
    settings = EdgeRetentionSettings(evidence_days=7, evidence_quota_mb=quota / 1024 / 1024, refused_days=7)
    report = retention.sweep(outbox, settings, clock.now())
    assert (report.evidence_expired, report.evidence_over_quota, report.refused_expired) == (1, 2, 1)
    assert outbox.store.refused() == []

    mosquitto.start()
    try:
        wait_until(lambda: outbox.store.depth == 0, timeout=30, what="the outbox to drain after the outage")
        wait_until(lambda: len(watcher.messages(EvidenceSnapshot)) >= 2, what="the kept snapshots")
        got = {m.message.evidence_id for m in watcher.messages(EvidenceSnapshot)}  # type: ignore[union-attr]
        assert got == {snaps[3].evidence_id, snaps[4].evidence_id}
        events = [m.message.id for m in watcher.messages(HazardEvent)]
        assert last.id in events  # the first event was the one refused (and set aside) above
    finally:
        outbox.stop()
        watcher.close()


def test_events_are_never_dropped_by_retention(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 12, 1, tzinfo=UTC))
    outbox = Outbox(NODE, tmp_path / "o.sqlite3", BrokerSettings(port=free_port()), clock=clock)  # never up
    outbox.emit(topics.node_event(NODE), hazard(NODE, 1), Priority.EVENT)
    clock.advance(days=400)
    settings = EdgeRetentionSettings(evidence_days=1, evidence_quota_mb=0.001)
    assert retention.sweep(outbox, settings, clock.now()).dropped == 0
    assert outbox.store.depth == 1
    with pytest.raises(ValueError, match="never dropped"):
        outbox.drop([1], Priority.EVENT)
    outbox.store.close()
