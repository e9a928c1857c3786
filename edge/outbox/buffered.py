"""A paho client whose socket reads and writes in batches.

paho reads each packet with three ``recv`` calls (type byte, length bytes,
body) and writes each packet with its own ``send``. At thousands of QoS 1
messages a second that is several system calls per message, and each one
hands the GIL to the producer thread and waits to get it back. Wrapping the
socket (paho's ``SocketLike``, as its own websocket transport does) turns that
into one ``recv`` per burst of PUBACKs and one ``send`` per burst of publishes.

Writes are buffered until :meth:`BufferedSocket.flush`, which the uplink calls
before it waits; paho's own control packets (CONNECT, PINGREQ, DISCONNECT)
go through the same buffer and are flushed the same way. The wrapper is an
optimisation only: :mod:`edge.outbox.paho_client` installs it when the
installed paho allows, and the uplink works unbuffered otherwise.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

READ_CHUNK = 65536


class BufferedSocket:
    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._in = b""
        self._in_pos = 0
        self._out = bytearray()

    # -- what paho calls -------------------------------------------------------------
    def recv(self, size: int) -> bytes:
        if self._in_pos >= len(self._in):
            data = self._sock.recv(READ_CHUNK)  # BlockingIOError when nothing is there
            if not data:
                return b""  # the peer closed: paho sees it as a lost connection
            self._in, self._in_pos = data, 0
        chunk = self._in[self._in_pos : self._in_pos + size]
        self._in_pos += len(chunk)
        return chunk

    def send(self, data: bytes | bytearray) -> int:
        self._out += data
        return len(data)

    def pending(self) -> int:
        """Bytes already read from the socket that paho has not consumed (and TLS's own)."""
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._in) - self._in_pos + inner

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.flush(block=True)
        self._sock.close()

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    # -- what the uplink calls ---------------------------------------------------------
    @property
    def wants_flush(self) -> bool:
        return bool(self._out)

    def flush(self, block: bool = False) -> None:
        """Write buffered bytes; without ``block``, stop when the kernel buffer is full.

        Raises ``OSError`` when the connection is gone.
        """
        if block and self._out:
            self._sock.settimeout(2.0)  # closing: a bounded wait, then give up
            self._sock.sendall(self._out)
            self._out.clear()
            return
        while self._out:
            try:
                sent = self._sock.send(self._out)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return  # kernel buffer full (or TLS needs the other direction first): next round
            del self._out[:sent]
