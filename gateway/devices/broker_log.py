"""Logins the broker refused, learnt from the broker's own log (``$SYS/broker/log/N``).

A device with a wrong password never gets as far as publishing: the gateway sees nothing of it,
and neither does the broker's ACL. Mosquitto does say so in its log, which it publishes on
``$SYS/broker/log/<level>`` with ``log_dest topic`` (the shipped configuration; the gateway's
login may read ``$SYS/broker/log/N``). Debian's Mosquitto 2.0.11, as the test machine shows
(tests/devices/test_login_refusals.py), writes for one refused CONNECT (wrong password, unknown
login, anonymous where it is refused, a client id the plugin binds to another login):

    1796160429: New connection from 127.0.0.1:58642 on port 18931.
    1796160429: Client <unknown> disconnected, not authorised.

and for one accepted:

    1796160429: New connection from 127.0.0.1:58654 on port 18931.
    1796160429: New client connected from 127.0.0.1:58654 as dev1 (p2, c1, k60, u'dev1').

The refusal names neither the username nor the client id (2.0 forgets the client id before it
logs; the dynamic-security plugin logs nothing either): what is known for sure is *that* a login
was refused, when, and the peer address of the connection (the "New connection" line of the
socket still waiting for its CONNECT). :class:`BrokerLog` pairs them, and names the login when
exactly one login was ever accepted from that address while it watched (a node on its own IP
whose password was rotated) — a strong hint, not a proof: it may have missed the address's other
logins (the gateway's own host runs several).
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.devices.models import LoginRefusal

log = logging.getLogger(__name__)

# "<stamp>: " then the message; the stamp is the broker's (epoch seconds by default, or
# log_timestamp_format's); greedy host parts so an IPv6 address keeps its colons.
_STAMP = re.compile(r"^(?P<stamp>.*?): (?P<msg>(?:New |Client ).*)$")
_NEW = re.compile(r"^New connection from (?P<addr>\S+):(?P<port>\d+) on port (?P<listener>\d+)\.$")
_OK = re.compile(
    r"^New client connected from (?P<addr>\S+):(?P<port>\d+) as (?P<cid>\S+) "
    r"\(p\d+, c\d+, k\d+(?:, u'(?P<user>[^']*)')?\)\.$"
)
_REFUSED = re.compile(r"^Client (?P<cid>\S+) disconnected, not authori[sz]ed\.$")

PENDING_S = 60.0  # a socket that sent no CONNECT within this long is forgotten
MAX_PENDING = 1000
MAX_ADDRESSES = 10_000
KEEP = timedelta(days=7)  # a commissioning check looks minutes back; a week is for the curious
PRUNE_EVERY = 256


@dataclass(frozen=True, slots=True)
class Refusal:
    stamp: str  # the broker's, as written
    address: str
    port: int | None
    listener: int | None
    client_id: str | None
    login: str | None
    line: str

    @property
    def key(self) -> str:
        return f"{self.stamp}|{self.address}:{self.port}|{self.client_id or ''}"[:160]


def split_line(line: str) -> tuple[str, str]:
    """(the broker's stamp, the message) of one log line."""
    line = line.strip()
    m = _STAMP.match(line)
    return (m["stamp"], m["msg"]) if m else ("", line)


class BrokerLog:
    """Reads the broker's notice lines in order and yields a :class:`Refusal` per refused login."""

    def __init__(self, monotonic: object = time.monotonic) -> None:
        self._clock = monotonic
        # "addr:port" -> (listener, when seen): sockets that have not sent their CONNECT yet
        self._pending: OrderedDict[str, tuple[int, float]] = OrderedDict()
        # address -> the logins accepted from it (to name a refusal only when one login uses it)
        self._logins: OrderedDict[str, set[str]] = OrderedDict()

    def feed(self, line: str) -> Refusal | None:
        stamp, msg = split_line(line)
        now = self._clock()  # type: ignore[operator]
        self._expire(now)
        if m := _NEW.match(msg):
            self._pending[f"{m['addr']}:{m['port']}"] = (int(m["listener"]), now)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
            return None
        if m := _OK.match(msg):
            self._pending.pop(f"{m['addr']}:{m['port']}", None)
            if m["user"]:
                seen = self._logins.setdefault(m["addr"], set())
                if len(seen) < 8:  # a shared address (NAT, the gateway's own host) names no one
                    seen.add(m["user"])
                self._logins.move_to_end(m["addr"])
                while len(self._logins) > MAX_ADDRESSES:
                    self._logins.popitem(last=False)
            return None
        if m := _REFUSED.match(msg):
            cid = None if m["cid"] == "<unknown>" else m["cid"]
            address, port, listener = "", None, None
            if self._pending:
                # Mosquitto handles one CONNECT at a time: the refused socket is the latest that has
                # not connected (only ambiguous when several sockets wait for their CONNECT at once).
                where, (listener, _) = self._pending.popitem(last=True)
                address, _, port_text = where.rpartition(":")
                port = int(port_text)
            logins = self._logins.get(address, set())
            login = next(iter(logins)) if len(logins) == 1 else None
            return Refusal(stamp, address, port, listener, cid, login, line.strip()[:500])
        return None

    def _expire(self, now: float) -> None:
        while self._pending:
            key, (_, seen) = next(iter(self._pending.items()))
            if now - seen <= PENDING_S:
                break
            self._pending.pop(key)


def record(sessions: sessionmaker[Session], refusal: Refusal, now: datetime) -> bool:
    """Keep one row per refused connection (another gateway may have written it already).

    Every ``PRUNE_EVERY``-th row also deletes those older than ``KEEP`` (a device retrying a wrong
    password every few seconds, or a port scanner, must not grow the table for ever)."""
    try:
        with sessions.begin() as session:
            if session.scalar(select(LoginRefusal.id).where(LoginRefusal.key == refusal.key)) is not None:
                return False
            row = LoginRefusal(
                refused_at=now,
                key=refusal.key,
                address=refusal.address,
                port=refusal.port,
                listener=refusal.listener,
                client_id=refusal.client_id,
                login=refusal.login,
                line=refusal.line,
            )
            session.add(row)
            session.flush()
            if row.id % PRUNE_EVERY == 0:
                session.execute(delete(LoginRefusal).where(LoginRefusal.refused_at < now - KEEP))
        return True
    except IntegrityError:
        return False  # the other gateway won the race


def since(session: Session, when: datetime, logins: set[str]) -> list[LoginRefusal]:
    """Refusals since ``when`` that may be one of ``logins``: all but those the broker itself said
    were another client's. A login named from the address is a hint, not a proof (the watch may
    have missed the address's other logins): it does not rule a refusal out for anyone."""
    rows = session.scalars(
        select(LoginRefusal)
        .where(LoginRefusal.refused_at >= when)
        .order_by(LoginRefusal.id.desc())
        .limit(200)
    )
    return [r for r in rows if r.client_id is None or r.client_id in logins]
