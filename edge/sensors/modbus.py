"""Modbus TCP and RTU gas detectors, polled through pymodbus.

Sensors that share a transport (one TCP device or Modbus gateway, one RS-485
serial line) share one client and one polling thread, because a serial bus
answers one request at a time. Each sensor is polled on its own interval;
pymodbus applies the configured timeout and retries.

Per poll: the value register(s) are read and decoded (``convert_from_registers``)
to an engineering value ``raw * scale + offset``; the status register, if
configured, gives the alarm / fault / warm-up bits. What goes wrong is counted
as bad input with the device id and never stops the poller:

- no answer (timeout, connection refused) — after ``offline_after_failures``
  polls in a row the detector is offline;
- a Modbus exception response (illegal address, ...) or a value outside its
  unit's range — the register map does not match the device: a fault.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ModbusException

from contracts import DeviceFlag, Measurement, Unit
from contracts.clock import Clock
from contracts.site.models import EdgeNodeConfig, ModbusRegister, ModbusSource, Sensor, SensorKind
from edge.sensors import metrics
from edge.sensors.bus import SensorConfigError
from edge.sensors.observation import PLAUSIBLE, Observation
from edge.sensors.service import SensorService

log = logging.getLogger(__name__)
PYMODBUS_LOGGER = "pymodbus.logging"  # every pymodbus record comes from this one logger


class DemoteToDebug(logging.Filter):
    """pymodbus logs every expected timeout or refused connection at WARNING/ERROR without
    saying which detector; the poller logs its own line with the device id and counts it.
    pymodbus's records stay available, at DEBUG: shown only when debug is on for pymodbus."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(PYMODBUS_LOGGER).isEnabledFor(logging.DEBUG)


def quiet_pymodbus() -> None:
    """Install :class:`DemoteToDebug` on pymodbus's logger (once)."""
    logger = logging.getLogger(PYMODBUS_LOGGER)
    if not any(isinstance(f, DemoteToDebug) for f in logger.filters):
        logger.addFilter(DemoteToDebug())


EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target did not respond",
}
WORDS = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}


class PollError(Exception):
    def __init__(self, reason: str, detail: str, answered: bool) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.answered = answered  # the device replied (a fault), or it did not (offline)


def transport_key(source: ModbusSource) -> str:
    if source.protocol == "modbus_tcp":
        return f"tcp://{source.host}:{source.port or 502}"
    return f"rtu://{source.serial_port}"


@dataclass
class _Polled:
    sensor: Sensor
    source: ModbusSource
    next_due: float = 0.0
    failures: int = 0


@dataclass
class ModbusLine:
    """One transport and the detectors on it, polled by one thread."""

    key: str
    polled: list[_Polled] = field(default_factory=list)

    def make_client(self) -> ModbusTcpClient | ModbusSerialClient:
        src = self.polled[0].source
        timeout = max(p.source.timeout_s for p in self.polled)
        retries = max(p.source.retries for p in self.polled)
        if src.protocol == "modbus_tcp":
            return ModbusTcpClient(src.host or "", port=src.port or 502, timeout=timeout, retries=retries)
        return ModbusSerialClient(
            src.serial_port or "", baudrate=src.baudrate, timeout=timeout, retries=retries
        )


def lines_for(node: EdgeNodeConfig) -> list[ModbusLine]:
    lines: dict[str, ModbusLine] = {}
    for s in node.sensors:
        if not isinstance(s.source, ModbusSource):
            continue
        line = lines.setdefault(transport_key(s.source), ModbusLine(transport_key(s.source)))
        if line.polled and s.source.protocol == "modbus_rtu":
            first = line.polled[0]
            if first.source.baudrate != s.source.baudrate:
                raise SensorConfigError(
                    f"sensors[{s.id}].source.baudrate {s.source.baudrate} differs from "
                    f"sensors[{first.sensor.id}] ({first.source.baudrate}) on the same serial line "
                    f"{s.source.serial_port}; one line, one speed"
                )
        line.polled.append(_Polled(s, s.source))
    return list(lines.values())


class ModbusPoller:
    """Polls one line in its own thread until stopped."""

    def __init__(self, line: ModbusLine, service: SensorService, clock: Clock) -> None:
        self.line = line
        self.service = service
        self.clock = clock
        quiet_pymodbus()
        self.client = line.make_client()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"modbus-{self.line.key}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            due = [p for p in self.line.polled if p.next_due <= now]
            for p in due:
                if self._stop.is_set():
                    return
                try:
                    self.poll_once(p)
                except Exception:  # a bug for one detector must not stop the line
                    log.exception("modbus poll failed", extra={"device_id": p.sensor.id})
                p.next_due = max(now, p.next_due) + p.source.poll_interval_s
            wait = min(p.next_due for p in self.line.polled) - time.monotonic()
            self._stop.wait(max(0.0, wait))

    def poll_once(self, p: _Polled) -> None:
        started = time.perf_counter()
        try:
            obs = self._read(p)
        except PollError as exc:
            log.debug(
                "modbus poll failed: %s",
                exc.detail,
                extra={"device_id": p.sensor.id, "line": self.line.key, "reason": exc.reason},
            )
            self.service.bad_input(p.sensor.id, exc.reason, exc.detail)
            if exc.answered:
                p.failures = 0
                self.service.observe(Observation(p.sensor.id, self.clock.now(), error=exc.detail), "modbus")
            else:
                p.failures += 1
                if p.failures >= p.source.offline_after_failures:
                    self.service.availability(
                        p.sensor.id, False, f"no Modbus answer for {p.failures} polls: {exc.detail}"
                    )
            return
        finally:
            metrics.MODBUS_POLL_SECONDS.labels(p.sensor.id).set(time.perf_counter() - started)
        p.failures = 0
        self.service.observe(obs, "modbus")

    def _read(self, p: _Polled) -> Observation:
        src = p.source
        value = self._value(
            src.value, self._registers(src.value.table, src.value.address, WORDS[src.value.type], src.unit_id)
        )
        flags: set[DeviceFlag] = set()
        known: set[DeviceFlag] = set()
        if src.status is not None:
            [word] = self._registers(src.status.table, src.status.address, 1, src.unit_id)
            for bit, flag in (
                (src.status.alarm_bit, DeviceFlag.ALARM),
                (src.status.fault_bit, DeviceFlag.FAULT),
                (src.status.warmup_bit, DeviceFlag.WARMUP),
            ):
                if bit is not None:
                    known.add(flag)
                    if word >> bit & 1:
                        flags.add(flag)
        low, high = PLAUSIBLE.get(src.value.unit, (float("-inf"), float("inf")))
        if not low <= value <= high and DeviceFlag.WARMUP not in flags:
            raise PollError(
                "out_of_range",
                f"register {src.value.table} {src.value.address} gives {value:g} {src.value.unit.value}, "
                f"outside {low:g}..{high:g}: check type, scale and word_order against the device's "
                "register map",
                answered=True,
            )
        toxic_ppm = src.value.unit is Unit.PPM and p.sensor.kind is SensorKind.TOXIC_GAS
        quantity = "co" if toxic_ppm else "gas"
        m = Measurement(quantity=quantity, value=round(value, 6), unit=src.value.unit)
        return Observation(p.sensor.id, self.clock.now(), (m,), frozenset(flags), frozenset(known))

    def _registers(self, table: str, address: int, count: int, unit_id: int) -> list[int]:
        read = self.client.read_holding_registers if table == "holding" else self.client.read_input_registers
        where = f"{table} register {address}" + (f"..{address + count - 1}" if count > 1 else "")
        try:
            if not self.client.connected and not self.client.connect():
                raise PollError("no_answer", f"cannot connect to {self.line.key}", answered=False)
            rr = read(address, count=count, device_id=unit_id)
        except ModbusException as exc:
            self.client.close()  # start clean next time
            raise PollError(
                "no_answer", f"no answer reading {where} of unit {unit_id}: {exc}", answered=False
            ) from None
        except OSError as exc:
            self.client.close()
            raise PollError("no_answer", f"{self.line.key}: {exc}", answered=False) from None
        if rr.isError():
            code = getattr(rr, "exception_code", None)
            if code in (10, 11):  # a Modbus gateway could not reach the detector: silence, not a fault
                raise PollError("no_answer", f"unit {unit_id}: {EXCEPTION_NAMES[code]}", answered=False)
            name = EXCEPTION_NAMES.get(code or 0, "unknown exception")
            raise PollError(
                "modbus_exception",
                f"unit {unit_id} answered exception {code} ({name}) reading {where}: "
                "the register map does not match the device",
                answered=True,
            )
        registers = list(getattr(rr, "registers", []))
        if len(registers) != count:
            raise PollError(
                "short_answer", f"asked {count} registers at {where}, got {len(registers)}", answered=True
            )
        return registers

    def _value(self, reg: ModbusRegister, registers: list[int]) -> float:
        dt = self.client.DATATYPE[reg.type.upper()]
        raw = self.client.convert_from_registers(registers, dt, word_order=reg.word_order)
        return float(raw) * reg.scale + reg.offset  # type: ignore[arg-type]
