"""Queries about people: who is behind an address (for counting what one sender does: failed
sign-ins, residents' reports), and which grid workers' accounts are disabled."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.people.models import Person


def sender(address: str) -> str:
    """The unit one sender controls: an IPv6 address by its /64 (a host picks the rest at will);
    an IPv4 address seen through a dual-stack socket (``::ffff:a.b.c.d``) as that IPv4 address,
    not by the /64 every IPv4 sender shares; anything else as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def disabled_workers(session: Session, worker_ids: Collection[str]) -> dict[str, str]:
    """Workers of these whose account is disabled (they left, or are barred): worker id -> why,
    for dispatch to pass them over like an unavailable worker. No account: not disabled."""
    rows = session.scalars(
        select(Person.worker_id).where(Person.worker_id.in_(list(worker_ids)), Person.active.is_(False))
    )
    return {worker_id: "account disabled" for worker_id in rows if worker_id is not None}
