"""A reading's line protocol written directly is the text influxdb-client's Point writes for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import Measurement, SensorReading
from contracts.devices import DeviceFlag
from gateway.telemetry_points import line_protocol, points, sensor_line

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
quantities = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)
values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**6), max_value=10**6).map(float),  # whole numbers: "3", not "3.0"
    st.sampled_from([0.0, -0.0, 1e16, 1e-7, 123456789.125, 0.1]),
)


@settings(max_examples=150, deadline=None)
@given(
    measurements=st.lists(st.tuples(quantities, values), max_size=6),
    flags=st.lists(st.sampled_from(list(DeviceFlag)), max_size=4),
    ms=st.integers(min_value=0, max_value=10**9),
    device=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True),
)
def test_a_readings_line_is_the_points_line(
    measurements: list[tuple[str, float]], flags: list[DeviceFlag], ms: int, device: str
) -> None:
    reading = SensorReading(
        source="node-gongye-1",
        seq=1,
        ts=T0 + timedelta(milliseconds=ms),
        device_id=device,
        measurements=[Measurement(quantity=q, value=v) for q, v in measurements],
        flags=flags,
    )
    [point] = points(reading)
    assert sensor_line(reading) == point.to_line_protocol()
    assert line_protocol(reading) == [point.to_line_protocol()]


def test_a_reading_with_nothing_measured_is_still_seen() -> None:
    reading = SensorReading(source="node-gongye-1", seq=1, ts=T0, device_id="smk-factory-a1")
    assert (
        sensor_line(reading)
        == f"sensor,device_id=smk-factory-a1,source=node-gongye-1 seen=1i {int(T0.timestamp() * 1000)}"
    )
