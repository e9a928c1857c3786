"""Start a private Mosquitto on a free port (demo and tests).

The generated configuration follows what we ship in docker/mosquitto by default
(persistence on, a large ``max_queued_messages``); tests that prove the delivery
guarantee does not depend on the broker turn persistence off, shrink the queue,
stop the broker and start it again on the same port, or kill it with SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
# Where Mosquitto's dynamic-security plugin lives: Debian/Ubuntu's multiarch directory (the
# mosquitto package ships it), a source build's, the official Docker image's.
DYNSEC_PLUGINS = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/arm-linux-gnueabihf/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
)


class BrokerError(RuntimeError):
    pass


def find_mosquitto() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name) or (name if os.path.isfile(name) and os.access(name, os.X_OK) else None)
        if path:
            return path
    return None


def find_dynsec_plugin() -> str | None:
    for path in DYNSEC_PLUGINS:
        if os.path.isfile(path):
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing answers on {host}:{port} after {timeout:.0f} s")


@dataclass
class Mosquitto:
    """A Mosquitto process with its own configuration, data and log."""

    workdir: Path
    port: int = field(default_factory=free_port)
    extra_config: str = ""
    host: str = "127.0.0.1"
    persistence: bool = True  # sessions, subscriptions and queued messages saved to disk
    autosave_interval_s: int = 1  # how often the in-memory state is written (a SIGKILL loses the rest)
    max_queued_messages: int = 1_000_000  # per offline (or slow) client; Mosquitto drops past it
    # The dynamic-security plugin's file: every client logs in (no anonymous access), as the
    # plugin's roles allow (docs/broker-access.md); None: anyone may connect (most tests).
    dynsec_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        lines = [
            f"listener {self.port} {self.host}",
            *self._access(),
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {data}/",
            f"autosave_interval {self.autosave_interval_s}",
            f"max_queued_messages {self.max_queued_messages}",
            "max_inflight_messages 1000",
            f"log_dest file {self.log_path}",
            "log_dest topic",  # $SYS/broker/log/N: refused logins (gateway/devices/broker_log.py)
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise it drops to 'mosquitto', which cannot write here
        self.config_path.write_text("\n".join(lines) + "\n" + self.extra_config)

    def _access(self) -> list[str]:
        if self.dynsec_file is None:
            return ["allow_anonymous true"]
        plugin = find_dynsec_plugin()
        if plugin is None:
            raise BrokerError(
                "Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so) is not in any of "
                f"{', '.join(DYNSEC_PLUGINS)}; install Debian's mosquitto package (scripts/setup.sh)"
            )
        return ["allow_anonymous false", f"plugin {plugin}", f"plugin_opt_config_file {self.dynsec_file}"]

    def start(self, timeout: float = 10.0) -> Mosquitto:
        binary = find_mosquitto()
        if binary is None:
            raise BrokerError(
                "mosquitto is not installed; run scripts/setup.sh or 'apt-get install mosquitto'"
            )
        self.write_config()  # always from the fields: a restart may change persistence or limits
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_for_port(self.host, self.port, timeout)
        except BrokerError:
            self.stop()
            log = self.log_path.read_text() if self.log_path.exists() else ""
            raise BrokerError(f"mosquitto did not start on port {self.port}: {log[-2000:]}") from None
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM: Mosquitto disconnects its clients and, with persistence on, saves its state."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the broker dies at once; what it had not autosaved is gone."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        """Stop, stay down ``down_for`` seconds, start again on the same port."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
