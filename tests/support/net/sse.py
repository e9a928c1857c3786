"""A Server-Sent Events reader for tests: what a browser's EventSource would receive."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class SseEvent:
    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


class SseReader:
    """Reads one event stream in a thread until closed (like EventSource, without reconnecting).

    Plain ``http.client`` so that ``close`` can shut the socket down under a blocked read:
    the test's "network drop" is immediate, as it is for the server.
    """

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: list[SseEvent] = []
        self.status: int | None = None
        self._lock = threading.Lock()
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._conn.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        self._response = self._conn.getresponse()
        self.status = self._response.status
        if self._conn.sock is not None:
            self._conn.sock.settimeout(None)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            while True:
                raw = self._response.readline()
                if not raw:
                    return
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if "data" in fields:
                        event = SseEvent(fields.get("event", "message"), fields["data"], fields.get("id"))
                        with self._lock:
                            self.events.append(event)
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        except (OSError, ValueError, http.client.HTTPException):
            return  # closed by the test

    def of(self, kind: str) -> list[SseEvent]:
        with self._lock:
            return [e for e in self.events if e.event == kind]

    def ended(self) -> bool:
        """The server closed the stream."""
        return not self._thread.is_alive()

    def last_id(self) -> str | None:
        with self._lock:
            ids = [e.id for e in self.events if e.id]
        return ids[-1] if ids else None

    def close(self) -> None:
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._conn.close()
