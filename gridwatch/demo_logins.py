"""The demo's broker logins: one per edge node, GridWatch-speaking device, worker phone,
zigbee2mqtt bridge and the gateway, through Mosquitto's dynamic-security plugin.

The broker starts with a plugin file that holds only its administrator (what ``mosquitto_ctrl
dynsec init`` makes); every other login is provisioned at run time over ``$CONTROL`` by the code
installers use (:meth:`contracts.dynsec.Dynsec.provision`, behind ``POST
/api/v1/registry/{id}/credentials`` and ``gridwatch devices credentials``): its own role (publish
under its own id only, default deny) and a random password. Nobody connects anonymously.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from contracts.dynsec import Dynsec, new_password
from contracts.site import Site
from contracts.topics import Roster, dynsec_config
from edge.simulator import Broker
from gridwatch.broker_auth import dynsec_password

ADMIN = "admin"
GATEWAY = "gateway"


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def bootstrap(auth_dir: Path) -> tuple[Path, str]:
    """The plugin's file with its administrator alone; returns (the file, the admin's password)."""
    password = new_password()
    doc = dynsec_config(Roster(gateways=()), {}, {"username": ADMIN, **dynsec_password(password)})
    path = auth_dir / "dynamic-security.json"
    _write_secret(path, json.dumps(doc, indent=2) + "\n")
    return path, password


@dataclass
class DemoLogins:
    host: str
    port: int
    admin_password: str
    passwords: dict[str, str] = field(default_factory=dict)
    bridges: dict[str, str] = field(default_factory=dict)  # zigbee2mqtt base topic -> its login
    seconds: float = 0.0  # how long provisioning took

    def broker(self, login: str) -> Broker:
        """The broker as ``login`` sees it (its own password)."""
        return Broker(self.host, self.port, login, self.passwords[login])

    def write(self, path: Path) -> None:
        """Every password of this run (mode 0600), as ``gridwatch broker auth`` keeps them."""
        _write_secret(path, json.dumps({"admin": self.admin_password, **self.passwords}, indent=2) + "\n")


def provision(site: Site, host: str, port: int, admin_password: str) -> DemoLogins:
    """A login for every node, GridWatch-speaking device, worker phone and zigbee2mqtt bridge of
    the site, and the gateway's: provisioned one by one, as an installer's would be."""
    admin = Dynsec(host, port, ADMIN, admin_password)
    roster = Roster.from_site(site, gateways=(GATEWAY,))
    started = time.perf_counter()
    passwords = {login: admin.provision(kind, login, rules) for kind, login, rules in roster.logins()}
    return DemoLogins(
        host,
        port,
        admin_password,
        passwords,
        {base: login for login, base in roster.bridges.items()},
        time.perf_counter() - started,
    )
