"""A real Mosquitto running the shipped configuration (docker/mosquitto/), with every login of a site.

Only what a test machine needs is rewritten: the ports (two free ones on 127.0.0.1), the
directories, the plugin's path on Debian, a log file. Everything that decides who may do what is
the shipped file's own, so the tests check what an installer gets.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from contracts.topics import Roster
from gridwatch.broker import DYNSEC_PLUGINS, Mosquitto, find_dynsec_plugin, free_port
from gridwatch.broker_auth import BrokerAuth
from tests.support.paths import REPO

MOSQUITTO = REPO / "docker" / "mosquitto"
BASE = MOSQUITTO / "mosquitto.conf"
EXAMPLES = {
    "password_file": MOSQUITTO / "examples" / "passwords.conf",
    "dynsec": MOSQUITTO / "examples" / "dynsec.conf",
}
DYNSEC_PLUGIN = find_dynsec_plugin() or DYNSEC_PLUGINS[0]  # Debian's mosquitto 2.0 ships it


@dataclass
class SecuredBroker:
    broker: Mosquitto
    site_port: int  # gateways, nodes, screens
    field_port: int  # phones and GridWatch-speaking sensors (the site port when there is one listener)
    auth: BrokerAuth

    def password(self, login: str) -> str:
        return self.auth.passwords[login]


@dataclass
class _Shipped(Mosquitto):
    """A Mosquitto started on a configuration given whole (not one written from fields)."""

    text: str = ""

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.text, encoding="utf-8")


def _local(text: str, replacements: dict[str, str]) -> str:
    for shipped, here in replacements.items():
        assert shipped in text, f"the shipped configuration no longer has {shipped!r}"
        text = text.replace(shipped, here)
    return text


@contextmanager
def secured_broker(workdir: Path, mode: str, roster: Roster) -> Iterator[SecuredBroker]:
    """The shipped base file with one of the shipped examples in its conf.d, as an installer would."""
    auth = BrokerAuth.create(roster, admin="admin" if mode == "dynsec" else None)
    auth_dir = workdir / "auth"
    auth.write(auth_dir)
    site_port, field_port = free_port(), free_port()
    conf_d = workdir / "conf.d"
    conf_d.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    example = EXAMPLES[mode].read_text(encoding="utf-8")
    ports = {"listener 1883": f"listener {site_port} 127.0.0.1", "/mosquitto/config/auth/": f"{auth_dir}/"}
    if mode == "dynsec":
        ports["plugin /usr/lib/mosquitto_dynamic_security.so"] = f"plugin {DYNSEC_PLUGIN}"
        field_port = site_port  # one listener: the plugin binds phones' client ids itself
    else:
        ports["listener 1884"] = f"listener {field_port} 127.0.0.1"
    (conf_d / EXAMPLES[mode].name).write_text(_local(example, ports), encoding="utf-8")
    base = _local(
        BASE.read_text(encoding="utf-8"),
        {
            "/mosquitto/data/": f"{workdir / 'data'}/",
            "/mosquitto/config/conf.d": str(conf_d),
            "log_dest stderr\n": "",  # to the file below: nobody reads the test's stderr pipe
        },
    )
    base += f"\nlog_dest file {workdir / 'mosquitto.log'}\n"
    if os.geteuid() == 0:
        base += "user root\n"  # otherwise it drops to 'mosquitto', which cannot read the files here
    broker = _Shipped(workdir, port=site_port, text=base)
    broker.start()
    try:
        yield SecuredBroker(broker, site_port, field_port, auth)
    finally:
        broker.stop()


class Login:
    """An MQTT 5 client logged in (or not) on one listener; records what the broker answers."""

    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        client_id: str = "",
        subscribe: tuple[str, ...] = (),
        clean_start: bool = True,
        bind_address: str = "",
        protocol: int = mqtt.MQTTv5,
    ) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.granted: list[ReasonCode] = []
        self.connack: ReasonCode | None = None
        self.disconnected = threading.Event()
        self._lock = threading.Lock()
        self._acks: dict[int, ReasonCode] = {}
        self._acked = threading.Condition(self._lock)
        answered, subscribed = threading.Event(), threading.Event()
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol
        )
        if username is not None:
            c.username_pw_set(username, password)
        c.reconnect_delay_set(60, 60)  # a refused login is not retried while the test looks

        def on_connect(c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
            self.connack = rc
            if not rc.is_failure and subscribe:
                c.subscribe([(f, 1) for f in subscribe])
            answered.set()

        def on_subscribe(_c: mqtt.Client, _u: object, _m: int, codes: list[ReasonCode], _p: object) -> None:
            self.granted = list(codes)
            subscribed.set()

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            with self._lock:
                self.messages.append(msg)

        def on_publish(_c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object) -> None:
            with self._acked:
                self._acks[mid] = rc
                self._acked.notify_all()

        c.on_connect, c.on_subscribe, c.on_message, c.on_publish = (
            on_connect,
            on_subscribe,
            on_message,
            on_publish,
        )
        c.on_disconnect = lambda *_: self.disconnected.set()
        properties = None
        if not clean_start:
            properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = 3600
        c.connect(
            "127.0.0.1",
            port,
            clean_start=clean_start if protocol == mqtt.MQTTv5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
            bind_address=bind_address,  # another loopback address: another "device" on the network
        )
        c.loop_start()
        self.client = c
        assert answered.wait(10), "the broker did not answer the CONNECT"
        if subscribe and self.accepted:
            assert subscribed.wait(10), "the broker did not answer the SUBSCRIBE"

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        """Publish at QoS 1 and return the broker's PUBACK reason (MQTT 5 says when it refuses)."""
        info = self.client.publish(topic, payload, qos=1)
        with self._acked:
            assert self._acked.wait_for(lambda: info.mid in self._acks, 10), f"no PUBACK for {topic}"
            return self._acks[info.mid]

    def topics(self) -> list[str]:
        with self._lock:
            return [m.topic for m in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
