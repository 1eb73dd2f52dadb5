"""Source-address allow-lists (tenant binds, API keys): one rule for both edges."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def address_allowed(host: str, networks: Sequence[Network]) -> bool:
    """True when no networks are configured, or `host` is in one of them. An IPv4 peer seen
    through an IPv6 socket (::ffff:a.b.c.d) is matched as the IPv4 address it is; a host that
    is not an IP address never matches."""
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)
