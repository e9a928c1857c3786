"""Which broker login a device of the site files has, and its rules (docs/broker-access.md)."""

from __future__ import annotations

from contracts.site import Site
from contracts.topics import Login, Roster, Rule


def login_of(site: Site, ident: str) -> tuple[Login, tuple[Rule, ...]]:
    """The login kind and rules of an edge node or a GridWatch-speaking sensor of the site files."""
    for kind, login, rules in Roster.from_site(site).logins():
        if login == ident and kind in (Login.NODE, Login.DEVICE):
            return kind, rules
    raise ValueError(
        f"{ident!r} is neither an edge node nor a GridWatch-speaking sensor of the site files: cameras "
        "and zigbee2mqtt or Modbus sensors speak through their node and have no login of their own"
    )
