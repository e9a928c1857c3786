"""Broker logins for a site: a password for every node, device, worker phone, gateway, centre
screen and zigbee2mqtt bridge, and the files Mosquitto reads — ``acl`` with ``passwd`` and
``passwd-field`` (docker/mosquitto/examples/passwords.conf), or ``dynamic-security.json`` for
the dynamic-security plugin (docker/mosquitto/examples/dynsec.conf).

The rules come from :mod:`contracts.topics` (one rule set per kind of login). Logins that hold
one connection (phones, devices) go in ``passwd-field``, read by the listener that binds the
client id to the login; the others in ``passwd``. Passwords are kept in ``credentials.json``
(mode 0600) so that a second run for a changed site keeps everyone's password and only adds or
drops logins; the broker's files hold only salted PBKDF2-SHA512 hashes, in Mosquitto's formats.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.topics import SINGLE_CONNECTION, Login, Roster, dynsec_config, mosquitto_acl

ITERATIONS = 101  # what mosquitto_passwd and mosquitto_ctrl use in Mosquitto 2.0
CREDENTIALS = "credentials.json"
ACL = "acl"
PASSWD = "passwd"  # site listener: gateways, nodes, centre screens, bridges
PASSWD_FIELD = "passwd-field"  # field listener (client id = login): phones, devices
DYNSEC = "dynamic-security.json"


def _pbkdf2(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)


def password_file_line(login: str, password: str) -> str:
    """A line of a Mosquitto 2.0 password file (the ``$7$`` PBKDF2-SHA512 format)."""
    salt = secrets.token_bytes(12)
    digest = base64.b64encode(_pbkdf2(password, salt)).decode()
    return f"{login}:$7${ITERATIONS}${base64.b64encode(salt).decode()}${digest}"


def dynsec_password(password: str) -> dict[str, Any]:
    """The password fields of a client in the dynamic-security plugin's file."""
    salt = secrets.token_bytes(12)
    return {
        "password": base64.b64encode(_pbkdf2(password, salt)).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": ITERATIONS,
    }


@dataclass(frozen=True)
class BrokerAuth:
    """The logins of a roster with their passwords."""

    roster: Roster
    passwords: Mapping[str, str]
    admin: tuple[str, str] | None = None  # (login, password) of the dynsec administrator

    @classmethod
    def create(
        cls, roster: Roster, keep: Mapping[str, str] | None = None, admin: str | None = None
    ) -> BrokerAuth:
        """New random passwords for new logins; ``keep``: passwords already given out."""
        keep = keep or {}
        logins = [login for _, login, _ in roster.logins()] + ([admin] if admin else [])
        passwords = {login: keep.get(login) or secrets.token_urlsafe(18) for login in logins}
        return cls(roster, passwords, (admin, passwords[admin]) if admin else None)

    def kind_of(self) -> dict[str, Login]:
        return {login: kind for kind, login, _ in self.roster.logins()}

    def password_file(self, field: bool) -> str:
        lines = [
            password_file_line(login, self.passwords[login])
            for kind, login, _ in self.roster.logins()
            if (kind in SINGLE_CONNECTION) == field
        ]
        return "\n".join(lines) + "\n"

    def dynsec(self) -> dict[str, Any]:
        credentials = {login: dynsec_password(p) for login, p in self.passwords.items()}
        admin = None
        if self.admin is not None:
            admin = {"username": self.admin[0], **credentials[self.admin[0]]}
        return dynsec_config(self.roster, credentials, admin)

    def write(self, out: Path) -> list[Path]:
        """Write every file into ``out``; returns them. Secrets are readable by the owner only."""
        out.mkdir(parents=True, exist_ok=True)
        kinds = self.kind_of()
        secrets_doc = {
            login: {"kind": kinds[login].value if login in kinds else "admin", "password": password}
            for login, password in sorted(self.passwords.items())
        }
        files = {
            ACL: mosquitto_acl(self.roster),
            PASSWD: self.password_file(field=False),
            PASSWD_FIELD: self.password_file(field=True),
            DYNSEC: json.dumps(self.dynsec(), indent=2, ensure_ascii=False) + "\n",
            CREDENTIALS: json.dumps(secrets_doc, indent=2, ensure_ascii=False) + "\n",
        }
        written = []
        for name, text in files.items():
            path = out / name
            # Created 0600 (not chmod after writing: the secrets are never readable by others).
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(path, 0o600)
            written.append(path)
        return written


def read_passwords(out: Path) -> dict[str, str]:
    """Passwords of an earlier run (``credentials.json``), so that they stay what was given out."""
    path = out / CREDENTIALS
    if not path.is_file():
        return {}
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {login: entry["password"] for login, entry in doc.items()}
