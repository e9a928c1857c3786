"""A real HTTP receiver for webhook tests: records every post; can answer ok, fail, stall or be down.

No HTTP client is mocked: the gateway's sender talks to this server over TCP.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Post:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


class Receiver:
    """``mode``: "ok" (200 + {"errcode": 0}), "500", "404", "errcode" (200 + errcode 93000),
    or "stall" (answers after ``stall_s``)."""

    def __init__(self, port: int = 0) -> None:
        self.posts: list[Post] = []
        self.mode = "ok"
        self.stall_s = 0.0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port or _free_port()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                url = urlsplit(self.path)
                post = Post(
                    url.path,
                    {k: v[0] for k, v in parse_qs(url.query).items()},
                    dict(self.headers.items()),
                    json.loads(raw.decode()),
                    time.monotonic(),
                )
                with receiver._lock:
                    receiver.posts.append(post)
                if receiver.mode == "stall":
                    time.sleep(receiver.stall_s)
                code, answer = {
                    "500": (500, {"error": "internal"}),
                    "404": (404, {"error": "no such hook"}),
                    "errcode": (200, {"errcode": 93000, "errmsg": "invalid webhook url"}),
                }.get(receiver.mode, (200, {"errcode": 0, "errmsg": "ok"}))
                body = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> Receiver:
        """Close the port: connections are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        return self

    def received(self, path: str | None = None) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if path is None or p.path == path]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
