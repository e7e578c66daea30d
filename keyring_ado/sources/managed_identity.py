"""Managed identity, only where the host says it has one (or the user says so).

App Service, Functions, Arc, Cloud Shell and Azure ML announce themselves with environment
variables; a plain VM does not, so there ``KEYRING_ADO_MANAGED_IDENTITY=1`` (system-assigned) or
``=<client id>`` (user-assigned) turns it on. Requests bypass any proxy (a proxy that swallows the
link-local IMDS address is how a lookup hangs for five minutes), connect within 1 s, read within 2 s,
and are retried at most once. An endpoint variable that names plain http off this machine and its
link is refused before any request: the request carries the platform's identity secret.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from typing import TYPE_CHECKING

from .. import variables as names
from ..errors import SourceFailed, SourceUnavailable
from ._entra import ManagedIdentity, exchange_token
from .base import Identity, Source

if TYPE_CHECKING:
    from ..token import Token
    from .base import Request

CONNECT_TIMEOUT = 1
READ_TIMEOUT = 2
#: Both tries in all (IMDS is link-local: an answer is quick or never comes).
TOTAL_TIMEOUT = 10.0
#: Where plain http may go: this machine and the link-local networks the platforms' agents listen
#: on (IMDS, App Service's 169.254.x.x); ``localhost`` too, the name Arc, Container Apps and Cloud
#: Shell use, which resolvers keep on loopback (RFC 6761).
LOCAL_NETWORKS = ("127.0.0.0/8", "::1/128", "169.254.0.0/16", "fe80::/10")


class ManagedIdentitySource(Source):
    """The host's managed identity (system-assigned, or user-assigned by client id), from IMDS or the
    endpoint the platform announces."""

    name = "managed identity"

    def __init__(
        self,
        *,
        identity: str | None = None,
        endpoints: tuple[tuple[str, str], ...] = (),
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.managed_identity = identity
        """``system``, a user-assigned client id, or None (not asked)."""
        self.endpoints = endpoints
        """Every managed identity endpoint variable that is set, as ``(name, value)``, in
        azure-identity's order."""
        self.secrets = secrets

    def identity(self, request: Request) -> Identity:
        if self.managed_identity is None:
            raise SourceUnavailable(
                f"no managed identity announced by the host (set {names.MANAGED_IDENTITY}=1 on an Azure VM)"
            )
        _check_endpoints(self.endpoints)
        # Which identity, at which endpoint, of which machine: homes shared between machines (NFS)
        # must not hand one machine's system-assigned identity's token to another.
        where = self.endpoints[0][1] if self.endpoints else "imds"
        return Identity("mi", (self.managed_identity, where, socket.gethostname()), ci=True)

    def get_token(self, request: Request) -> Token:
        self.identity(request)
        client_id = None if self.managed_identity == "system" else self.managed_identity
        return exchange_token(
            ManagedIdentity(client_id, CONNECT_TIMEOUT, READ_TIMEOUT),
            self.name,
            authority_host=None,  # not Entra ID's host: the managed identity endpoint
            ca_bundle=None,
            secrets=self.secrets,
            deadline=TOTAL_TIMEOUT,
            where="the managed identity endpoint",
        )


def _check_endpoints(endpoints: tuple[tuple[str, str], ...]) -> None:
    """Every managed identity endpoint variable that is set must be https (as azure-identity allows)
    or plain http to a loopback or link-local address: the request carries the platform's secret
    (``IDENTITY_HEADER``, ``MSI_SECRET``, Arc's key), which must not cross a network in the clear.
    Judged before any request, on the URL as urllib reads it."""
    for name, url in endpoints:
        scheme, host = _scheme_and_host(url)
        if scheme == "https":
            continue
        if scheme != "http":
            raise SourceFailed(
                f"{name} is not an http or https URL that keyring-ado can read unambiguously, so no managed "
                "identity request was sent; set it to the endpoint the platform gives"
            )
        if not _local(host):
            raise SourceFailed(
                f"{name} is plain http to {host or 'no host'}, which is neither a loopback nor a link-local "
                "address, so no managed identity request was sent (it would carry the host's identity secret "
                "in the clear); use the endpoint the platform sets, or https"
            )


def _scheme_and_host(url: str) -> tuple[str, str]:
    """The scheme and host (lower case) of *url* as urllib reads it; ``("", "")`` when clients could
    read it differently (a backslash, spaces or control characters, user info) or not at all."""
    if any(ch.isspace() or ord(ch) < 32 or ch in "\\\x7f" for ch in url):
        return "", ""
    try:
        split = urllib.parse.urlsplit(url)
        split.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return "", ""
    if "@" in split.netloc:
        return "", ""
    return split.scheme.lower(), split.hostname or ""


def _local(host: str) -> bool:
    """A loopback or link-local IP address (a literal: a name could resolve anywhere), or ``localhost``."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return any(address in ipaddress.ip_network(network) for network in LOCAL_NETWORKS)
