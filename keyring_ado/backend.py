"""The keyring backend: an adapter from keyring's ``(service, username)`` calls to feed tokens.

keyring imports this module for every lookup on the machine, whatever the URL, so it imports
nothing heavy: the credential chain (and, through it, any network or subprocess code) is imported
only once a service string has matched an Azure DevOps feed.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.credentials import Credential, SimpleCredential

from . import feeds, settings, variables

if TYPE_CHECKING:
    from .resolver import Resolver

_log = logging.getLogger(__name__)
_resolver: list[Resolver] = []  # the process's one, made by the first Azure DevOps lookup

PRIORITY = 9.9
"""Above the OS stores (5) so the chainer asks us first; below the chainer (10) so it still runs."""


class AdoKeyring(KeyringBackend):
    """Credentials for Azure DevOps Artifacts feeds; read-only, so storage falls to other backends."""

    @properties.classproperty
    def priority(cls) -> float:
        if settings.is_disabled(os.environ):
            raise RuntimeError(f"keyring-ado is turned off by {variables.DISABLE}")
        return PRIORITY

    def get_credential(self, service: str, username: str | None) -> Credential | None:
        """A credential for an Azure Artifacts URL or host; None for anything else, at once."""
        found = _lookup(service)
        if found is None:
            return None
        token_username, secret = found
        return SimpleCredential(username or token_username, secret)

    def get_password(self, service: str, username: str) -> str | None:
        """The secret for *service*, whatever user name the client sends."""
        found = _lookup(service)
        return None if found is None else found[1]

    def set_password(self, service: str, username: str, password: str) -> None:
        """We store nothing; keyring's chainer passes this on to the next backend."""
        raise NotImplementedError("keyring-ado only reads credentials")

    def delete_password(self, service: str, username: str) -> None:
        """We store nothing; keyring's chainer passes this on to the next backend."""
        raise NotImplementedError("keyring-ado only reads credentials")


def _lookup(service: str) -> tuple[str, str] | None:
    """``(username, secret)`` for *service*, or None. Never raises, never prints."""
    try:
        feed = feeds.parse(service, settings.server_hosts(os.environ))
        if feed is None:
            return None
        environment = settings.fingerprint()
        resolver = process_resolver()
        remembered = resolver.recall(feed, environment)
        if remembered is not None:
            token = remembered[0]
        else:
            token = resolver.lookup(feed, settings.Settings.from_environ(os.environ), environment=environment)
    except Exception as exc:
        _log.warning("keyring-ado: lookup failed unexpectedly (%s); please report this", type(exc).__name__)
        return None
    return None if token is None else (token.username, token.secret)


def process_resolver() -> Resolver:
    """This process's :class:`~keyring_ado.resolver.Resolver`, which holds everything remembered
    between lookups; made (and the lookup machinery imported) by the first Azure DevOps lookup."""
    if not _resolver:
        from .resolver import Resolver  # noqa: PLC0415 - the one lazy boundary: only Azure DevOps lookups pay

        _resolver.append(Resolver())
    return _resolver[0]
