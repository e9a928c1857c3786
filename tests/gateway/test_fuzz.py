"""100,000 fuzzed payloads: no crash, and dead letters + accepted messages reconcile with what was sent.

The 100,000 go straight into the pipeline (decode → dead letters → ledger → cases)
in batches of 1,000, as the consumer would hand them over, instead of one MQTT
round trip each: the broker adds nothing to what is tested here and would make
this minutes long. The same kind of stream goes through a real Mosquitto and
a running gateway in tests/system/test_ingest_robustness.py (2,000 payloads).
SQLite only: the store under test is the same code on PostgreSQL, which the
other ingest tests cover.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from contracts.clock import ManualClock
from contracts.site import Site
from gateway.cases.models import Case
from gateway.context import GatewayContext
from gateway.events.models import DeadLetter, EventRecord
from gateway.flows.ingest import Incoming, Outcome, Pipeline
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory
from gateway.telemetry import NullTelemetry
from tests.support.fuzzing import T0, Fuzzer

N = 100_000


def test_a_hundred_thousand_fuzzed_payloads_reconcile(sqlite_url: str, demo_site: Site) -> None:
    stream = Fuzzer(seed=20261122).stream(N)
    assert stream.broken > 40_000 and len(stream.hazard_ids) > 20_000 and stream.duplicates > 4_000
    engine = make_engine(sqlite_url)
    upgrade(engine)
    sessions = session_factory(engine)
    telemetry = NullTelemetry()
    pipeline = Pipeline(sessions, GatewayContext(demo_site, "gateway-1", ManualClock(T0)), telemetry)
    outcomes: Counter[Outcome] = Counter()
    for start in range(0, N, 1000):
        batch = [Incoming(t, p) for t, p in stream.messages[start : start + 1000]]
        outcomes.update(pipeline.process(batch))

    assert sum(outcomes.values()) == N
    assert outcomes[Outcome.DEAD_LETTER] == stream.broken
    assert outcomes[Outcome.APPLIED] == len(stream.hazard_ids)
    assert outcomes[Outcome.DUPLICATE] == stream.duplicates
    assert outcomes[Outcome.TELEMETRY] == stream.readings == telemetry.received
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == stream.broken
        assert s.scalar(select(func.count()).select_from(EventRecord)) == len(stream.hazard_ids)
        per_device = dict(s.execute(select(Case.device_id, Case.event_count)).all())
        reasons = dict(s.execute(select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)).all())
    assert per_device == dict(stream.events_per_device)  # one case per place, every event counted once
    assert set(reasons) == {
        "bad_json",
        "invalid",
        "bad_topic",
        "wrong_kind",
        "source_mismatch",
        "unsupported_version",
    }
    engine.dispose()
