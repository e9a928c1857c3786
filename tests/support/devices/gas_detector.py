"""A Modbus gas detector for tests: a real pymodbus server (TCP, or RTU on a serial line).

Register map (unit 1), like common industrial %LEL detectors:
holding 0: gas concentration, 0.1 %LEL per count; holding 1: status bits
(bit 0 alarm, bit 1 fault, bit 2 warm-up); input 0..1: the same value as float32.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
import subprocess
import threading
import time
from pathlib import Path

from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from gridwatch.broker import free_port

HOLDING_WRITE = 16  # function code used to set holding registers
INPUT_TABLE = 4


def _device(unit_id: int) -> SimDevice:
    regs = lambda n: [SimData(0, count=n, values=0, datatype=DataType.REGISTERS)]  # noqa: E731
    bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
    return SimDevice(id=unit_id, simdata=(bits, bits, regs(4), regs(4)))


class GasDetector:
    def __init__(self, serial_port: str | None = None, unit_id: int = 1) -> None:
        self.port = free_port()
        self.serial_port = serial_port
        self.unit_id = unit_id
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._values = {0: 0, 1: 0}

    def _call(self, coro: object, timeout: float = 10) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)  # type: ignore[arg-type]

    def start(self) -> GasDetector:
        async def up() -> None:
            if self.serial_port:
                self._server = ModbusSerialServer(_device(self.unit_id), port=self.serial_port, baudrate=9600)
            else:
                self._server = ModbusTcpServer(_device(self.unit_id), address=("127.0.0.1", self.port))
            await self._server.serve_forever(background=True)

        self._call(up())
        self.set(lel=self._values[0] / 10, status=self._values[1])
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._call(self._server.shutdown())
            self._server = None

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def set(self, lel: float | None = None, status: int | None = None) -> None:
        """Concentration in %LEL and/or the status word; applied at once."""
        if lel is not None:
            self._values[0] = round(lel * 10)
        if status is not None:
            self._values[1] = status
        if self._server is None:
            return
        srv = self._server
        self._call(srv.async_setValues(self.unit_id, HOLDING_WRITE, 0, [self._values[0], self._values[1]]))
        hi, lo = struct.unpack(">HH", struct.pack(">f", self._values[0] / 10))
        self._call(srv.async_setValues(self.unit_id, INPUT_TABLE, 0, [hi, lo]))


class SerialLine:
    """Two linked pseudo-terminals (socat): the detector on one end, the node on the other."""

    def __init__(self, directory: Path) -> None:
        socat = shutil.which("socat")
        if socat is None:
            raise RuntimeError("socat is not installed: run scripts/setup.sh")
        self.device_end = str(directory / "ttyDETECTOR")
        self.node_end = str(directory / "ttyNODE")
        self._proc = subprocess.Popen(
            [socat, f"pty,raw,echo=0,link={self.device_end}", f"pty,raw,echo=0,link={self.node_end}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while not (Path(self.device_end).exists() and Path(self.node_end).exists()):
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("socat did not create the serial line")
            time.sleep(0.02)

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=5)
