"""A TCP relay in front of the API whose network can be cut and restored, like a flaky office link:
cutting closes every open connection at once and refuses new ones until it is restored."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class Cutter:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.up = threading.Event()
        self.up.set()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self.up.is_set():  # the link is down: the browser sees a network error
                self._shut(client)
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                self._shut(client)
                continue
            with self._lock:
                self._open |= {client, upstream}
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._shut(src, dst)

    def _shut(self, *socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
            with self._lock:
                self._open.discard(s)

    def cut(self) -> None:
        """Drop every connection now; refuse new ones until :meth:`restore`."""
        self.up.clear()
        with self._lock:
            live = list(self._open)
        self._shut(*live)

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self._server.close()

    def __enter__(self) -> Cutter:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()
