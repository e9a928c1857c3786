"""Several gateway processes on one host, kept running by a small supervisor.

One gateway process is bounded by one interpreter: paho's network thread (MQTT 5 packet
parsing) and the batch loop (decode, store, acknowledge) share one GIL, so it uses about
one core however many the host has. The design already lets any number of gateways share
the stream (MQTT 5 shared subscription, the ledger and the database's unique indexes decide
what is new), so ``gridwatch gateway --processes N`` simply runs N of them:

- process k (1..N) is an ordinary gateway with the id ``<gateway-id>-<k>`` — its own MQTT
  client id and persistent session, its own heartbeat row — and its own metrics port
  (``metrics_port + k - 1``); with N = 1 the id is the plain ``<gateway-id>``;
- a process that dies is started again under the same id after a back-off (1 s doubling to
  30 s), because Mosquitto keeps handing a stopped member its share of the stream: those
  messages wait in the broker until that same session comes back;
- SIGTERM/SIGINT to the supervisor stop every process (each finishes its batch, commits,
  acknowledges) and then the supervisor.

Keep N fixed for a deployment: lowering it leaves the sessions of the dropped ids in the
group, and the broker keeps queueing their share for them until ``session_expiry_s``.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0
STOP_TIMEOUT_S = 30.0


def process_settings(settings: GatewaySettings, k: int, n: int) -> GatewaySettings:
    """The settings of process k of n: its own id (MQTT session) and metrics port."""
    if n == 1:
        return settings
    port = settings.metrics_port + k - 1 if settings.metrics_port else None
    return settings.model_copy(update={"gateway_id": f"{settings.gateway_id}-{k}", "metrics_port": port})


def _child(settings_data: dict[str, Any], log_level: str) -> None:
    """One gateway process (``python -m gateway.processes LEVEL``, settings as JSON on stdin)."""
    from contracts.logs import setup_logging
    from gateway.service import Gateway

    setup_logging(log_level)
    gw = Gateway(GatewaySettings.model_validate(settings_data))
    signal.signal(signal.SIGTERM, lambda *_: gw.stop())
    signal.signal(signal.SIGINT, lambda *_: gw.stop())  # Ctrl-C reaches the whole process group
    gw.run()


class Supervisor:
    """Runs N gateway processes and restarts any that exits while it is not stopping."""

    def __init__(self, settings: GatewaySettings, processes: int, log_level: str = "INFO") -> None:
        if processes < 1:
            raise ValueError("--processes must be at least 1")
        self.settings = [process_settings(settings, k, processes) for k in range(1, processes + 1)]
        for s in self.settings:  # an id too long for the pattern fails here, naming it
            GatewaySettings.model_validate(s.model_dump())
        self.log_level = log_level
        self.stop_event = threading.Event()
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * processes
        self._backoff = [RESTART_MIN_S] * processes
        self._due = [0.0] * processes

    @property
    def pids(self) -> list[int | None]:
        return [p.pid if p is not None else None for p in self._procs]

    def _start(self, k: int) -> None:
        s = self.settings[k]
        # A fresh interpreter (not a fork of this one): its own GIL, nothing inherited but the settings.
        # The settings go through stdin, not argv: they may hold the broker's and the store's passwords.
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.processes", self.log_level], stdin=subprocess.PIPE
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(s.model_dump(mode="json")).encode())
        proc.stdin.close()
        self._procs[k] = proc
        log.info(
            "started gateway process %s (pid %s)", s.gateway_id, proc.pid, extra={"gateway_id": s.gateway_id}
        )

    def run(self) -> int:
        # Settle the schema once here (the processes would only wait on the migration lock).
        from gateway.schema.migrate import prepare_schema
        from gateway.store.db import make_engine

        first = self.settings[0]
        engine = make_engine(first.database_url)
        try:
            prepare_schema(engine, first.db_schema, first.db_schema_wait_s)
        finally:
            engine.dispose()
        for k in range(len(self._procs)):
            self._start(k)
        started_at = [time.monotonic()] * len(self._procs)
        try:
            while not self.stop_event.wait(0.2):
                now = time.monotonic()
                for k, proc in enumerate(self._procs):
                    gid = self.settings[k].gateway_id
                    if proc is not None and proc.poll() is not None:
                        # A process that ran a while before dying starts again at once-ish; one that
                        # keeps dying (bad configuration, store down) backs off.
                        if now - started_at[k] > 10 * RESTART_MAX_S:
                            self._backoff[k] = RESTART_MIN_S
                        log.error(
                            "gateway process %s exited with %s; starting it again in %.0f s (same id: "
                            "the broker keeps its share of the stream for it)",
                            gid,
                            proc.returncode,
                            self._backoff[k],
                            extra={"gateway_id": gid},
                        )
                        self._procs[k] = None
                        self._due[k] = now + self._backoff[k]
                        self._backoff[k] = min(self._backoff[k] * 2, RESTART_MAX_S)
                    if self._procs[k] is None and now >= self._due[k]:
                        self._start(k)
                        started_at[k] = now
        finally:
            self._stop_all()
        return 0

    def _stop_all(self) -> None:
        running = [p for p in self._procs if p is not None and p.poll() is None]
        for p in running:
            p.terminate()  # SIGTERM: the gateway finishes its batch and disconnects
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for p in running:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("gateway process pid %s did not stop in time; killing it", p.pid)
                p.kill()  # nothing acknowledged is lost: unacknowledged messages are redelivered
                p.wait(5)

    def stop(self) -> None:
        self.stop_event.set()


if __name__ == "__main__":
    _child(json.loads(sys.stdin.read()), sys.argv[1])
