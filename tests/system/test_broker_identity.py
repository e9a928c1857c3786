"""Identity is the login: the attack matrix of issue 11 on a real Mosquitto running the shipped
configuration — with a password file, and with the dynamic-security plugin — and a running
gateway behind it.

Every attack sends a message the contract accepts (so only the broker can stop it) and is
refused (CONNACK, SUBACK or PUBACK "Not authorized") or delivered nowhere; the store ends with
exactly what the genuine clients sent. "Delivered nowhere" is judged without sleeping: each
attack is answered by the broker before the genuine message that follows it is published, and
the broker routes a message to every subscriber when it receives it, so once the genuine
message is in the store (or on the genuine phone), an attack that got through would be too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from contracts import HazardEvent, TaskOffer, decode, encode, topics
from contracts.site import Site
from contracts.topics import Roster
from gateway.cases.models import Case
from gateway.devices.models import LoginRefusal
from gateway.events.models import DeadLetter, EventRecord
from gateway.store.db import make_engine, session_factory
from tests.support.brokers.secured import BASE, EXAMPLES, MOSQUITTO, Login, SecuredBroker, secured_broker
from tests.support.paths import DEMO_SITE
from tests.support.processes.gateway import running_gateway
from tests.support.waiting import wait_until

NOT_AUTHORIZED = "Not authorized"


@pytest.fixture(params=["password_file", "dynsec"])
def secured(request: pytest.FixtureRequest, tmp_path: Path, demo_site: Site) -> Iterator[SecuredBroker]:
    roster = Roster.from_site(demo_site, gateways=("gateway",), operators=("wall",))
    with secured_broker(tmp_path / "broker", request.param, roster) as sb:
        yield sb


def hazard(source: str, device_id: str, ts: datetime, seq: int = 1) -> bytes:
    return encode(
        HazardEvent(
            source=source,
            seq=seq,
            ts=ts,
            hazard_type="smoke_alarm",
            severity="critical",
            confidence=0.9,
            state="new",
            episode_id=f"ep-{device_id}",
            device_id=device_id,
        )
    )


def count(db_url: str, model: type, *where: object) -> int:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_the_attack_matrix_is_refused_or_delivered_nowhere(secured: SecuredBroker, sqlite_url: str) -> None:
    sb = secured
    field, site = sb.field_port, sb.site_port
    with running_gateway(sb.broker, sqlite_url, DEMO_SITE, login=("gateway", sb.password("gateway"))) as gw:
        now = gw.ctx.now()
        # The genuine grid worker's phone: a persistent session on the field listener.
        ma_li = Login(
            field,
            "w-ma-li",
            sb.password("w-ma-li"),
            "w-ma-li",
            (topics.worker_task("w-ma-li"),),
            clean_start=False,
        )
        assert ma_li.accepted

        # -- anonymous, and wrong passwords: refused on both listeners
        for port in (site, field):
            assert str(Login(port, None, None, "node-gongye-1").connack) == NOT_AUTHORIZED
            assert str(Login(port, "node-gongye-1", "guess", "node-gongye-1").connack) == NOT_AUTHORIZED

        # -- login A with client id B, where client ids are not the login's to choose: refused
        # (password file: phones have no login on the site listener; dynsec: their client id is bound)
        impostor = Login(site, "w-zhao-lei", sb.password("w-zhao-lei"), "w-ma-li")
        assert impostor.connack is not None and impostor.connack.is_failure, impostor.connack

        # -- a worker: hazards on node and device topics (its own id, and a real node's). Login A
        # with client id B on the field listener: the broker makes it "w-zhao-lei" (dynsec, which
        # binds it, refused that above: there the client id must be the login's own).
        zhao = Login(
            field,
            "w-zhao-lei",
            sb.password("w-zhao-lei"),
            client_id="w-ma-li" if field != site else "w-zhao-lei",
            subscribe=(
                topics.worker_task("w-ma-li"),
                f"{topics.ROOT}/worker/+/task",
                topics.worker_task("w-zhao-lei"),
            ),
        )
        assert zhao.accepted, zhao.connack
        assert not ma_li.disconnected.is_set()  # nobody took over w-ma-li's session
        attacks = [
            (zhao, topics.node_event("w-zhao-lei"), hazard("w-zhao-lei", "smk-factory-a1", now)),
            (
                zhao,
                topics.device_topic("w-zhao-lei", topics.Channel.EVENT),
                hazard("w-zhao-lei", "w-zhao-lei", now),
            ),
            (zhao, topics.node_event("node-gongye-1"), hazard("node-gongye-1", "smk-factory-a1", now)),
        ]
        # -- a device on another device's topic (smk-rental-12 is a device the site knows)
        gas = Login(field, "gas-restaurant-3", sb.password("gas-restaurant-3"), "gas-restaurant-3")
        attacks.append(
            (
                gas,
                topics.device_topic("smk-rental-12", topics.Channel.EVENT),
                hazard("smk-rental-12", "smk-rental-12", now),
            )
        )
        # -- login A (a real node) with client id B (another real node), publishing as B
        donghu = Login(site, "node-donghu-1", sb.password("node-donghu-1"), "node-gongye-1")
        attacks.append(
            (donghu, topics.node_event("node-gongye-1"), hazard("node-gongye-1", "smk-factory-a1", now))
        )
        attacks.append((donghu, topics.worker_task("w-ma-li"), b"a fake task"))
        for attacker, topic, payload in attacks:
            assert str(attacker.publish(topic, payload)) == NOT_AUTHORIZED, topic

        # -- subscribing to others' tasks: refused (dynsec) or granted and filtered (acl_file)
        if sb.auth.admin is not None:
            assert [str(c) for c in zhao.granted] == [NOT_AUTHORIZED, NOT_AUTHORIZED, "Granted QoS 1"]

        # -- the genuine node raises a real alarm; its case is dispatched to w-ma-li's phone
        gongye = Login(site, "node-gongye-1", sb.password("node-gongye-1"), "node-gongye-1")
        assert not gongye.publish(
            topics.node_event("node-gongye-1"), hazard("node-gongye-1", "smk-factory-a1", now, 2)
        ).is_failure
        offer = wait_until(lambda: ma_li.messages, timeout=20, what="the task on w-ma-li's phone")[0]
        task = decode(offer.topic, offer.payload)
        assert isinstance(task, TaskOffer) and task.worker_id == "w-ma-li"
        # A marker on the attacker's own task topic, published after the offer was routed.
        marker = Login(site, "gateway", sb.password("gateway"), "test-marker")
        assert not marker.publish(topics.worker_task("w-zhao-lei"), b"marker").is_failure
        wait_until(lambda: zhao.messages, what="the marker on w-zhao-lei's own task topic")

        assert set(zhao.topics()) == {topics.worker_task("w-zhao-lei")}  # only its own (twice: two filters)
        assert not ma_li.disconnected.is_set()
        # the gateway's login reads the broker's log under both shipped access models: the refused
        # logins above (anonymous, wrong password, another's client id) are on record
        assert gw.broker_log is not None and gw.broker_log.watching.is_set()
        wait_until(lambda: count(sqlite_url, LoginRefusal) > 0, what="the refused logins recorded")
    assert count(sqlite_url, Case) == 1 and count(sqlite_url, Case, Case.device_id == "smk-factory-a1") == 1
    assert count(sqlite_url, EventRecord) == 1 and count(sqlite_url, EventRecord, EventRecord.seq == 2) == 1
    assert count(sqlite_url, DeadLetter) == 0  # nothing an attacker sent even reached the gateway
    for c in (ma_li, zhao, gas, donghu, gongye, marker):
        c.close()


def test_no_shipped_configuration_lets_anonymous_clients_in() -> None:
    """Every listener of every shipped configuration says allow_anonymous false after it (each
    listener carries its own security: per_listener_settings), and the base file has none."""

    def settings(path: Path) -> list[list[str]]:
        lines = path.read_text().splitlines()
        return [line.split() for line in lines if line.strip() and not line.lstrip().startswith("#")]

    base = settings(BASE)
    assert ["per_listener_settings", "true"] in base and ["allow_anonymous", "false"] in base
    assert not any(s[0] == "listener" for s in base)
    for path in [*EXAMPLES.values(), *(MOSQUITTO / "conf.d").glob("*.conf")]:
        blocks: list[list[list[str]]] = []
        for s in settings(path):
            if s[0] == "listener":
                blocks.append([])
            elif s[0] in ("allow_anonymous", "password_file", "acl_file", "plugin", "per_listener_settings"):
                assert blocks, f"{path.name}: {s[0]} before any listener"
                blocks[-1].append(s)
        assert blocks, path.name
        for block in blocks:
            assert ["allow_anonymous", "false"] in block, path.name


def test_broker_auth_keeps_the_passwords_given_out_and_adds_new_logins(
    site_copy: Path, tmp_path: Path
) -> None:
    """A second run for a changed site (a new worker) gives only the newcomer a password; the
    files hold hashes only, and the secrets are readable by their owner only."""
    import json
    import stat

    from typer.testing import CliRunner

    from gridwatch.cli import app

    out = tmp_path / "auth"
    run = CliRunner().invoke(app, ["broker", "auth", "--site", str(site_copy), "--out", str(out)])
    assert run.exit_code == 0, run.output
    first = json.loads((out / "credentials.json").read_text())
    workers = site_copy / "workers.yaml"
    workers.write_text(
        workers.read_text()
        + '  - {id: w-new, name: 新人, role: part_time, home_grid: g-gongye-01, phone: "13800000099",\n'
        + '     duty: ["always"]}\n'
    )
    run = CliRunner().invoke(app, ["broker", "auth", "--site", str(site_copy), "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert "1 new" in run.output
    second = json.loads((out / "credentials.json").read_text())
    assert set(second) - set(first) == {"w-new"}
    assert all(second[login] == first[login] for login in first)
    passwd = (out / "passwd-field").read_text()
    assert "w-new:$7$101$" in passwd and second["w-new"]["password"] not in passwd
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
