"""Per-device broker logins at run time: Mosquitto's dynamic-security plugin over ``$CONTROL``.

One login per node, GridWatch-speaking sensor and worker phone, each with its own role
(:func:`contracts.topics.dynsec_role`: publish only under its own id, default deny). The
product provisions, rotates and revokes them without restarting the broker:

- :meth:`Dynsec.provision`: the role and the client (a new random password), or a new password
  and the role again for a login that exists;
- :meth:`Dynsec.rotate`: a new password; the old one stops working at once;
- :meth:`Dynsec.revoke`: the client is deleted; the plugin disconnects its live connections and
  it cannot connect again.

The answers come on ``$CONTROL/dynamic-security/v1/response``; a command the plugin refuses
raises :class:`DynsecError` with its words. docs/broker-access.md.
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
import uuid
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from contracts.mqtt_client import new_client
from contracts.topics import Login, Rule, dynsec_client, dynsec_role

CONTROL = "$CONTROL/dynamic-security/v1"
RESPONSE = f"{CONTROL}/response"


class DynsecError(RuntimeError):
    """The broker refused a command (or did not answer)."""


def _exists(answer: dict[str, Any], what: str) -> bool:
    """False when it was made; True when it already existed; raises on any other refusal."""
    error = answer.get("error")
    if not error:
        return False
    if "exist" in str(error).lower():
        return True
    raise DynsecError(f"{what}: {error}")


def new_password() -> str:
    return secrets.token_urlsafe(18)  # 144 bits, printable: a config file's value as it is


class Dynsec:
    """A short-lived admin connection per call (provisioning is rare; no session to keep)."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        tls: ssl.SSLContext | None = None,
        timeout_s: float = 10,
    ) -> None:
        self.host, self.port, self.username, self.password = host, port, username, password
        self.tls = tls
        self.timeout_s = timeout_s

    # -- what the product does ------------------------------------------------------------
    def provision(self, kind: Login, login: str, rules: Iterable[Rule] | None = None) -> str:
        """The login's role and client with a new password (returned; the broker keeps only a hash)."""
        password = new_password()
        role = dynsec_role(kind, login, rules)
        client = dynsec_client(kind, login, {"password": password})
        # One admin connection for a new login (the usual case); a second one for a login that exists.
        made_role, made_client = self.execute(
            [{"command": "createRole", **role}, {"command": "createClient", **client}], allow_errors=True
        )
        role_exists = _exists(made_role, f"createRole {role['rolename']}")
        client_exists = _exists(made_client, f"createClient {login}")
        follow: list[dict[str, Any]] = []
        if role_exists:  # make its ACLs today's (deleting it also takes it off its client)
            follow += [
                {"command": "deleteRole", "rolename": role["rolename"]},
                {"command": "createRole", **role},
            ]
        if client_exists:
            follow.append({"command": "setClientPassword", "username": login, "password": password})
        if role_exists or client_exists:
            follow.append(
                {"command": "addClientRole", "username": login, "rolename": role["rolename"], "priority": 0}
            )
            self.execute(follow)
        return password

    def rotate(self, login: str) -> str:
        password = new_password()
        self.execute([{"command": "setClientPassword", "username": login, "password": password}])
        return password

    def revoke(self, login: str) -> None:
        self.execute([{"command": "deleteClient", "username": login}])

    def client(self, login: str) -> dict[str, Any] | None:
        answer = self.execute([{"command": "getClient", "username": login}], allow_errors=True)[0]
        return None if answer.get("error") else answer.get("data", {}).get("client")

    # -- the wire ------------------------------------------------------------------------
    def execute(self, commands: list[dict[str, Any]], allow_errors: bool = False) -> list[dict[str, Any]]:
        """Send ``commands`` in one message; the plugin's answers, one per command, in order."""
        got = threading.Event()
        ready = threading.Event()
        answers: list[dict[str, Any]] = []
        failure: list[str] = []
        c = new_client(
            f"gw-dynsec-{uuid.uuid4().hex[:12]}", username=self.username, password=self.password, tls=self.tls
        )

        def on_connect(cl: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
            if rc.is_failure:
                failure.append(f"the broker refused the admin login {self.username!r}: {rc}")
                got.set()
                return
            cl.subscribe(RESPONSE, qos=1)

        def on_subscribe(_c: mqtt.Client, _u: object, _m: int, codes: list[ReasonCode], _p: object) -> None:
            if codes and codes[0].is_failure:
                failure.append(f"login {self.username!r} may not read {RESPONSE}: {codes[0]}")
                got.set()
            ready.set()

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            answers.extend(json.loads(msg.payload).get("responses", []))
            if len(answers) >= len(commands):
                got.set()

        c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
        c.connect(self.host, self.port)
        c.loop_start()
        try:
            if not ready.wait(self.timeout_s) and not failure:
                raise DynsecError(f"no answer from the broker at {self.host}:{self.port}")
            if not failure:
                c.publish(CONTROL, json.dumps({"commands": commands}), qos=1)
                if not got.wait(self.timeout_s):
                    raise DynsecError(f"the broker did not answer {[x['command'] for x in commands]}")
        finally:
            c.disconnect()
            c.loop_stop()
        if failure:
            raise DynsecError(failure[0])
        errors = [f"{a.get('command')}: {a['error']}" for a in answers if a.get("error")]
        if errors and not allow_errors:
            raise DynsecError("; ".join(errors))
        return answers
