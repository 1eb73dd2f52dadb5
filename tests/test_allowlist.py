"""The one source-address allow-list rule used by tenant binds and API keys."""

import ipaddress

from smsswitch.allowlist import address_allowed

NETS = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))


def test_empty_list_allows_everyone() -> None:
    assert address_allowed("192.0.2.1", ())


def test_membership_v4_v6_and_v4_mapped() -> None:
    assert address_allowed("10.1.2.3", NETS)
    assert address_allowed("2001:db8::1", NETS)
    assert address_allowed("::ffff:10.1.2.3", NETS)
    assert not address_allowed("192.0.2.1", NETS)
    assert not address_allowed("not-an-ip", NETS)
