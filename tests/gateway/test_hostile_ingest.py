"""Hostile input at the gateway (SQLite and PostgreSQL): who may send, what dates a message may
carry, ids unique per source, and no message that makes a batch redo itself one by one."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from contracts import HazardEvent, LocationFix, encode, topics
from contracts.geo import GeoPoint
from gateway.cases.models import Case
from gateway.events.models import DeadLetter, EventRecord
from gateway.flows.ingest import Incoming, Outcome, Pipeline
from gateway.ingest.admission import Admission
from gateway.workers.models import WorkerPosition
from tests.support.harness import Harness


def letters(h: Harness) -> list[tuple[str, str]]:
    with h.sessions() as s:
        return [(d.reason, d.detail) for d in s.scalars(select(DeadLetter).order_by(DeadLetter.id))]


def event_incoming(event: HazardEvent, topic: str | None = None) -> Incoming:
    return Incoming(topic or topics.node_event(event.source), encode(event))


def cases(h: Harness) -> list[Case]:
    with h.sessions() as s:
        return list(s.scalars(select(Case)))


def count(h: Harness, model: type) -> int:
    with h.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# -- who may send ------------------------------------------------------------------
def test_a_sender_the_site_does_not_know_is_a_dead_letter(harness: Harness) -> None:
    stranger = harness.event("smk-factory-a1", source="node-stranger")
    assert harness.send(topics.node_event("node-stranger"), stranger) is Outcome.DEAD_LETTER
    phone = LocationFix(
        source="w-nobody",
        seq=1,
        ts=harness.clock.now(),
        worker_id="w-nobody",
        location=GeoPoint(lon=120.3, lat=31.5),
    )
    assert harness.send(topics.worker_location("w-nobody"), phone) is Outcome.DEAD_LETTER
    reasons = letters(harness)
    assert [r for r, _ in reasons] == ["unknown_source", "unknown_source"]
    assert "node 'node-stranger' is not in the site configuration" in reasons[0][1]
    assert "worker 'w-nobody'" in reasons[1][1]
    assert count(harness, Case) == 0 and count(harness, WorkerPosition) == 0


def test_a_node_cannot_speak_for_another_nodes_device(harness: Harness) -> None:
    # smk-rental-12 is node-donghu-1's; node-gongye-1 is a node of the site, but not its host.
    impostor = harness.event("smk-rental-12", source="node-gongye-1")
    assert harness.send(topics.node_event("node-gongye-1"), impostor) is Outcome.DEAD_LETTER
    [(reason, detail)] = letters(harness)
    assert reason == "source_mismatch" and "belongs to node 'node-donghu-1'" in detail
    assert count(harness, Case) == 0


def test_a_worker_cannot_raise_a_hazard_on_a_node_or_device_topic(harness: Harness) -> None:
    """The broker's ACL stops this first (tests/system/test_broker_identity.py); the gateway
    refuses it too, in case the broker lets it through."""
    as_node = harness.event("smk-factory-a1", source="w-ma-li")
    as_device = harness.event("w-ma-li", source="w-ma-li")  # a "device" named like the worker
    assert harness.send(topics.node_event("w-ma-li"), as_node) is Outcome.DEAD_LETTER
    assert (
        harness.send(topics.device_topic("w-ma-li", topics.Channel.EVENT), as_device) is Outcome.DEAD_LETTER
    )
    assert [r for r, _ in letters(harness)] == ["unknown_source", "unknown_source"]
    assert count(harness, Case) == 0


def test_a_device_of_the_site_publishes_for_itself(harness: Harness) -> None:
    """gas-restaurant-3 speaks GridWatch: its own topics are admitted, another device's are not."""
    own = harness.event("gas-restaurant-3", source="gas-restaurant-3", hazard_type="gas_leak")
    assert harness.send(topics.device_topic("gas-restaurant-3", topics.Channel.EVENT), own) is Outcome.APPLIED
    other = harness.event("smk-rental-12", source="gas-restaurant-3")
    topic = topics.device_topic("gas-restaurant-3", topics.Channel.EVENT)
    assert harness.send(topic, other) is Outcome.DEAD_LETTER
    assert [r for r, _ in letters(harness)] == ["source_mismatch"]  # the contract: device_id ≠ topic


# -- dates -------------------------------------------------------------------------
def fix(h: Harness, ts_offset_s: float, lon: float) -> LocationFix:
    h.seq += 1
    return LocationFix(
        source="w-ma-li",
        seq=h.seq,
        ts=h.clock.now() + timedelta(seconds=ts_offset_s),
        worker_id="w-ma-li",
        location=GeoPoint(lon=lon, lat=31.496),
    )


def position(h: Harness) -> float:
    with h.sessions() as s:
        row = s.get(WorkerPosition, "w-ma-li")
        assert row is not None
        return row.lon


def test_a_fix_dated_far_ahead_cannot_freeze_a_workers_position(harness: Harness) -> None:
    topic = topics.worker_location("w-ma-li")
    assert harness.send(topic, fix(harness, 0, 120.310)) is Outcome.APPLIED
    year_9999 = json.loads(encode(fix(harness, 0, 120.999)))
    year_9999["ts"] = "9999-01-01T00:00:00Z"
    assert harness.send(topic, json.dumps(year_9999).encode()) is Outcome.DEAD_LETTER
    assert harness.send(topic, fix(harness, 3600, 120.999)) is Outcome.DEAD_LETTER  # an hour ahead
    harness.clock.advance(30)
    assert harness.send(topic, fix(harness, 0, 120.312)) is Outcome.APPLIED  # the next real fix counts
    assert position(harness) == 120.312
    (r1, d1), (r2, d2) = letters(harness)
    assert r1 == r2 == "invalid"
    assert "out of range" in d1
    assert "60 min ahead of the gateway's clock" in d2 and "max_clock_skew_s" in d2


def test_an_event_dated_far_ahead_cannot_keep_its_case_recent(harness: Harness) -> None:
    first, outcome = harness.raise_event("smk-factory-a1")
    assert outcome is Outcome.APPLIED
    ahead = harness.event("smk-factory-a1", state="update", ts=harness.clock.now() + timedelta(days=3))
    started_ahead = harness.event(
        "smk-factory-a1", state="update", started_at=harness.clock.now() + timedelta(days=3)
    )
    assert (
        harness.pipeline.process([event_incoming(ahead), event_incoming(started_ahead)])
        == [Outcome.DEAD_LETTER] * 2
    )
    [case] = cases(harness)
    assert case.last_seen_at == first.ts and case.event_count == 1
    assert [d.split(":")[0] for _, d in letters(harness)] == ["ts", "started_at"]


def test_the_allowed_clock_skew_is_a_setting(harness: Harness) -> None:
    lenient = Pipeline(
        harness.sessions, harness.ctx, admission=Admission(harness.ctx.site, timedelta(hours=2))
    )
    topic = topics.worker_location("w-ma-li")
    assert lenient.process([Incoming(topic, encode(fix(harness, 3600, 120.31)))]) == [Outcome.APPLIED]
    assert harness.send(topic, fix(harness, 3 * 3600, 120.32)) is Outcome.DEAD_LETTER  # default: 5 min


# -- ids per source ----------------------------------------------------------------
def test_another_sources_id_published_first_does_not_shadow_the_genuine_event(harness: Harness) -> None:
    genuine = harness.event("smk-rental-12")  # node-donghu-1's
    squatter = harness.event("smk-factory-a1", id=genuine.id)  # node-gongye-1 takes its id first
    assert harness.pipeline.process([event_incoming(squatter)]) == [Outcome.APPLIED]
    assert harness.pipeline.process([event_incoming(genuine), event_incoming(genuine)]) == [
        Outcome.APPLIED,
        Outcome.DUPLICATE,  # a redelivery from the same source is still recognised
    ]
    assert harness.pipeline.process([event_incoming(genuine)]) == [Outcome.DUPLICATE]
    with harness.sessions() as s:
        ledger = sorted(s.execute(select(EventRecord.source, EventRecord.id)).all())
        devices = sorted(s.scalars(select(Case.device_id)))
    assert ledger == [("node-donghu-1", genuine.id), ("node-gongye-1", genuine.id)]
    assert devices == ["smk-factory-a1", "smk-rental-12"]  # two places, two cases


def test_two_sources_sharing_an_id_in_one_batch_are_both_applied(harness: Harness) -> None:
    a = harness.event("smk-rental-12")
    b = harness.event("smk-factory-a1", id=a.id)
    assert harness.pipeline.process([event_incoming(a), event_incoming(b)]) == [Outcome.APPLIED] * 2
    assert count(harness, Case) == 2


# -- no poison batches -------------------------------------------------------------
@pytest.fixture
def transactions(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many transactions the harness's pipeline ran (one per attempt at a batch or a part)."""
    ran: list[int] = []
    real = harness.pipeline._transaction

    def counted(*args: object) -> object:
        ran.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(harness.pipeline, "_transaction", counted)
    return ran


def test_hostile_values_are_dead_letters_and_the_batch_commits_once(
    harness: Harness, transactions: list[int]
) -> None:
    """What the store would refuse never reaches it: the batch is one transaction, hostile
    messages or not, and each hostile one is a clean 'invalid' dead letter."""
    good = [harness.event("smk-factory-a1", state="update") for _ in range(20)]
    hostile_fields = [
        {"seq": 2**63},
        {"seq": True},
        {"schema_version": [1]},
        {"ts": "0001-01-01T00:00:00+01:00"},
        {"confidence": "0.5"},
        {"summary": "fire\u0000"},
        {"ts": "9999-12-31T23:59:59Z"},
    ]
    batch = [event_incoming(e) for e in good]
    for i, changes in enumerate(hostile_fields):
        doc = json.loads(encode(harness.event("smk-factory-a1", state="update")))
        batch.insert(
            3 * i + 1, Incoming(topics.node_event("node-gongye-1"), json.dumps({**doc, **changes}).encode())
        )
    outcomes = harness.pipeline.process(batch)
    assert len(transactions) == 1
    assert outcomes.count(Outcome.DEAD_LETTER) == len(hostile_fields)
    assert outcomes.count(Outcome.APPLIED) == len(good)
    assert {r for r, _ in letters(harness)} == {"invalid"}
    [case] = cases(harness)
    assert case.event_count == len(good)


def test_a_message_that_breaks_its_batch_costs_a_few_transactions_not_one_each(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, transactions: list[int]
) -> None:
    """Should something still break a batch (a bug), the batch is halved until the message
    that breaks it stands alone: about 2·log2(n) transactions for n messages."""
    from gateway.flows.ingest import Pipeline

    events = [harness.event("smk-factory-a1", state="update") for _ in range(64)]
    poison = events[37]
    real = Pipeline._apply

    # In applying a message, whichever way it goes (a repeat of an open case is folded without
    # record_hazard: gateway/cases/repeats.py).
    def flaky(self, session, item, *args, **kwargs):  # type: ignore[no-untyped-def]
        if item.message.id == poison.id:
            raise RuntimeError("bug triggered by this payload")
        return real(self, session, item, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "_apply", flaky)
    outcomes = harness.pipeline.process([event_incoming(e) for e in events])
    assert outcomes[37] is Outcome.DEAD_LETTER
    assert outcomes.count(Outcome.APPLIED) == 63
    assert len(transactions) <= 2 * 6 + 1  # 64 = 2^6; one by one would be 65
    assert [r for r, _ in letters(harness)] == ["processing_error"]
    [case] = cases(harness)
    assert case.event_count == 63


def test_a_flood_of_bad_payloads_is_a_few_log_lines_without_tracebacks(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    doc = json.loads(encode(harness.event("smk-factory-a1")))
    topic = topics.node_event("node-gongye-1")
    batch = []
    for i in range(300):
        bad = {"schema_version": [1]} if i % 3 == 0 else {"ts": "0001-01-01T00:00:00+01:00"}
        batch.append(Incoming(topic, json.dumps({**doc, "seq": i + 1, **bad}).encode()))
        batch.append(Incoming(topic, b"\xff not json"))
    with caplog.at_level(logging.WARNING, logger="gateway.flows.ingest"):
        outcomes = harness.pipeline.process(batch)
    assert outcomes == [Outcome.DEAD_LETTER] * 600
    assert len(caplog.records) == 2  # one per reason: invalid, bad_json
    assert all(r.exc_info is None for r in caplog.records)
    assert {r for r, _ in letters(harness)} == {"invalid", "bad_json"}


def test_the_gateway_takes_the_allowed_skew_from_its_settings(sqlite_url: str) -> None:
    from gateway.service import Gateway
    from gateway.settings import GatewaySettings
    from tests.support.paths import DEMO_SITE

    gw = Gateway(GatewaySettings(site_dir=DEMO_SITE, database_url=sqlite_url, max_clock_skew_s=7200))
    try:
        assert gw.pipeline.admission.max_clock_skew == timedelta(hours=2)
    finally:
        gw.engine.dispose()


def test_a_source_jumping_to_the_largest_sequence_number_does_not_overflow_its_counters(
    harness: Harness,
) -> None:
    """seq 2^63 - 1 is valid; the gap it opens (and loses, twice, across a restart) is counted up
    to what the store holds instead of failing the batch's UPDATE."""
    from gateway.events.models import SourceProgress
    from gateway.ingest.sequences import RESET_MARGIN

    node = "node-gongye-1"
    # A restart is told from a replay by the source's clock moving on past RESET_MARGIN.
    gap = RESET_MARGIN.total_seconds() + 1
    steps = [(1, 0), (2**63 - 1, gap), (1, 2 * gap), (2**63 - 1, 3 * gap), (1, 4 * gap)]
    for seq, later in steps:
        ts = harness.clock.now() + timedelta(seconds=later)
        event = harness.event("smk-factory-a1", seq=seq, ts=ts, state="update")
        assert harness.pipeline.process([event_incoming(event)]) == [Outcome.APPLIED]
    with harness.sessions() as s:
        row = s.get(SourceProgress, node)
        assert row is not None
    assert row.lost_total == 2**63 - 1 and row.resets_total == 2
    assert letters(harness) == []


def test_another_sources_snapshot_neither_shadows_nor_joins_the_genuine_one(harness: Harness) -> None:
    """node-donghu-1 publishes a snapshot under the id (and for the event) of node-gongye-1's: the
    genuine snapshot is not taken for a redelivery (it is a dead letter, kept for a replay), and
    the impostor's picture is attached to no case of the other node."""
    from gateway.evidence.models import Evidence
    from tests.support.evidence import snapshot

    event, outcome = harness.raise_event("smk-factory-a1")  # node-gongye-1's
    assert outcome is Outcome.APPLIED
    genuine = snapshot(harness, event.id)
    impostor = genuine.model_copy(update={"source": "node-donghu-1", "device_id": "cam-rental-yard"})
    assert harness.send(topics.node_evidence("node-donghu-1"), impostor) is Outcome.APPLIED
    assert harness.send(topics.node_evidence("node-gongye-1"), genuine) is Outcome.DEAD_LETTER
    [(reason, detail)] = letters(harness)
    assert reason == "bad_evidence" and "already held by 'node-donghu-1'" in detail
    with harness.sessions() as s:
        assert s.get(Evidence, genuine.evidence_id).source == "node-donghu-1"  # type: ignore[union-attr]
    [case] = cases(harness)
    assert case.evidence_ids == []  # the impostor named the event, but it is not its source's
