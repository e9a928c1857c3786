"""zigbee2mqtt devices, accepted as zigbee2mqtt publishes them.

``<base>/<friendly_name>`` carries the device state as JSON (``smoke``, ``gas``,
``carbon_monoxide``, ``tamper``, ``battery_low``, ``battery``, ``linkquality``,
``smoke_density``, ``gas_density``, ``test``, ...); ``<base>/<friendly_name>/availability``
is retained and carries ``{"state": "online"|"offline"}`` (older releases: the bare
word). Unknown keys are ignored (devices report many); known keys with the wrong
type make the message bad input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError

from contracts import DeviceFlag, Measurement, Unit
from contracts.codec import describe_validation_error
from contracts.site.models import Sensor, SensorKind, Zigbee2MqttSource
from edge.sensors.observation import Observation

# Commands and bridge traffic under the base topic that are not device state.
IGNORED_SUFFIXES = ("/set", "/get")
BRIDGE = "bridge"

Number = float | int


class Z2mState(BaseModel):
    """The keys we use; bool keys must be JSON booleans and numbers numbers."""

    model_config = ConfigDict(extra="allow", strict=True)

    smoke: StrictBool | None = None
    gas: StrictBool | None = None
    carbon_monoxide: StrictBool | None = None
    tamper: StrictBool | None = None
    battery_low: StrictBool | None = None
    test: StrictBool | None = None
    battery: Number | None = None
    linkquality: Number | None = None
    smoke_density: Number | None = None
    gas_density: Number | None = None
    co: Number | None = None
    temperature: Number | None = None
    humidity: Number | None = None


# Which boolean is the detector's own alarm output, per sensor kind.
ALARM_KEYS = {
    SensorKind.SMOKE: ("smoke",),
    SensorKind.COMBUSTIBLE_GAS: ("gas",),
    SensorKind.TOXIC_GAS: ("carbon_monoxide", "gas"),
    SensorKind.TEMPERATURE: (),
}
MEASURED = (
    ("battery", Unit.PERCENT),
    ("linkquality", Unit.LQI),
    ("smoke_density", Unit.NONE),  # vendor scale, no unit in zigbee2mqtt
    ("gas_density", Unit.NONE),
    ("co", Unit.PPM),
    ("temperature", Unit.CELSIUS),
    ("humidity", Unit.PERCENT),
)
FLAG_KEYS = (
    ("tamper", DeviceFlag.TAMPER),
    ("battery_low", DeviceFlag.BATTERY_LOW),
    ("test", DeviceFlag.TEST),
)


class BadInput(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message under a zigbee2mqtt base topic goes."""

    friendly_name: str
    availability: bool


def route(base: str, topic: str) -> Route | None:
    """None for traffic that is not device state (bridge, commands)."""
    rest = topic[len(base) + 1 :] if topic.startswith(base + "/") else ""
    if not rest or rest.split("/")[0] == BRIDGE or rest.endswith(IGNORED_SUFFIXES):
        return None
    if rest.endswith("/availability"):
        return Route(rest.removesuffix("/availability"), True)
    return Route(rest, False)


def parse_state(sensor: Sensor, payload: bytes, at: datetime) -> Observation:
    """A device state message → Observation; :class:`BadInput` says what is wrong."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput("bad_json", f"zigbee2mqtt payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput("bad_json", f"zigbee2mqtt payload is {type(data).__name__}, expected an object")
    try:
        state = Z2mState.model_validate(data)
    except ValidationError as exc:
        raise BadInput("bad_field", f"zigbee2mqtt payload: {describe_validation_error(exc)}") from None

    flags: set[DeviceFlag] = set()
    known: set[DeviceFlag] = set()
    measurements: list[Measurement] = []
    alarm_values = [getattr(state, k) for k in ALARM_KEYS[sensor.kind] if getattr(state, k) is not None]
    if alarm_values:
        known.add(DeviceFlag.ALARM)
        if any(alarm_values):
            flags.add(DeviceFlag.ALARM)
    for key in ("smoke", "gas", "carbon_monoxide"):
        value = getattr(state, key)
        if value is not None:
            measurements.append(Measurement(quantity=key, value=1.0 if value else 0.0, unit=Unit.BOOL))
    for key, flag in FLAG_KEYS:
        value = getattr(state, key)
        if value is not None:
            known.add(flag)
            if value:
                flags.add(flag)
    for key, unit in MEASURED:
        value = getattr(state, key)
        if value is not None:
            if isinstance(value, float) and value != value:  # NaN
                raise BadInput("bad_field", f"zigbee2mqtt payload: {key} is not a number")
            measurements.append(Measurement(quantity=key, value=float(value), unit=unit))
    if not known and not measurements:
        raise BadInput("no_data", "zigbee2mqtt payload carries none of the keys a smoke/gas sensor reports")
    return Observation(sensor.id, at, tuple(measurements), frozenset(flags), frozenset(known))


def parse_availability(payload: bytes) -> bool:
    """True online / False offline; :class:`BadInput` otherwise."""
    text = payload.decode("utf-8", "replace").strip()
    state: object = text
    if text.startswith("{"):
        try:
            state = json.loads(text).get("state")
        except (json.JSONDecodeError, AttributeError):
            raise BadInput("bad_json", f"availability payload is not JSON: {text[:60]!r}") from None
    if state == "online":
        return True
    if state == "offline":
        return False
    raise BadInput("bad_field", f"availability state {state!r}; expected 'online' or 'offline'")


def friendly_names(sensors: list[Sensor]) -> dict[str, dict[str, Sensor]]:
    """base topic -> friendly name -> sensor."""
    out: dict[str, dict[str, Sensor]] = {}
    for s in sensors:
        if isinstance(s.source, Zigbee2MqttSource):
            out.setdefault(s.source.base_topic, {})[s.source.friendly_name] = s
    return out
