"""What every source that asks Entra ID for a token shares: where Entra ID is, the *recipes* a
source writes for the credential it wants (a client secret, a certificate, a federated assertion,
the host's managed identity), and :func:`exchange_token`, which hands a recipe to
:mod:`~keyring_ado.sources._azure` and turns the answer into a :class:`~keyring_ado.token.Token`
or one of the two source errors, with every secret masked.

The one deferred import of azure-identity and azure-core is here, in :func:`exchange_token`:
nothing else in the package imports :mod:`~keyring_ado.sources._azure`, the only module that
imports them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

from .. import variables as names
from .._jsonfile import read_regular
from .._values import is_domain, is_guid, masked_repr
from ..cache import keyed_digest
from ..discovery import DEFAULT_AUTHORITY_HOST, TRUSTED_AUTHORITY_HOSTS
from ..errors import SourceFailed, SourceUnavailable
from ..token import Kind, Token, sane_expiry
from .base import Identity

AZURE_DEVOPS_RESOURCE = "499b84ac-1321-427f-aa17-267ca6975798"
SCOPE = f"{AZURE_DEVOPS_RESOURCE}/.default"
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 15
#: The whole token request, retry and assertion fetch included, whatever a proxy or peer does.
TOTAL_TIMEOUT = 30.0


# Recipes: what a source wants azure-identity to build, as plain values (NamedTuples: no import
# cost, and a repr that shows every text only as set or empty, so no secret ever shows in one).
class ClientSecret(NamedTuple):
    """An application that proves itself with its client secret (``AZURE_CLIENT_SECRET``)."""

    tenant_id: str
    client_id: str
    secret: str

    def __repr__(self) -> str:
        return masked_repr(self, self._fields)


class Certificate(NamedTuple):
    """An application that proves itself with a certificate file (``AZURE_CLIENT_CERTIFICATE_PATH``)
    holding its private key, opened with *password* when there is one."""

    tenant_id: str
    client_id: str
    path: str
    password: str | None

    def __repr__(self) -> str:
        return masked_repr(self, self._fields)


class ClientAssertion(NamedTuple):
    """An application that proves itself with a federated token, which *assertion* gives afresh
    whenever azure-identity needs one."""

    tenant_id: str
    client_id: str
    assertion: Callable[[], str]

    def __repr__(self) -> str:
        return masked_repr(self, self._fields)


class ManagedIdentity(NamedTuple):
    """The host's managed identity: system-assigned (*client_id* None) or user-assigned, asked with
    these per-connection and per-read timeouts (seconds)."""

    client_id: str | None
    connect_timeout: float
    read_timeout: float

    def __repr__(self) -> str:
        return masked_repr(self, self._fields)


Recipe = ClientSecret | Certificate | ClientAssertion | ManagedIdentity


class Entra(NamedTuple):
    """How a source reaches Entra ID: its host (``AZURE_AUTHORITY_HOST``; None for the public
    cloud's), the CA bundle requests are verified with, and the secrets any text quoted from it is
    masked with."""

    authority_host: str | None = None
    ca_bundle: str | None = None
    secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return masked_repr(self, self._fields)

    @property
    def host(self) -> str:
        return entra_host(self.authority_host)

    def exchange(self, recipe: Recipe, name: str) -> Token:
        """:func:`exchange_token` for *recipe*, through this Entra ID."""
        return exchange_token(
            recipe, name, authority_host=self.authority_host, ca_bundle=self.ca_bundle, secrets=self.secrets
        )


class UnusableCertificate(Exception):
    """azure-identity could not build a credential from a :class:`Certificate` (the file is not a
    regular file, cannot be read or parsed, the password is wrong...): the reason, in one line."""


def entra_host(authority_host: str | None) -> str:
    """The Entra ID host tokens are asked of: *authority_host* (``AZURE_AUTHORITY_HOST``: a
    sovereign cloud, or the tests' fake) or the public cloud's, without scheme or trailing slash."""
    return (authority_host or DEFAULT_AUTHORITY_HOST).removeprefix("https://").rstrip("/")


def known_cloud(host: str) -> bool:
    """One of Microsoft's own authority hosts, which msal may ask for instance discovery."""
    return host.partition(":")[0] in TRUSTED_AUTHORITY_HOSTS


def application(client_id: str | None, tenant_id: str | None, name: str) -> tuple[str, str]:
    """``AZURE_CLIENT_ID`` and ``AZURE_TENANT_ID``; unavailable when either is not set."""
    if not client_id:
        raise SourceUnavailable(f"{names.CLIENT_ID} is not set")
    if not tenant_id:
        raise SourceUnavailable(f"{names.TENANT_ID} is not set ({name} needs it with {names.CLIENT_ID})")
    return client_id, tenant_id


def check_tenant(tenant_id: str, variable: str) -> None:
    """SourceFailed, before any request, unless *tenant_id* is a tenant id (a GUID) or a domain:
    azure-identity would refuse anything else with a ValueError deep inside the request."""
    if not (is_guid(tenant_id) or is_domain(tenant_id.lower())):
        raise SourceFailed(
            f"{variable} is neither a tenant id (a GUID) nor a domain (its value is not shown); set it to the "
            "tenant of the app registration (the Directory (tenant) ID on its overview page)"
        )


def application_identity(
    source: str, authority_host: str | None, tenant_id: str, client_id: str, *proof: str
) -> Identity:
    """What identifies an application's credential: the Entra host, tenant and client id, and the
    secret, certificate or federated assertion it proves itself with (only ever hashed)."""
    return Identity(source, (entra_host(authority_host), tenant_id.lower(), client_id.lower(), *proof), ci=True)


def regular_file(path: str) -> bytes:
    """The bytes of a certificate or token file; OSError when it cannot be read or is not a regular
    file (a FIFO planted there would block the read for ever)."""
    data = read_regular(path, 1 << 20)
    if data is None:
        raise OSError(f"{path} is not a regular file")
    return data


def file_digest(path: str) -> str:
    """A digest of a certificate or federated-token file's bytes: another file at the same path is
    another credential."""
    try:
        return keyed_digest(b"keyring-ado file", regular_file(path))
    except OSError:
        return "unreadable"  # get_token will say why


def exchange_token(
    recipe: Recipe,
    name: str,
    *,
    authority_host: str | None,
    ca_bundle: str | None,
    secrets: tuple[str, ...],
    deadline: float | None = None,
    where: str | None = None,
) -> Token:
    """The token for Azure DevOps of the credential *recipe* describes, within *deadline* seconds
    in all (azure-identity's own timeouts bound each read, not the request), from *where* (Entra
    ID's host by default). :class:`UnusableCertificate` when a certificate cannot be loaded."""
    from . import _azure  # noqa: PLC0415 - azure-identity costs 0.2 s: only when a credential is used

    quiet_azure_loggers()
    host = where or entra_host(authority_host)
    seconds = TOTAL_TIMEOUT if deadline is None else deadline
    secret, expiry = _azure.token(recipe, authority_host, ca_bundle, seconds=seconds, where=host, secrets=secrets)
    expires_on = sane_expiry(expiry)
    if expires_on is None:
        raise SourceFailed(f"Entra ID answered with a token whose expiry is not a real time ({host})")
    return Token(secret, Kind.ENTRA, source=name, expires_on=expires_on)


def quiet_azure_loggers() -> None:
    """azure-identity logs its own failure warnings; ours say the same in one line. Quiet theirs,
    unless the application configured those loggers itself."""
    for logger_name in ("azure", "msal", "msal_extensions"):
        logger = logging.getLogger(logger_name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)
