"""Refused logins, learnt from the broker's own log ($SYS/broker/log/N) by the gateway: a real
Mosquitto with the shipped dynamic-security configuration, the gateway logged in as itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from sqlalchemy import func, select

from contracts.dynsec import Dynsec
from contracts.site import Site
from contracts.topics import Login, Roster
from gateway.devices import broker_log
from gateway.devices.broker_log import BrokerLog
from gateway.devices.models import LoginRefusal
from gateway.schema.migrate import prepare_schema
from gateway.store.db import make_engine, session_factory
from tests.support.brokers.secured import Login as Connect
from tests.support.brokers.secured import secured_broker
from tests.support.paths import DEMO_SITE
from tests.support.processes.gateway import running_gateway
from tests.support.waiting import wait_until

# What Debian's Mosquitto 2.0.11 wrote (log_type notice, log_dest topic) for one refused and one
# accepted login, copied from a real run: the refusal names no login and no client id.
REFUSED = [
    "1796160429: New connection from 127.0.0.1:58642 on port 18931.",
    "1796160429: Client <unknown> disconnected, not authorised.",
]
ACCEPTED = [
    "1796160429: New connection from 10.0.3.17:58654 on port 18931.",
    "1796160429: New client connected from 10.0.3.17:58654 as dev1 (p2, c1, k60, u'dev1').",
    "1796160430: Client dev1 disconnected.",
]


def test_the_log_lines_pair_into_refusals_and_name_a_login_only_when_its_address_says_so() -> None:
    reader = BrokerLog()
    found = [reader.feed(line) for line in REFUSED]
    assert found[0] is None and found[1] is not None
    assert (found[1].address, found[1].port, found[1].listener, found[1].login) == (
        "127.0.0.1",
        58642,
        18931,
        None,
    )
    assert all(reader.feed(line) is None for line in ACCEPTED)
    # the same address again with a wrong password: only dev1 was ever accepted from it
    reader.feed("1796160431: New connection from 10.0.3.17:58700 on port 18931.")
    again = reader.feed("1796160431: Client <unknown> disconnected, not authorised.")
    assert again is not None and again.login == "dev1" and again.port == 58700
    # a second login from that address (NAT, a shared host): no longer anyone's for sure
    reader.feed("1796160432: New connection from 10.0.3.17:58800 on port 18931.")
    reader.feed("1796160432: New client connected from 10.0.3.17:58800 as dev2 (p5, c1, k60, u'dev2').")
    reader.feed("1796160433: New connection from 10.0.3.17:58900 on port 18931.")
    shared = reader.feed("1796160433: Client <unknown> disconnected, not authorised.")
    assert shared is not None and shared.login is None
    # an IPv6 peer keeps its colons; another log_timestamp_format keeps its stamp
    reader.feed("2026-12-01T22:01:07: New connection from ::1:41000 on port 1883.")
    v6 = reader.feed("2026-12-01T22:01:07: Client <unknown> disconnected, not authorised.")
    assert v6 is not None and (v6.address, v6.port, v6.stamp) == ("::1", 41000, "2026-12-01T22:01:07")


def test_the_gateway_records_each_refused_login_from_the_real_broker(
    tmp_path: Path, demo_site: Site, sqlite_url: str
) -> None:
    with secured_broker(tmp_path, "dynsec", Roster.from_site(demo_site)) as sb:
        admin = Dynsec("127.0.0.1", sb.site_port, "admin", sb.password("admin"))
        password = admin.provision(Login.DEVICE, "gas-restaurant-3")
        login = ("gateway", sb.password("gateway"))
        with running_gateway(sb.broker, sqlite_url, DEMO_SITE, login=login) as gw:
            assert gw.broker_log is not None
            wait_until(gw.broker_log.watching.is_set, timeout=30, what="the gateway reads the broker's log")
            sessions = session_factory(make_engine(sqlite_url))

            def rows() -> list[LoginRefusal]:
                with sessions() as s:
                    return list(s.scalars(select(LoginRefusal).order_by(LoginRefusal.id)))

            # accepted: nothing recorded (the right password, from another loopback address)
            ok = Connect(
                sb.site_port,
                "gas-restaurant-3",
                password,
                client_id="gas-restaurant-3",
                bind_address="127.0.0.7",
            )
            assert ok.accepted
            ok.close()
            # refused: a wrong password (MQTT 5 and 3.1.1), an unknown login, no login at all
            attempts = [
                Connect(sb.site_port, "gas-restaurant-3", "wrong", client_id="gas-restaurant-3"),
                Connect(
                    sb.site_port,
                    "gas-restaurant-3",
                    "wrong",
                    client_id="gas-restaurant-3",
                    protocol=mqtt.MQTTv311,
                ),
                Connect(sb.site_port, "nobody", "whatever", client_id="x-1"),
                Connect(sb.site_port, None, None, client_id="anon-1"),
            ]
            assert not any(a.accepted for a in attempts)
            for a in attempts:
                a.close()
            wait_until(lambda: len(rows()) == 4, timeout=30, what="four refusals recorded")
            assert {(r.address, r.listener, r.login) for r in rows()} == {("127.0.0.1", sb.site_port, None)}
            assert all("not authorised" in r.line for r in rows())
            # the device's own address: it was accepted from there as itself alone, so it is named
            wrong = Connect(
                sb.site_port,
                "gas-restaurant-3",
                "wrong",
                client_id="gas-restaurant-3",
                bind_address="127.0.0.7",
            )
            assert not wrong.accepted
            wrong.close()
            wait_until(lambda: len(rows()) == 5, timeout=30, what="the fifth refusal recorded")
            assert (rows()[-1].address, rows()[-1].login) == ("127.0.0.7", "gas-restaurant-3")


def test_refusals_are_kept_once_and_a_week_at_most(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    prepare_schema(engine, "upgrade", 60)
    sessions = session_factory(engine)
    now = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    old = now - broker_log.KEEP - timedelta(hours=1)

    def refusal(n: int) -> broker_log.Refusal:
        return broker_log.Refusal(str(n), "10.0.3.17", 40000 + n, 1883, None, None, "not authorised")

    assert broker_log.record(sessions, refusal(1), old)
    assert not broker_log.record(sessions, refusal(1), now)  # another gateway's copy of the same line
    for n in range(2, broker_log.PRUNE_EVERY):
        broker_log.record(sessions, refusal(n), old if n < 10 else now)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(LoginRefusal)) == broker_log.PRUNE_EVERY - 1
    broker_log.record(sessions, refusal(broker_log.PRUNE_EVERY), now)  # the sweep's turn
    with sessions() as s:
        left = s.scalars(select(LoginRefusal.refused_at)).all()
    assert len(left) == broker_log.PRUNE_EVERY - 9 and min(left) == now
