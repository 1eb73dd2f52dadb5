"""SSL contexts for SMPP over TLS: the connector's client side and the simulator's server side."""

from __future__ import annotations

import ssl

from smsswitch.config import TlsClientConfig, TlsServerConfig


def client_context(tls: TlsClientConfig) -> ssl.SSLContext:
    """A client context that verifies the carrier with `ca_file` (or the system store).

    `verify=False` exists for lab carriers with self-signed certificates and no CA to hand;
    it disables both chain and hostname checks.
    """
    context = ssl.create_default_context(cafile=tls.ca_file)
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def server_context(tls: TlsServerConfig) -> ssl.SSLContext:
    """A server context presenting `cert_file`; with `client_ca_file` it requires client certs."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.client_ca_file:
        context.load_verify_locations(tls.client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
