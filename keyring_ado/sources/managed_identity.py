"""Managed identity, only where the host says it has one (or the user says so).

App Service, Functions, Arc, Cloud Shell and Azure ML announce themselves with environment
variables; a plain VM does not, so there ``KEYRING_ADO_MANAGED_IDENTITY=1`` (system-assigned) or
``=<client id>`` (user-assigned) turns it on. Requests bypass any proxy (a proxy that swallows the
link-local IMDS address is how a lookup hangs for five minutes), connect within 1 s, read within 2 s,
and are retried at most once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import settings as names
from ..errors import SourceUnavailable
from .base import Identity
from .identity import exchange_token, quiet_azure_loggers

if TYPE_CHECKING:
    from ..credential import Token
    from ..feeds import Feed
    from ..settings import Settings

CONNECT_TIMEOUT = 1
READ_TIMEOUT = 2
#: Both tries in all (IMDS is link-local: an answer is quick or never comes).
TOTAL_TIMEOUT = 10.0


class ManagedIdentitySource:
    name = "managed identity"
    server_capable = False

    def identity(self, feed: Feed, settings: Settings) -> Identity:
        if settings.managed_identity is None:
            raise SourceUnavailable(
                f"no managed identity announced by the host (set {names.MANAGED_IDENTITY}=1 on an Azure VM)"
            )
        import socket  # noqa: PLC0415

        # Which identity, at which endpoint, of which machine: homes shared between machines (NFS)
        # must not hand one machine's system-assigned identity's token to another.
        where = settings.managed_identity_endpoint or "imds"
        return Identity("mi", (settings.managed_identity, where, socket.gethostname()), ci=True)

    def get_token(self, feed: Feed, settings: Settings) -> Token:
        self.identity(feed, settings)
        from azure.core.pipeline.transport import RequestsTransport  # noqa: PLC0415 - only when asked
        from azure.identity import ManagedIdentityCredential  # noqa: PLC0415

        quiet_azure_loggers()
        client_id = None if settings.managed_identity == "system" else settings.managed_identity
        transport = RequestsTransport(
            use_env_settings=False,  # no proxy from the environment: IMDS is link-local
            connection_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
        )
        credential = ManagedIdentityCredential(
            client_id=client_id,
            transport=transport,
            connection_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            retry_total=1,
            retry_status=1,
            retry_backoff_factor=0.2,
        )
        return exchange_token(
            credential, self.name, settings, deadline=TOTAL_TIMEOUT, where="the managed identity endpoint"
        )
