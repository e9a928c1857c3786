"""A real network camera stand-in: an HTTP MJPEG stream (multipart/x-mixed-replace,
what many IP cameras serve) of real footage, that can go away and come back on
the same port."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

from tests.support.video.media import clip


class MjpegCamera:
    def __init__(self, footage: Path, fps: float = 10.0, every: int = 1, limit: int | None = 100) -> None:
        self.jpegs = [cv2.imencode(".jpg", f)[1].tobytes() for f in clip(footage, every, limit)]
        self.fps = fps
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._live = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> MjpegCamera:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                i = 0
                try:
                    while camera._live.is_set():
                        jpeg = camera.jpegs[i % len(camera.jpegs)]
                        head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                        self.wfile.write(head.encode() + jpeg + b"\r\n")
                        i += 1
                        time.sleep(1 / camera.fps)
                except OSError:
                    pass  # the client went away

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._live.set()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """The camera goes away: open streams end and the port refuses connections."""
        self._live.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_refused(self, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            except OSError:
                return
            time.sleep(0.05)
        raise AssertionError("the stand-in camera still accepts connections")
