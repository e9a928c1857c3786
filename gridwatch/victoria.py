"""Start a private VictoriaMetrics on a free port (tests, benchmarks, the demo).

VictoriaMetrics accepts the InfluxDB v2 write API (``/api/v2/write``), so the
gateway's influxdb-client writes to it unchanged; points are read back with
``/api/v1/export``. Installed from the Debian package ``victoria-metrics``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridwatch.broker import BrokerError, free_port, wait_for_port

CANDIDATES = ("victoria-metrics", "/usr/bin/victoria-metrics", "/usr/local/bin/victoria-metrics")


def find_victoria_metrics() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name) or (name if os.path.isfile(name) and os.access(name, os.X_OK) else None)
        if path:
            return path
    return None


@dataclass
class VictoriaMetrics:
    workdir: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "victoria-metrics.log"

    def start(self, timeout: float = 15.0) -> VictoriaMetrics:
        binary = find_victoria_metrics()
        if binary is None:
            raise BrokerError(
                "victoria-metrics is not installed: run scripts/setup.sh "
                "(or apt-get install victoria-metrics)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"-httpListenAddr={self.host}:{self.port}",
                    f"-storageDataPath={self.workdir / 'data'}",
                    "-retentionPeriod=100y",  # test points may carry old timestamps
                    "-search.latencyOffset=0s",  # read back what was just written
                    "-loggerLevel=WARN",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_port(self.host, self.port, timeout)
        except BrokerError:
            self.stop()
            raise BrokerError(
                f"victoria-metrics did not start: {self.log_path.read_text()[-2000:]}"
            ) from None
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def flush(self) -> None:
        """Make recent writes visible to queries at once."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()

    def export(self, match: str) -> list[dict[str, Any]]:
        """Every series matching the selector, with its values and timestamps (ms)."""
        self.flush()
        query = urllib.parse.urlencode({"match[]": match, "start": "0"})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=30) as resp:
            return [json.loads(line) for line in resp.read().splitlines() if line.strip()]

    def __enter__(self) -> VictoriaMetrics:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
