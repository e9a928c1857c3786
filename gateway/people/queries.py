"""Who is behind an address, for counting what one sender does (failed sign-ins, residents'
reports)."""

from __future__ import annotations

import ipaddress


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
