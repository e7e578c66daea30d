"""Every setting keyring-ado reads, in one place, as one small record per concern
(:mod:`keyring_ado.records`).

Nothing else in the package looks at ``os.environ`` to decide what to do: the backend builds a
:class:`Settings` with :meth:`Settings.from_environ` at the start of each lookup, and
:func:`keyring_ado.sources.default_sources` hands each source the values it needs. A malformed
value never raises: it is ignored and described in :attr:`Settings.problems`, which the chain
reports (one line per variable) when a lookup for an Azure DevOps feed runs. The variables'
names, grouped the same way, are in :mod:`keyring_ado.variables`.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import sys
from collections.abc import Mapping
from typing import NamedTuple

from . import variables as names
from ._path import absolute_entry
from ._values import FALSE, TRUE, Endpoint, Reader, masked_repr
from .records import (
    DEFAULT_AZ_TIMEOUT,
    DEFAULT_SIGNIN_CLIENT_ID,
    DEFAULT_SIGNIN_TIMEOUT,
    Application,
    Cache,
    Clis,
    CredentialProvider,
    EnvironmentSecrets,
    GitHubActions,
    ManagedIdentity,
    Network,
    Pipelines,
    Session,
    SignIn,
)

__all__ = ["DEFAULT_AZ_TIMEOUT", "DEFAULT_SIGNIN_CLIENT_ID", "DEFAULT_SIGNIN_TIMEOUT", "Endpoint", "Settings"]

_encoded_names: list[tuple[bytes, ...]] = []  # ALL_VARIABLES as os.environ keeps them, made on first use


class Settings(NamedTuple):
    """An immutable snapshot of the configuration for one lookup; secrets are masked in its repr."""

    server_hosts: frozenset[str] = frozenset()
    in_ci: bool = False
    non_interactive: bool = False
    environment: EnvironmentSecrets = EnvironmentSecrets()
    provider: CredentialProvider = CredentialProvider()
    pipelines: Pipelines = Pipelines()
    application: Application = Application()
    github: GitHubActions = GitHubActions()
    managed_identity: ManagedIdentity = ManagedIdentity()
    clis: Clis = Clis()
    signin: SignIn = SignIn()
    session: Session = Session()
    cache: Cache = Cache()
    network: Network = Network()
    secrets: tuple[str, ...] = ()
    """Every secret these settings hold, for masking any text quoted from elsewhere."""
    problems: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return masked_repr(self, self._fields)

    def secret_values(self) -> list[str]:
        return list(self.secrets)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read every setting from *environ*; never raises."""
        reader = Reader(environ)

        def first(candidates: tuple[str, ...]) -> str | None:
            return next((value for name in candidates if (value := reader.text(name))), None)

        endpoints_var, endpoints = reader.endpoints()
        token_var, access_token = reader.first_secret(names.ACCESS_TOKEN)
        prefixes = reader.prefixes()
        if access_token and not prefixes:
            reader.problem(
                f"{token_var} is set but {names.URI_PREFIXES[1]} is empty, so keyring-ado cannot tell "
                f"which feeds it is for; set {names.URI_PREFIXES[1]} to the feed URL prefixes "
                "(separated by ';')"
            )
        reader.flag(names.DISABLE)  # for its problem line only: the backend asks is_disabled itself
        cache_on = reader.cache_on()
        return cls(
            server_hosts=reader.hosts(),
            in_ci=any(environ.get(name, "").strip().lower() not in FALSE for name in names.CI_MARKERS),
            non_interactive=reader.flag(names.NONINTERACTIVE)
            or reader.flag(names.ARTIFACTS_KEYRING_NONINTERACTIVE)
            or any(
                environ.get(name, "").strip().lower() in TRUE for name in (names.PIP_NO_INPUT, *names.CLIENT_NO_INPUT)
            ),
            environment=EnvironmentSecrets(
                pat=reader.secret(names.PAT),
                token=reader.secret(names.TOKEN),
                ext_pat=reader.secret(names.AZURE_DEVOPS_EXT_PAT),
            ),
            provider=CredentialProvider(
                endpoints=endpoints,
                endpoints_variable=endpoints_var,
                access_token=access_token if prefixes else None,
                access_token_variable=token_var,
                uri_prefixes=prefixes,
            ),
            pipelines=Pipelines(
                tf_build=environ.get(names.TF_BUILD, "").strip().lower() not in FALSE,
                access_token=reader.secret(names.SYSTEM_ACCESSTOKEN, report_empty=False),
                collection_uri=first(names.COLLECTION_URI),
                oidc_request_uri=reader.text(names.OIDC_REQUEST_URI),
                service_connection_id=first(names.SERVICE_CONNECTION_ID),
                client_id=reader.text(names.PIPELINES_CLIENT_ID),
                tenant_id=reader.text(names.PIPELINES_TENANT_ID),
            ),
            application=Application(
                client_id=reader.text(names.CLIENT_ID),
                tenant_id=reader.text(names.TENANT_ID),
                client_secret=reader.secret(names.CLIENT_SECRET),
                certificate_path=reader.text(names.CLIENT_CERTIFICATE_PATH),
                certificate_password=reader.secret(names.CLIENT_CERTIFICATE_PASSWORD, report_empty=False),
                federated_token_file=reader.text(names.FEDERATED_TOKEN_FILE),
            ),
            github=GitHubActions(
                request_url=reader.text(names.GITHUB_REQUEST_URL),
                request_token=reader.secret(names.GITHUB_REQUEST_TOKEN, report_empty=False),
                server_url=reader.text(names.GITHUB_SERVER_URL),
            ),
            managed_identity=ManagedIdentity(
                identity=reader.managed_identity(),
                endpoints=tuple((n, v) for n in names.MANAGED_IDENTITY_ENDPOINTS if (v := reader.text(n))),
            ),
            clis=Clis(
                timeout=reader.seconds(names.AZ_TIMEOUT, DEFAULT_AZ_TIMEOUT),
                az_config_dir=reader.text(names.AZ_CONFIG_DIR),
                azd_config_dir=reader.text(names.AZD_CONFIG_DIR),
                search_path=environ.get(names.SEARCH_PATH, ""),
                pathext=environ.get(names.PATHEXT, ""),
            ),
            signin=SignIn(
                client_id=(reader.text(names.SIGNIN_CLIENT_ID) or DEFAULT_SIGNIN_CLIENT_ID).lower(),
                timeout=reader.seconds(names.SIGNIN_TIMEOUT, DEFAULT_SIGNIN_TIMEOUT),
                allow_unencrypted_cache=reader.flag(names.ALLOW_UNENCRYPTED_CACHE),
                display=_display(environ),
            ),
            session=Session(
                enabled=reader.flag(names.SESSION_TOKEN), hostname=reader.flag(names.SESSION_TOKEN_HOSTNAME)
            ),
            cache=Cache(
                directory=cache_directory(sys.platform, environ) if cache_on else None,
                forced=environ.get(names.CACHE, "").strip().lower() in TRUE,
            ),
            network=Network(
                tenant=reader.tenant(),
                authority_host=reader.text(names.AUTHORITY_HOST),
                ca_bundle=first(names.CA_BUNDLE),
            ),
            secrets=tuple(dict.fromkeys(reader.secrets)),
            problems=tuple(reader.problems),
        )


def _display(environ: Mapping[str, str]) -> bool:
    if any(environ.get(name) for name in names.SSH_MARKERS):
        return False
    if sys.platform in {"win32", "darwin"}:
        return True
    return any(environ.get(name) for name in names.DISPLAY_MARKERS)


def fingerprint(environ: Mapping[str, str] = os.environ) -> tuple[object, ...]:
    """The values of every variable a lookup depends on, cheaply (a few microseconds): equal
    fingerprints mean equal :class:`Settings`, so a remembered answer still holds."""
    data = getattr(environ, "_data", None)  # os.environ's own bytes mapping: 20x faster than .get
    if type(data) is dict and os.name == "posix":
        if not _encoded_names:
            _encoded_names.append(tuple(os.fsencode(name) for name in names.ALL_VARIABLES))
        return tuple(map(data.get, _encoded_names[0]))
    return tuple([environ.get(name) for name in names.ALL_VARIABLES])


def is_disabled(environ: Mapping[str, str]) -> bool:
    """The one check the backend's priority needs; cheap enough for every keyring call."""
    return environ.get(names.DISABLE, "").strip().lower() in TRUE


def server_hosts(environ: Mapping[str, str]) -> frozenset[str]:
    """Just ``KEYRING_ADO_HOSTS``: all the feed gate needs, so foreign lookups parse nothing else.

    Malformed entries are dropped here and reported by :meth:`Settings.from_environ`."""
    if not environ.get(names.HOSTS):
        return frozenset()
    return Reader(environ).hosts()


def cache_directory(platform: str, environ: Mapping[str, str]) -> str:
    r"""Where the token cache lives on *platform*, from *environ* alone: ``KEYRING_ADO_CACHE_DIR``,
    else ``%LOCALAPPDATA%\keyring-ado`` on Windows, ``~/Library/Caches/keyring-ado`` on macOS, and
    ``$XDG_CACHE_HOME/keyring-ado`` (``~/.cache/keyring-ado``) elsewhere: where pip's cache is, with
    our name instead of pip's. Paths are in *platform*'s own form, whatever system runs this.

    A relative ``LOCALAPPDATA`` or ``XDG_CACHE_HOME`` is ignored, as the XDG specification and
    platformdirs (pip's) ignore it: it would put tokens under whichever directory a tool started
    in. ``~`` is :func:`home_directory`."""
    windows = platform == "win32"
    configured = environ.get(names.CACHE_DIR, "").strip()
    if configured:
        if configured == "~" or configured[:2] in {"~/", "~\\" if windows else "~/"}:
            configured = home_directory(platform, environ) + configured[1:]
        if windows:  # ~user, the one form left, is the system's own answer
            return ntpath.abspath(ntpath.expanduser(configured))
        return posixpath.abspath(posixpath.expanduser(configured))
    if windows:
        base = environ.get("LOCALAPPDATA", "").strip()
        if not absolute_entry(base, platform=platform):
            base = ntpath.join(home_directory(platform, environ), "AppData", "Local")
        return ntpath.join(base, "keyring-ado")
    if platform == "darwin":
        return posixpath.join(home_directory(platform, environ), "Library", "Caches", "keyring-ado")
    base = environ.get("XDG_CACHE_HOME", "").strip()
    if not posixpath.isabs(base):
        base = posixpath.join(home_directory(platform, environ), ".cache")
    return posixpath.join(base, "keyring-ado")


def home_directory(platform: str, environ: Mapping[str, str]) -> str:
    """What ``~`` means on *platform*: ``USERPROFILE`` on Windows, ``HOME`` elsewhere, as
    :func:`os.path.expanduser` reads them; when that is unset or empty, this account's home
    directory as the system knows it."""
    return environ.get("USERPROFILE" if platform == "win32" else "HOME", "") or os.path.expanduser("~")
