"""What a lookup needs once it reaches the sources that sign in, imported then and only then: those
sources, the wrappers that remember their tokens, and the discovery of a feed's tenant.

A PAT or a job token given in the configuration never pays for any of it; this is the second of
the two lazy boundaries (the first is the backend's: only an Azure DevOps URL gets this far).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import discovery
from .cached import Cached
from .session import SessionExchange
from .sources._entra import Entra
from .sources.azd import AzdSource
from .sources.azure_cli import AzureCliSource
from .sources.github_oidc import GitHubOidcSource
from .sources.managed_identity import ManagedIdentitySource
from .sources.pipelines_oidc import PipelinesOidcSource
from .sources.service_principal import ServicePrincipalSource
from .sources.signin import SignInSource
from .sources.workload_identity import WorkloadIdentitySource

if TYPE_CHECKING:
    from .cached import Memory
    from .feeds import Feed
    from .settings import Settings
    from .sources.base import Source

__all__ = [
    "AzdSource",
    "AzureCliSource",
    "Entra",
    "GitHubOidcSource",
    "ManagedIdentitySource",
    "PipelinesOidcSource",
    "ServicePrincipalSource",
    "SignInSource",
    "SigningIn",
    "WorkloadIdentitySource",
]


class SigningIn:
    """The sign-in machinery of one lookup: each source that signs in is remembered through the
    process's *memory* and the token file (and exchanged for a session token when the settings ask
    for it), and a feed's tenant is discovered once per organisation (remembered in *authorities*)."""

    def __init__(
        self, settings: Settings, memory: Memory, authorities: dict[tuple[str, str], discovery.Authority]
    ) -> None:
        self.settings, self.memory, self.authorities = settings, memory, authorities

    def authority(self, feed: Feed) -> discovery.Authority:
        return discovery.authority_for(feed, self.settings, self.authorities)

    def wrap(self, source: Source) -> Source:
        session = self.settings.session
        if session.enabled:
            exchanged = SessionExchange(
                self._cached(source), hostname=session.hostname, ca_bundle=self.settings.network.ca_bundle
            )
            return self._cached(exchanged)
        return self._cached(source)

    def _cached(self, source: Source) -> Cached:
        settings = self.settings
        return Cached(
            source,
            memory=self.memory,
            directory=settings.cache.directory,
            in_ci=settings.in_ci,
            forced=settings.cache.forced,
            lock_timeout=settings.clis.timeout + 5,  # the longest az may take, and a little more
        )
