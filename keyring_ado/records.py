"""The per-concern records a :class:`~keyring_ado.settings.Settings` is made of: what each source,
the cache and the network need, read by :mod:`keyring_ado.settings` alone."""

from __future__ import annotations

from typing import NamedTuple

from . import variables as names
from ._values import Endpoint, masked_repr

DEFAULT_AZ_TIMEOUT = 20.0
DEFAULT_SIGNIN_CLIENT_ID = "d5a56ea4-7369-46b8-a538-c370805301bf"  # Azure Artifacts (Microsoft's own)
DEFAULT_SIGNIN_TIMEOUT = 180.0


# NamedTuples, not dataclasses: keyring imports this module for every lookup on the machine, and
# a frozen dataclass costs about 2 ms to create at import time, a NamedTuple a sixth of that.
# Every record's repr shows texts only as set or empty: a repr must never show a secret.
class EnvironmentSecrets(NamedTuple):
    """``KEYRING_ADO_PAT``, ``KEYRING_ADO_TOKEN`` and ``AZURE_DEVOPS_EXT_PAT``."""

    pat: str | None = None
    token: str | None = None
    ext_pat: str | None = None


class CredentialProvider(NamedTuple):
    """The variables of Microsoft's credential provider, and which spelling of each was set."""

    endpoints: tuple[Endpoint, ...] = ()
    endpoints_variable: str = names.EXTERNAL_FEED_ENDPOINTS[1]
    access_token: str | None = None
    """Only with :attr:`uri_prefixes`: without them nobody can tell which feeds it is for."""
    access_token_variable: str = names.ACCESS_TOKEN[1]
    uri_prefixes: tuple[str, ...] = ()


class Pipelines(NamedTuple):
    """An Azure Pipelines job: its token, its organisation, and a workload-identity service connection."""

    tf_build: bool = False
    access_token: str | None = None
    collection_uri: str | None = None
    oidc_request_uri: str | None = None
    service_connection_id: str | None = None
    client_id: str | None = None
    tenant_id: str | None = None


class Application(NamedTuple):
    """An Entra application (service principal or workload identity), as the Azure SDK reads it."""

    client_id: str | None = None
    tenant_id: str | None = None
    client_secret: str | None = None
    certificate_path: str | None = None
    certificate_password: str | None = None
    federated_token_file: str | None = None


class GitHubActions(NamedTuple):
    """GitHub Actions' OIDC token service, as the runner announces it."""

    request_url: str | None = None
    request_token: str | None = None
    server_url: str | None = None


class ManagedIdentity(NamedTuple):
    identity: str | None = None
    """``system``, a user-assigned client id, or None (not asked): asked only when the hosting
    environment announces it or the user turns it on (a blind probe of IMDS costs seconds)."""
    endpoints: tuple[tuple[str, str], ...] = ()
    """Every managed identity endpoint variable that is set, as ``(name, value)``, in
    azure-identity's order: each is checked before a request is sent."""


class Clis(NamedTuple):
    """How az and azd are found and run."""

    timeout: float = DEFAULT_AZ_TIMEOUT
    az_config_dir: str | None = None
    """``AZURE_CONFIG_DIR`` as set; None for az's default (``~/.azure``)."""
    azd_config_dir: str | None = None
    search_path: str = ""
    """``PATH``, where az and azd are looked for (absolute entries only)."""
    pathext: str = ""


class SignIn(NamedTuple):
    """Our own sign-in of a person."""

    client_id: str = DEFAULT_SIGNIN_CLIENT_ID
    timeout: float = DEFAULT_SIGNIN_TIMEOUT
    allow_unencrypted_cache: bool = False
    display: bool = False
    """A graphical session a browser could open in (and not an SSH login)."""


class Session(NamedTuple):
    enabled: bool = False
    """Exchange a person's Entra token for a narrowly scoped Azure DevOps session token."""
    hostname: bool = False
    """Name session tokens after this machine (``keyring-ado on HOST``); off: just ``keyring-ado``."""


class Cache(NamedTuple):
    directory: str | None = None
    """Where short-lived tokens are shared between processes; None when ``KEYRING_ADO_CACHE=off``."""
    forced: bool = False
    """``KEYRING_ADO_CACHE=on`` said explicitly: CI identities' tokens are written to disk in CI too."""


class Network(NamedTuple):
    """Where Entra ID is, which tenant to ask, and the CA bundle requests are verified with."""

    tenant: str | None = None
    authority_host: str | None = None
    ca_bundle: str | None = None


def _masked(record: tuple[object, ...]) -> str:
    return masked_repr(record, record._fields)  # type: ignore[attr-defined]


for _record in (EnvironmentSecrets, CredentialProvider, Pipelines, Application, GitHubActions, ManagedIdentity,
                Clis, SignIn, Session, Cache, Network):  # fmt: skip
    _record.__repr__ = _masked  # type: ignore[method-assign,assignment]
