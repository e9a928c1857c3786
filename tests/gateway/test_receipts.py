"""Receipts say exactly what is committed; lost numbers are placed where they were lost.

The pipeline runs on SQLite and PostgreSQL with a manual clock; the receipts it hands over
after each commit are collected instead of published (the broker path is in the system tests).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import EdgeHealth, GeoPoint, LocationFix, OutboxHealth, encode, topics
from gateway.events.models import SourceProgress
from gateway.ingest.incoming import Incoming
from gateway.ingest.sequences import DECLARATION_WAIT, GRACE_S, SequenceReport
from tests.support.harness import Harness

NODE = "node-gongye-1"


class Receipts:
    """Stands where the gateway's ReceiptSender stands; keeps the last receipt per source."""

    def __init__(self) -> None:
        self.last: dict[str, tuple[str, list[tuple[int, int]]]] = {}
        self.count = 0

    def offer(self, receipts: dict[str, tuple[str, list[tuple[int, int]]]]) -> None:
        self.last.update(receipts)
        self.count += 1

    def covered(self, source: str = NODE) -> set[int]:
        _topic, ranges = self.last[source]
        return {n for a, b in ranges for n in range(a, b + 1)}


@pytest.fixture
def receipts(harness: Harness) -> Receipts:
    sink = Receipts()
    harness.pipeline.sequences.receipts = sink
    return sink


def event(h: Harness, seq: int) -> Incoming:
    e = h.event("smk-factory-a1", seq=seq, state="update")
    return Incoming(topics.node_event(NODE), encode(e))


def health(h: Harness, seq: int, last_seq: int, dropped: list[tuple[int, int]] | None = None) -> Incoming:
    outbox = OutboxHealth(
        depth=0, capacity=1000, oldest_unsent_age_s=0, evicted_total=0, last_seq=last_seq,
        dropped_seqs=dropped or [],
    )  # fmt: skip
    msg = EdgeHealth(source=NODE, seq=seq, ts=h.clock.now(), uptime_s=1, outbox=outbox)
    return Incoming(topics.node_health(NODE), encode(msg))


def progress(h: Harness, source: str = NODE) -> SourceProgress:
    with h.sessions() as s:
        row = s.get(SourceProgress, source)
        assert row is not None
        return row


def test_a_receipt_covers_exactly_what_is_committed_through_gaps_losses_and_late_arrivals(
    harness: Harness, receipts: Receipts
) -> None:
    harness.pipeline.process([event(harness, n) for n in (1, 2, 5, 6)])
    topic, _ = receipts.last[NODE]
    assert topic == topics.node_receipt(NODE)
    assert receipts.covered() == {1, 2, 5, 6}
    harness.pipeline.process([event(harness, 3)])  # late: fills part of the gap
    assert receipts.covered() == {1, 2, 3, 5, 6}
    harness.clock.advance(GRACE_S + 1)
    harness.pipeline.process([event(harness, 7)])  # 4 is given up as lost: still not covered
    assert receipts.covered() == {1, 2, 3, 5, 6, 7}
    assert progress(harness).lost_total == 1
    harness.pipeline.process([event(harness, 4)])  # the node sent it again: recovered, and covered
    assert receipts.covered() == set(range(1, 8))
    row = progress(harness)
    assert (row.lost_total, row.recovered_total, row.lost_gaps) == (1, 1, [])
    harness.pipeline.process([event(harness, 6)])  # a duplicate earns a receipt too
    assert receipts.covered() == set(range(1, 8)) and receipts.count == 5


def test_numbers_from_before_the_gateways_record_are_receipted_when_they_come(
    harness: Harness, receipts: Receipts
) -> None:
    harness.pipeline.process([event(harness, 100)])  # first contact: nothing is known before 100
    assert receipts.covered() == {100}
    harness.pipeline.process([event(harness, 40), event(harness, 41)])  # sent again from before
    assert receipts.covered() == {40, 41, 100}
    harness.pipeline.process([event(harness, 101)])
    assert receipts.covered() == {100, 101}  # a receipt never claims 40-99 as a run


def test_a_loss_is_placed_at_the_source_or_at_the_broker_from_the_nodes_own_account(
    harness: Harness, receipts: Receipts
) -> None:
    harness.pipeline.process([event(harness, n) for n in (*range(1, 6), 10, 11, 12)])  # 6-9 missing
    # The node's health: it handed out up to 20 and its full outbox dropped 8 and 9 itself.
    harness.pipeline.process([health(harness, 21, last_seq=20, dropped=[(8, 9)])])  # 13-20 missing too
    assert progress(harness).open_gap_count == 4 + 8
    harness.clock.advance(GRACE_S + 1)
    harness.pipeline.process([event(harness, 22)])
    row = progress(harness)
    assert (row.lost_at_source_total, row.lost_at_broker_total, row.lost_total) == (2, 10, 12)
    assert sorted((a, b, w) for a, b, w in row.lost_gaps or []) == [
        (6, 7, "broker"), (8, 9, "source"), (13, 20, "broker"),
    ]  # fmt: skip
    assert receipts.covered() == {1, 2, 3, 4, 5, 10, 11, 12, 21, 22}


def test_a_gap_waits_for_the_sources_next_report_before_it_is_placed(harness: Harness) -> None:
    harness.pipeline.process([health(harness, 1, last_seq=0 + 1)])  # the node reports, up to 1
    harness.pipeline.process([event(harness, n) for n in (2, 5)])  # 3-4 missing, not yet reported on
    harness.clock.advance(GRACE_S + 1)
    harness.pipeline.process([event(harness, 6)])
    assert progress(harness).open_gap_count == 2  # it may yet say it dropped them
    harness.pipeline.process([health(harness, 7, last_seq=6, dropped=[(4, 4)])])
    harness.clock.advance(1)
    harness.pipeline.process([event(harness, 8)])
    row = progress(harness)
    assert (row.lost_at_broker_total, row.lost_at_source_total, row.open_gap_count) == (1, 1, 0)


def test_a_source_that_never_reports_gets_its_loss_placed_unknown_and_a_silent_one_eventually(
    harness: Harness, receipts: Receipts
) -> None:
    worker = "w-ma-li"

    def fix(seq: int) -> Incoming:
        msg = LocationFix(
            source=worker, seq=seq, ts=harness.clock.now(), worker_id=worker,
            location=GeoPoint(lon=120.31, lat=31.49),
        )  # fmt: skip
        return Incoming(topics.worker_location(worker), encode(msg))

    harness.pipeline.process([fix(1), fix(4)])
    harness.clock.advance(GRACE_S + 1)
    harness.pipeline.process([fix(5)])
    row = progress(harness, worker)
    assert (row.lost_total, row.lost_at_broker_total, row.lost_at_source_total) == (2, 0, 0)
    assert [g[2] for g in row.lost_gaps or []] == ["unknown"]
    assert worker not in receipts.last  # phones have no receipt topic
    # A node that reported once and then went quiet: placed "unknown" after the longer wait.
    harness.pipeline.process([health(harness, 1, last_seq=1), event(harness, 4)])
    harness.clock.advance(GRACE_S * DECLARATION_WAIT + 1)
    harness.pipeline.process([event(harness, 5)])
    assert [g[2] for g in progress(harness).lost_gaps or []] == ["unknown"]


def test_a_tail_loss_is_found_from_the_last_number_the_node_says_it_sent(harness: Harness) -> None:
    harness.pipeline.process([event(harness, n) for n in range(1, 6)])
    # An unsequenced health (seq 0) carries only its account: 6-8 were handed out and never came.
    harness.pipeline.process([health(harness, 0, last_seq=8)])
    row = progress(harness)
    assert (row.max_seq, row.open_gaps[0][:2]) == (8, [6, 8])
    harness.clock.advance(GRACE_S + 1)
    with harness.sessions.begin() as s:  # the housekeeping sweep gives up on sources gone quiet
        harness.pipeline.sequences.sweep(s, harness.clock.now(), report := SequenceReport())
    assert [(a, b, w.value) for _, a, b, w in report.lost] == [(6, 8, "broker")]


def test_a_resent_message_made_just_after_a_higher_number_is_not_a_restart(harness: Harness) -> None:
    harness.pipeline.process([event(harness, n) for n in range(1, 4)])
    later = harness.event(
        "smk-factory-a1", seq=2, state="update", ts=harness.clock.now() + timedelta(seconds=1)
    )
    harness.pipeline.process([Incoming(topics.node_event(NODE), encode(later))])
    assert progress(harness).resets_total == 0
    restarted = harness.event(
        "smk-factory-a1", seq=1, state="update", ts=harness.clock.now() + timedelta(minutes=1)
    )
    harness.pipeline.process([Incoming(topics.node_event(NODE), encode(restarted))])
    row = progress(harness)
    assert (row.resets_total, row.max_seq, row.base_seq) == (1, 1, 1)


def test_the_sender_merges_receipts_that_wait_and_keeps_one_it_could_not_publish() -> None:
    from types import SimpleNamespace

    from contracts import DeliveryReceipt, decode
    from contracts.clock import ManualClock
    from gateway.ingest.receipts import ReceiptSender
    from tests.support.harness import WEDNESDAY_10AM

    published: list[tuple[str, bytes]] = []
    rc = [0]

    class Link:
        def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> object:
            if rc[0] == 0:
                published.append((topic, payload))
            return SimpleNamespace(rc=rc[0])

    mono = [100.0]
    sender = ReceiptSender(
        "gateway-1", ManualClock(WEDNESDAY_10AM), interval_s=0.05, monotonic=lambda: mono[0]
    )
    topic = topics.node_receipt(NODE)
    sender.offer({NODE: (topic, [(1, 5)])})
    assert sender.flush(Link(), connected=False) == 0  # not while the link is down
    assert sender.flush(Link(), connected=True) == 1
    sender.offer({NODE: (topic, [(1, 7)])})
    sender.offer({NODE: (topic, [(1, 5), (9, 9)])})  # both true: merged
    assert sender.flush(Link(), connected=True) == 0  # too soon after the last one
    mono[0] += 0.06
    rc[0] = 4  # the connection just went
    assert sender.flush(Link(), connected=True) == 0 and sender.waiting == 1
    rc[0] = 0
    assert sender.flush(Link(), connected=True) == 1
    receipts = [decode(t, p) for t, p in published]
    assert all(isinstance(r, DeliveryReceipt) and r.source == "gateway-1" for r in receipts)
    assert [r.ranges() for r in receipts] == [[(1, 5)], [(1, 7), (9, 9)]]  # type: ignore[union-attr]


def test_a_dead_lettered_message_is_receipted_so_that_its_node_stops_sending_it(
    harness: Harness, receipts: Receipts
) -> None:
    import json

    from gateway.flows.ingest import Outcome

    topic = topics.node_event(NODE)
    harness.pipeline.process([event(harness, 1)])
    broken = json.loads(encode(harness.event("smk-factory-a1", seq=2)))
    broken["severity"] = "apocalyptic"  # fails the contract; its envelope still says whose it is
    impostor = {**broken, "seq": 3, "source": "node-somebody-else"}
    outcomes = harness.pipeline.process(
        [
            Incoming(topic, json.dumps(broken).encode()),
            Incoming(topic, json.dumps(impostor).encode()),  # not this topic's: never receipted
            Incoming(topic, b"\xff\x00 not json"),
            event(harness, 4),
        ]
    )
    assert outcomes == [Outcome.DEAD_LETTER] * 3 + [Outcome.APPLIED]
    assert receipts.covered() == {1, 2, 4}  # kept as a dead letter: held, an operator replays it
    row = progress(harness)
    assert [g[:2] for g in row.open_gaps] == [[3, 3]]  # 2 arrived (refused); 3 did not, as far as we know
