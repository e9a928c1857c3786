"""A TCP proxy in front of a real broker that can hold back the broker's SUBACKs.

It lets a test look at a client in the moment between the broker accepting its
connection (CONNACK) and granting its subscriptions (SUBACK) — a moment too
short to observe on a loopback connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

from gridwatch.broker import Mosquitto

SUBACK = 9  # MQTT control packet type


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_packet(sock: socket.socket) -> tuple[int, bytes]:
    """One MQTT packet: (its type, its bytes as they were on the wire)."""
    first = _read_exactly(sock, 1)
    raw, length, shift = first, 0, 0
    while True:
        byte = _read_exactly(sock, 1)
        raw += byte
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    return first[0] >> 4, raw + _read_exactly(sock, length)


class SubackGate:
    """Forwards everything; a SUBACK from the broker waits until ``release`` is set.

    ``suback_held`` is set when one is waiting (the broker has answered, the client
    does not know yet).
    """

    def __init__(self, broker: Mosquitto) -> None:
        self.broker = broker
        self.release = threading.Event()
        self.suback_held = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = [self._server]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.broker.host, self.broker.port))
            self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._from_broker, args=(upstream, client), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._shut(src, dst)

    def _from_broker(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                kind, raw = _read_packet(src)
                if kind == SUBACK and not self.release.is_set():
                    self.suback_held.set()
                    self.release.wait()
                dst.sendall(raw)
        except (OSError, ConnectionError):
            pass
        finally:
            self._shut(src, dst)

    @staticmethod
    def _shut(*socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed.set()
        self.release.set()
        for s in self._sockets:
            with contextlib.suppress(OSError):
                s.close()

    def __enter__(self) -> SubackGate:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()
