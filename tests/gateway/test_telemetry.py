"""Sensor readings and edge health to a real VictoriaMetrics through influxdb-client's batching API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from contracts import EdgeHealth, Measurement, SensorReading, encode, topics
from contracts.examples import examples
from gateway import metrics
from gateway.cases.models import Case
from gateway.flows.ingest import Incoming, Outcome
from gateway.telemetry_influx import InfluxSettings, InfluxTelemetry
from gridwatch.victoria import VictoriaMetrics
from tests.support.harness import Harness
from tests.support.waiting import wait_until


@pytest.fixture
def sink(victoria_metrics: VictoriaMetrics, harness: Harness) -> Iterator[InfluxTelemetry]:
    telemetry = InfluxTelemetry(
        InfluxSettings(
            url=victoria_metrics.url,
            flush_interval_ms=100,
            buffer_messages=200,
            max_unconfirmed_lines=200,
            chunk_lines=50,
            timeout_ms=1000,
            max_retry_time_ms=1000,
        )
    )
    harness.pipeline.telemetry = telemetry
    yield telemetry
    telemetry.close()


def reading(h: Harness, device: str, n: int, ahead_s: float | None = None) -> Incoming:
    """The n-th reading, made ``ahead_s`` (default n) seconds after the gateway's present."""
    node = h.ctx.site.device(device)[0]  # type: ignore[index]
    msg = SensorReading(
        source=node,
        seq=n,
        ts=h.clock.now() + timedelta(seconds=n if ahead_s is None else ahead_s),
        device_id=device,
        measurements=[
            Measurement(quantity="smoke_density", value=n / 100, unit="dB/m"),
            Measurement(quantity="battery", value=90),
        ],
        flags=["test"] if n == 3 else [],
    )
    return Incoming(topics.node_reading(node), encode(msg))


def test_readings_and_health_are_read_back_from_victoria_metrics(
    harness: Harness, sink: InfluxTelemetry, victoria_metrics: VictoriaMetrics
) -> None:
    batch = [reading(harness, "smk-factory-a1", n) for n in range(1, 6)]
    health: EdgeHealth = examples()["edge_health"].model_copy(update={"ts": harness.clock.now()})  # type: ignore[assignment]
    batch.append(Incoming(topics.node_health(health.source), encode(health)))
    assert harness.pipeline.process(batch) == [Outcome.TELEMETRY] * 6
    assert sink.flush(10)
    [series] = victoria_metrics.export('{__name__="sensor_smoke_density"}')
    assert series["metric"] == {
        "__name__": "sensor_smoke_density",
        "device_id": "smk-factory-a1",
        "source": "node-gongye-1",
    }
    start_ms = int(harness.clock.now().timestamp() * 1000)
    assert series["values"] == [0.01, 0.02, 0.03, 0.04, 0.05]
    assert series["timestamps"] == [start_ms + 1000 * n for n in range(1, 6)]
    [flag] = victoria_metrics.export('{__name__="sensor_flag_test"}')
    assert flag["values"] == [1]
    [camera] = victoria_metrics.export('{__name__="camera_frames_in"}')
    assert camera["metric"]["camera_id"] == health.cameras[0].camera_id
    [outbox] = victoria_metrics.export('{__name__="edge_outbox_depth"}')
    assert outbox["metric"]["source"] == health.source
    assert sink.status()["written_lines"] == 5 + 1 + len(health.cameras) + len(health.sensors)
    assert sink.warnings() == []


def test_a_stopped_telemetry_store_never_holds_up_cases(
    harness: Harness, sink: InfluxTelemetry, victoria_metrics: VictoriaMetrics
) -> None:
    victoria_metrics.stop()
    for start in range(0, 1000, 100):
        batch = [
            reading(harness, "smk-rental-12", n, ahead_s=n - start) for n in range(start + 1, start + 101)
        ]
        assert harness.pipeline.process(batch) == [Outcome.TELEMETRY] * 100
        harness.clock.advance(100)  # the sensor's clock and the gateway's move on together
    _, outcome = harness.raise_event("smk-rental-12")
    assert outcome is Outcome.APPLIED
    with harness.sessions() as s:
        [case] = s.scalars(select(Case)).all()
    assert case.status == "dispatched"  # the alarm went through while telemetry was failing
    wait_until(lambda: not sink.status()["healthy"], timeout=10, what="the sink to notice the store is down")
    status = sink.status()
    assert status["buffered_messages"] <= 200  # bounded
    # What did not fit was dropped, and counted: at most 200 readings held and 200 lines with the
    # client; the rest refused for a full buffer, or (a slow run outlasting max_retry_time_ms) given
    # up by the client after their retries, one line a reading.
    assert status["dropped_messages"] + status["dropped_lines"] >= 1000 - 200 - 200
    assert any("failing" in w for w in sink.warnings())
    assert metrics.TELEMETRY_HEALTHY._value.get() == 0  # type: ignore[attr-defined]

    victoria_metrics.start()  # same port: writing resumes by itself, the held readings first
    wait_until(lambda: sink.status()["healthy"], timeout=30, what="writes to succeed again")
    assert sink.flush(30)
    assert harness.pipeline.process([reading(harness, "smk-rental-12", 5000, ahead_s=0)]) == [
        Outcome.TELEMETRY
    ]
    assert sink.flush(30)
    assert any(
        5000 / 100 in s["values"] for s in victoria_metrics.export('{__name__="sensor_smoke_density"}')
    )
    assert sink.warnings() and "dropped" in sink.warnings()[0]  # the drops stay on the record


def test_the_end_of_a_burst_is_written_at_once_and_a_steady_trickle_within_the_flush_interval(
    harness: Harness, victoria_metrics: VictoriaMetrics
) -> None:
    # Long enough that waiting for it could not pass: the end of a burst used to wait for
    # influxdb-client's batching window (four chunks to a batch), a trickle for a pause.
    telemetry = InfluxTelemetry(
        InfluxSettings(url=victoria_metrics.url, flush_interval_ms=30_000, chunk_lines=10_000)
    )
    harness.pipeline.telemetry = telemetry
    try:
        burst = [reading(harness, "smk-factory-a1", n) for n in range(1, 6)]
        assert harness.pipeline.process(burst) == [Outcome.TELEMETRY] * 5
        wait_until(lambda: telemetry.status()["written_lines"] == len(burst), timeout=10, what="the burst")
    finally:
        telemetry.close()

    telemetry = InfluxTelemetry(
        InfluxSettings(url=victoria_metrics.url, flush_interval_ms=500, chunk_lines=10_000)
    )
    harness.pipeline.telemetry = telemetry
    try:
        # One reading every 20 ms never leaves the writer idle for its 0.1 s: without the age
        # rule nothing would be written until the trickle stops (or a chunk filled).
        n = 100
        while telemetry.status()["written_lines"] == 0:
            n += 1
            assert n < 100 + 500, "nothing written during a 10 s trickle"
            reading_n = reading(harness, "smk-factory-a1", n, ahead_s=0)
            assert harness.pipeline.process([reading_n]) == [Outcome.TELEMETRY]
            harness.clock.advance(1)
            time.sleep(0.02)
    finally:
        telemetry.close()
