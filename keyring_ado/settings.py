"""Every setting keyring-ado reads, in one place.

Nothing else in the package looks at ``os.environ`` to decide what to do: the backend builds a
:class:`Settings` with :meth:`Settings.from_environ` at the start of each lookup and hands it down.
A malformed value never raises: it is ignored and described in :attr:`Settings.problems`, which
the chain reports (one line per variable) when a lookup for an Azure DevOps feed runs.
"""

from __future__ import annotations

import math
import ntpath
import os
import posixpath
import sys
from collections.abc import Mapping
from typing import NamedTuple

# --- our own variables -----------------------------------------------------------------------
DISABLE = "KEYRING_ADO_DISABLE"
HOSTS = "KEYRING_ADO_HOSTS"
PAT = "KEYRING_ADO_PAT"
TOKEN = "KEYRING_ADO_TOKEN"  # noqa: S105 - a variable name, not a secret
NONINTERACTIVE = "KEYRING_ADO_NONINTERACTIVE"
AZ_TIMEOUT = "KEYRING_ADO_AZ_TIMEOUT"
CACHE = "KEYRING_ADO_CACHE"
CACHE_DIR = "KEYRING_ADO_CACHE_DIR"
TENANT = "KEYRING_ADO_TENANT"
# --- Entra ID and TLS, as the Azure SDK and requests read them --------------------------------
AUTHORITY_HOST = "AZURE_AUTHORITY_HOST"
AZ_CONFIG_DIR = "AZURE_CONFIG_DIR"
AZD_CONFIG_DIR = "AZD_CONFIG_DIR"
CLIENT_ID = "AZURE_CLIENT_ID"
TENANT_ID = "AZURE_TENANT_ID"
CLIENT_SECRET = "AZURE_CLIENT_SECRET"  # noqa: S105 - a variable name
CLIENT_CERTIFICATE_PATH = "AZURE_CLIENT_CERTIFICATE_PATH"
CLIENT_CERTIFICATE_PASSWORD = "AZURE_CLIENT_CERTIFICATE_PASSWORD"  # noqa: S105 - a variable name
FEDERATED_TOKEN_FILE = "AZURE_FEDERATED_TOKEN_FILE"  # noqa: S105 - a variable name
# --- GitHub Actions OIDC ---------------------------------------------------------------------
GITHUB_REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
GITHUB_REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - a variable name
#: GitHub Enterprise Server's own address: its token service is that host (or a subdomain).
GITHUB_SERVER_URL = "GITHUB_SERVER_URL"
# --- Azure Pipelines OIDC (workload identity service connections) -----------------------------
OIDC_REQUEST_URI = "SYSTEM_OIDCREQUESTURI"
SERVICE_CONNECTION_ID = ("KEYRING_ADO_SERVICE_CONNECTION_ID", "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID")
PIPELINES_CLIENT_ID = "AZURESUBSCRIPTION_CLIENT_ID"
PIPELINES_TENANT_ID = "AZURESUBSCRIPTION_TENANT_ID"
# --- our own sign-in --------------------------------------------------------------------------
SIGNIN_CLIENT_ID = "KEYRING_ADO_CLIENT_ID"
SESSION_TOKEN = "KEYRING_ADO_SESSION_TOKEN"  # noqa: S105 - a variable name
SESSION_TOKEN_HOSTNAME = "KEYRING_ADO_SESSION_TOKEN_HOSTNAME"  # noqa: S105 - a variable name
ALLOW_UNENCRYPTED_CACHE = "KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE"
SIGNIN_TIMEOUT = "KEYRING_ADO_SIGNIN_TIMEOUT"
DEFAULT_SIGNIN_CLIENT_ID = "d5a56ea4-7369-46b8-a538-c370805301bf"  # Azure Artifacts (Microsoft's own)
DEFAULT_SIGNIN_TIMEOUT = 180.0
DISPLAY_MARKERS = ("DISPLAY", "WAYLAND_DISPLAY")
SSH_MARKERS = ("SSH_CONNECTION", "SSH_TTY")
PIP_NO_INPUT = "PIP_NO_INPUT"
#: The clients' own "never prompt" switches: a client told not to ask must not get our prompt either.
CLIENT_NO_INPUT = ("TWINE_NON_INTERACTIVE", "POETRY_NO_INTERACTION", "PDM_NON_INTERACTIVE")
# --- managed identity: ours, and the hosting environments' markers ----------------------------
MANAGED_IDENTITY = "KEYRING_ADO_MANAGED_IDENTITY"
MANAGED_IDENTITY_MARKERS = (
    ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"),  # App Service, Functions, Service Fabric
    ("IDENTITY_ENDPOINT", "IMDS_ENDPOINT"),  # Azure Arc
    ("MSI_ENDPOINT",),  # Cloud Shell, Azure ML
)
#: Where azure-identity asks for a managed identity's token (the last is its override of the IMDS address).
MANAGED_IDENTITY_ENDPOINTS = ("IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IMDS_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST")
CA_BUNDLE = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
# --- the az devops convention ----------------------------------------------------------------
AZURE_DEVOPS_EXT_PAT = "AZURE_DEVOPS_EXT_PAT"
# --- Microsoft's credential provider (artifacts-keyring) compatibility ------------------------
EXTERNAL_FEED_ENDPOINTS = (
    "ARTIFACTS_CREDENTIALPROVIDER_EXTERNAL_FEED_ENDPOINTS",
    "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS",
)
ACCESS_TOKEN = ("ARTIFACTS_CREDENTIALPROVIDER_ACCESSTOKEN", "VSS_NUGET_ACCESSTOKEN")
URI_PREFIXES = ("ARTIFACTS_CREDENTIALPROVIDER_URI_PREFIXES", "VSS_NUGET_URI_PREFIXES")
ARTIFACTS_KEYRING_NONINTERACTIVE = "ARTIFACTS_KEYRING_NONINTERACTIVE_MODE"
# --- Azure Pipelines -------------------------------------------------------------------------
TF_BUILD = "TF_BUILD"
SYSTEM_ACCESSTOKEN = "SYSTEM_ACCESSTOKEN"
COLLECTION_URI = ("SYSTEM_COLLECTIONURI", "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI")
# --- generic CI markers ----------------------------------------------------------------------
CI_MARKERS = (
    "CI",
    "TF_BUILD",
    "GITHUB_ACTIONS",
    "BUILD_BUILDID",
    "GITLAB_CI",
    "JENKINS_URL",
    "JENKINS_HOME",
    # CI systems that do not all set CI:
    "TEAMCITY_VERSION",
    "CODEBUILD_BUILD_ID",
    "BUILDKITE",
    "CIRCLECI",
    "BITBUCKET_BUILD_NUMBER",
    "APPVEYOR",
    "TRAVIS",
    "DRONE",
    "SEMAPHORE",
    "BITRISE_IO",
    "CF_BUILD_ID",
    "HEROKU_TEST_RUN_ID",
    "GO_PIPELINE_NAME",
    "BAMBOO_BUILDKEY",
    "bamboo_buildKey",
)
# --- where helper programs (az, azd) are looked for -------------------------------------------
SEARCH_PATH = "PATH"
PATHEXT = "PATHEXT"
#: The home directory, which ``~`` in the default paths (the cache, az's and azd's profiles) means.
HOME = ("HOME", "USERPROFILE")

#: The variables whose values are secrets: never quoted, and never handed to az or azd.
SECRET_VARIABLES: tuple[str, ...] = (
    PAT,
    TOKEN,
    AZURE_DEVOPS_EXT_PAT,
    CLIENT_SECRET,
    CLIENT_CERTIFICATE_PASSWORD,
    GITHUB_REQUEST_TOKEN,
    SYSTEM_ACCESSTOKEN,
    *EXTERNAL_FEED_ENDPOINTS,
    *ACCESS_TOKEN,
)

#: Every variable this package reads. Tests clear all of them before each test.
ALL_VARIABLES: tuple[str, ...] = (
    DISABLE,
    HOSTS,
    PAT,
    TOKEN,
    NONINTERACTIVE,
    AZ_TIMEOUT,
    CACHE,
    CACHE_DIR,
    TENANT,
    AUTHORITY_HOST,
    AZ_CONFIG_DIR,
    AZD_CONFIG_DIR,
    CLIENT_ID,
    TENANT_ID,
    CLIENT_SECRET,
    CLIENT_CERTIFICATE_PATH,
    CLIENT_CERTIFICATE_PASSWORD,
    FEDERATED_TOKEN_FILE,
    GITHUB_REQUEST_URL,
    GITHUB_REQUEST_TOKEN,
    GITHUB_SERVER_URL,
    OIDC_REQUEST_URI,
    *SERVICE_CONNECTION_ID,
    PIPELINES_CLIENT_ID,
    PIPELINES_TENANT_ID,
    SIGNIN_CLIENT_ID,
    SESSION_TOKEN,
    SESSION_TOKEN_HOSTNAME,
    ALLOW_UNENCRYPTED_CACHE,
    SIGNIN_TIMEOUT,
    *DISPLAY_MARKERS,
    *SSH_MARKERS,
    PIP_NO_INPUT,
    *CLIENT_NO_INPUT,
    MANAGED_IDENTITY,
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    *CA_BUNDLE,
    AZURE_DEVOPS_EXT_PAT,
    *EXTERNAL_FEED_ENDPOINTS,
    *ACCESS_TOKEN,
    *URI_PREFIXES,
    ARTIFACTS_KEYRING_NONINTERACTIVE,
    SYSTEM_ACCESSTOKEN,
    *COLLECTION_URI,
    *CI_MARKERS,
    SEARCH_PATH,
    PATHEXT,
    "XDG_CACHE_HOME",
    "LOCALAPPDATA",
    *HOME,
)
_encoded_names: list[tuple[bytes, ...]] = []  # ALL_VARIABLES as os.environ keeps them, made on first use

DEFAULT_AZ_TIMEOUT = 20.0
#: The longest any timeout may be: a lookup that waits longer than an hour is a hang.
MAX_SECONDS = 3600.0
_HEX = frozenset("0123456789abcdefABCDEF")
_LABEL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


# NamedTuples, not dataclasses: keyring imports this module for every lookup on the machine, and
# a frozen dataclass costs about 2 ms to create at import time, a NamedTuple a sixth of that.
def _masked_repr(value: tuple[object, ...], fields: tuple[str, ...]) -> str:
    """Booleans and numbers as they are; every text or collection only as set or not: people paste
    secrets into URLs, host lists and tenant variables, and a repr must never show one."""
    shown = (
        f"{name}={item!r}"
        if item is None or isinstance(item, bool | int | float)
        else f"{name}=<{'set' if item else 'empty'}>"
        for name, item in zip(fields, value, strict=True)
    )
    return f"{type(value).__name__}({', '.join(shown)})"


class Endpoint(NamedTuple):
    """One entry of ``VSS_NUGET_EXTERNAL_FEED_ENDPOINTS``: a URL prefix and its credential."""

    endpoint: str
    username: str | None
    password: str

    def __repr__(self) -> str:
        return _masked_repr(self, self._fields)


class Settings(NamedTuple):
    """An immutable snapshot of the configuration for one lookup; secrets are masked in its repr."""

    disabled: bool = False
    server_hosts: frozenset[str] = frozenset()
    pat: str | None = None
    token: str | None = None
    ext_pat: str | None = None
    endpoints: tuple[Endpoint, ...] = ()
    endpoints_variable: str = EXTERNAL_FEED_ENDPOINTS[1]
    access_token: str | None = None
    access_token_variable: str = ACCESS_TOKEN[1]
    uri_prefixes: tuple[str, ...] = ()
    non_interactive: bool = False
    in_ci: bool = False
    tf_build: bool = False
    system_access_token: str | None = None
    collection_uri: str | None = None
    az_timeout: float = DEFAULT_AZ_TIMEOUT
    cache_dir: str | None = None
    """Where short-lived tokens are shared between processes; None when ``KEYRING_ADO_CACHE=off``."""
    cache_forced: bool = False
    """``KEYRING_ADO_CACHE=on`` said explicitly: CI identities' tokens are written to disk in CI too."""
    tenant: str | None = None
    authority_host: str | None = None
    ca_bundle: str | None = None
    az_config_dir: str | None = None
    """``AZURE_CONFIG_DIR`` as set; None for az's default (``~/.azure``)."""
    azd_config_dir: str | None = None
    client_id: str | None = None
    tenant_id: str | None = None
    client_secret: str | None = None
    client_certificate_path: str | None = None
    client_certificate_password: str | None = None
    federated_token_file: str | None = None
    github_request_url: str | None = None
    github_request_token: str | None = None
    github_server_url: str | None = None
    oidc_request_uri: str | None = None
    service_connection_id: str | None = None
    pipelines_client_id: str | None = None
    pipelines_tenant_id: str | None = None
    signin_client_id: str = DEFAULT_SIGNIN_CLIENT_ID
    session_token: bool = False
    """Exchange a person's Entra token for a narrowly scoped Azure DevOps session token."""
    session_token_hostname: bool = False
    """Name session tokens after this machine (``keyring-ado on HOST``); off: just ``keyring-ado``."""
    allow_unencrypted_cache: bool = False
    signin_timeout: float = DEFAULT_SIGNIN_TIMEOUT
    display: bool = False
    """A graphical session a browser could open in (and not an SSH login)."""
    managed_identity_endpoint: str | None = None
    """Where the host's managed identity answers (``IDENTITY_ENDPOINT``, ``MSI_ENDPOINT``,
    ``IMDS_ENDPOINT``, ``AZURE_POD_IDENTITY_AUTHORITY_HOST``); None for the instance metadata service."""
    managed_identity_endpoints: tuple[tuple[str, str], ...] = ()
    """Every managed identity endpoint variable that is set, as ``(name, value)``: each is checked
    before a managed identity request is sent."""
    managed_identity: str | None = None
    """``system``, a user-assigned client id, or None (not asked); see :meth:`_Reader.managed_identity`."""
    search_path: str = ""
    """``PATH``, where az and azd are looked for (absolute entries only)."""
    pathext: str = ""
    problems: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return _masked_repr(self, self._fields)

    def secret_values(self) -> list[str]:
        """Every secret these settings hold (those of :data:`SECRET_VARIABLES`), for masking any
        text quoted from elsewhere."""
        values = [self.pat, self.token, self.ext_pat, self.client_secret, self.client_certificate_password,
                  self.github_request_token, self.system_access_token, self.access_token]  # fmt: skip
        return [value for value in (*values, *(e.password for e in self.endpoints)) if value]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read every setting from *environ*; never raises."""
        reader = _Reader(environ)
        endpoints_var, endpoints = reader.endpoints()
        token_var, access_token = reader.first_secret(ACCESS_TOKEN)
        prefixes = reader.prefixes()
        endpoints_set = tuple((n, v) for n in MANAGED_IDENTITY_ENDPOINTS if (v := environ.get(n, "").strip()))
        if access_token and not prefixes:
            reader.problem(
                f"{token_var} is set but {URI_PREFIXES[1]} is empty, so keyring-ado cannot tell "
                f"which feeds it is for; set {URI_PREFIXES[1]} to the feed URL prefixes "
                "(separated by ';')"
            )
        return cls(
            disabled=reader.flag(DISABLE),
            server_hosts=reader.hosts(),
            pat=reader.secret(PAT),
            token=reader.secret(TOKEN),
            ext_pat=reader.secret(AZURE_DEVOPS_EXT_PAT),
            endpoints=endpoints,
            endpoints_variable=endpoints_var,
            access_token=access_token if prefixes else None,
            access_token_variable=token_var,
            uri_prefixes=prefixes,
            non_interactive=reader.flag(NONINTERACTIVE)
            or reader.flag(ARTIFACTS_KEYRING_NONINTERACTIVE)
            or any(environ.get(name, "").strip().lower() in _TRUE for name in (PIP_NO_INPUT, *CLIENT_NO_INPUT)),
            in_ci=any(environ.get(name, "").strip().lower() not in _FALSE for name in CI_MARKERS),
            tf_build=environ.get(TF_BUILD, "").strip().lower() not in _FALSE,
            system_access_token=reader.secret(SYSTEM_ACCESSTOKEN, report_empty=False),
            collection_uri=next((environ[n].strip() for n in COLLECTION_URI if environ.get(n, "").strip()), None),
            az_timeout=reader.seconds(AZ_TIMEOUT, DEFAULT_AZ_TIMEOUT),
            cache_dir=reader.cache_dir(),
            cache_forced=environ.get(CACHE, "").strip().lower() in _TRUE,
            tenant=reader.tenant(),
            authority_host=environ.get(AUTHORITY_HOST, "").strip() or None,
            az_config_dir=reader.text(AZ_CONFIG_DIR),
            azd_config_dir=reader.text(AZD_CONFIG_DIR),
            client_id=reader.text(CLIENT_ID),
            tenant_id=reader.text(TENANT_ID),
            client_secret=reader.secret(CLIENT_SECRET),
            client_certificate_path=reader.text(CLIENT_CERTIFICATE_PATH),
            client_certificate_password=reader.secret(CLIENT_CERTIFICATE_PASSWORD, report_empty=False),
            federated_token_file=reader.text(FEDERATED_TOKEN_FILE),
            github_request_url=reader.text(GITHUB_REQUEST_URL),
            github_request_token=reader.secret(GITHUB_REQUEST_TOKEN, report_empty=False),
            github_server_url=reader.text(GITHUB_SERVER_URL),
            oidc_request_uri=reader.text(OIDC_REQUEST_URI),
            service_connection_id=next((t for n in SERVICE_CONNECTION_ID if (t := reader.text(n))), None),
            pipelines_client_id=reader.text(PIPELINES_CLIENT_ID),
            pipelines_tenant_id=reader.text(PIPELINES_TENANT_ID),
            signin_client_id=(reader.text(SIGNIN_CLIENT_ID) or DEFAULT_SIGNIN_CLIENT_ID).lower(),
            allow_unencrypted_cache=reader.flag(ALLOW_UNENCRYPTED_CACHE),
            session_token=reader.flag(SESSION_TOKEN),
            session_token_hostname=reader.flag(SESSION_TOKEN_HOSTNAME),
            signin_timeout=reader.seconds(SIGNIN_TIMEOUT, DEFAULT_SIGNIN_TIMEOUT),
            display=_display(environ),
            managed_identity=reader.managed_identity(),
            managed_identity_endpoint=endpoints_set[0][1] if endpoints_set else None,
            managed_identity_endpoints=endpoints_set,
            ca_bundle=next((environ[n].strip() for n in CA_BUNDLE if environ.get(n, "").strip()), None),
            search_path=environ.get(SEARCH_PATH, ""),
            pathext=environ.get(PATHEXT, ""),
            problems=tuple(reader.problems),
        )


def is_guid(text: str) -> bool:
    """8-4-4-4-12 hex digits (no regex: this module is imported for every keyring lookup)."""
    parts = text.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(set(p) <= _HEX for p in parts)


def _is_domain(text: str) -> bool:
    """A DNS name like ``contoso.onmicrosoft.com``: dotted labels and a short alphabetic last one
    (a PAT or a token pasted by mistake is neither, and is then never shown)."""
    labels = text.split(".")
    return (
        len(text) <= 253
        and len(labels) >= 2
        and all(label and len(label) <= 63 and set(label) <= _LABEL for label in labels)
        and labels[-1].isalpha()
        and len(labels[-1]) <= 24
    )


def _display(environ: Mapping[str, str]) -> bool:
    if any(environ.get(name) for name in SSH_MARKERS):
        return False
    if sys.platform in {"win32", "darwin"}:
        return True
    return any(environ.get(name) for name in DISPLAY_MARKERS)


def fingerprint(environ: Mapping[str, str] = os.environ) -> tuple[object, ...]:
    """The values of every variable a lookup depends on, cheaply (a few microseconds): equal
    fingerprints mean equal :class:`Settings`, so a remembered answer still holds."""
    data = getattr(environ, "_data", None)  # os.environ's own bytes mapping: 20x faster than .get
    if type(data) is dict and os.name == "posix":
        if not _encoded_names:
            _encoded_names.append(tuple(os.fsencode(name) for name in ALL_VARIABLES))
        return tuple(map(data.get, _encoded_names[0]))
    return tuple([environ.get(name) for name in ALL_VARIABLES])


def is_disabled(environ: Mapping[str, str]) -> bool:
    """The one check the backend's priority needs; cheap enough for every keyring call."""
    return environ.get(DISABLE, "").strip().lower() in _TRUE


def server_hosts(environ: Mapping[str, str]) -> frozenset[str]:
    """Just ``KEYRING_ADO_HOSTS``: all the feed gate needs, so foreign lookups parse nothing else.

    Malformed entries are dropped here and reported by :meth:`Settings.from_environ`."""
    if not environ.get(HOSTS):
        return frozenset()
    return _Reader(environ).hosts()


def cache_directory(platform: str, environ: Mapping[str, str]) -> str:
    r"""Where the token cache lives on *platform*, from *environ* alone: ``KEYRING_ADO_CACHE_DIR``,
    else ``%LOCALAPPDATA%\keyring-ado`` on Windows, ``~/Library/Caches/keyring-ado`` on macOS, and
    ``$XDG_CACHE_HOME/keyring-ado`` (``~/.cache/keyring-ado``) elsewhere: where pip's cache is, with
    our name instead of pip's. Paths are in *platform*'s own form, whatever system runs this.

    A relative ``LOCALAPPDATA`` or ``XDG_CACHE_HOME`` is ignored, as the XDG specification and
    platformdirs (pip's) ignore it: it would put tokens under whichever directory a tool started
    in. ``~`` is :func:`home_directory`."""
    windows = platform == "win32"
    configured = environ.get(CACHE_DIR, "").strip()
    if configured:
        if configured == "~" or configured[:2] in {"~/", "~\\" if windows else "~/"}:
            configured = home_directory(platform, environ) + configured[1:]
        if windows:  # ~user, the one form left, is the system's own answer
            return ntpath.abspath(ntpath.expanduser(configured))
        return posixpath.abspath(posixpath.expanduser(configured))
    if windows:
        from ._path import absolute_entry  # noqa: PLC0415 - a foreign lookup imports nothing it does not use

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


class _Reader:
    """Parses variables strictly and records one line for each malformed one."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def flag(self, name: str) -> bool:
        raw = self.environ.get(name)
        if raw is None:
            return False
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value not in _FALSE:
            self.problem(
                f"{name} is set to something that is not a boolean (its value is not shown); "
                "use 1/true/yes/on or 0/false/no/off"
            )
        return False

    def secret(self, name: str, *, report_empty: bool = True) -> str | None:
        raw = self.environ.get(name)
        if raw is None:
            return None
        value = raw.strip()
        if not value:
            if report_empty:
                self.problem(f"{name} is set but empty; ignoring it")
            return None
        if any(ch.isspace() for ch in value):
            self.problem(f"{name} contains whitespace inside the value; ignoring it (check how it was quoted)")
            return None
        return value

    def text(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def first_secret(self, names: tuple[str, ...]) -> tuple[str, str | None]:
        for name in names:
            if name in self.environ:
                return name, self.secret(name)
        return names[-1], None

    def seconds(self, name: str, default: float) -> float:
        raw = self.environ.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            self.problem(f"{name} is not a positive number of seconds (its value is not shown); using {default:g}")
            return default
        if value > MAX_SECONDS:
            self.problem(f"{name} is more than {MAX_SECONDS:g} seconds; using {MAX_SECONDS:g}")
            return MAX_SECONDS
        return value

    def managed_identity(self) -> str | None:
        """``system`` or a client id when managed identity should be asked, else None.

        Asked only when the hosting environment announces it or the user turns it on: a blind
        probe of 169.254.169.254 off Azure costs seconds, and minutes behind a proxy."""
        raw = self.environ.get(MANAGED_IDENTITY, "").strip()
        if raw.lower() in _TRUE:
            return "system"
        if raw and raw.lower() not in _FALSE:
            if not is_guid(raw):
                self.problem(
                    f"{MANAGED_IDENTITY} is neither 1 nor a client id (a GUID) (its value is not shown); ignoring it"
                )
                return None
            return raw.lower()
        if raw:  # 0, false, no or off: never
            return None
        detected = any(all(self.environ.get(name) for name in marker) for marker in MANAGED_IDENTITY_MARKERS)
        return "system" if detected else None

    def tenant(self) -> str | None:
        raw = self.environ.get(TENANT, "").strip()
        if not raw:
            return None
        value = raw.lower()
        if not (is_guid(value) or value in {"organizations", "common", "consumers"} or _is_domain(value)):
            self.problem(f"{TENANT} is not a tenant id or domain (its value is not shown); ignoring it")
            return None
        return value

    def cache_dir(self) -> str | None:
        raw = self.environ.get(CACHE, "").strip().lower()
        if raw and raw in _FALSE:
            return None
        if raw and raw not in _TRUE:
            self.problem(f"{CACHE} is neither on nor off (its value is not shown); keeping the token cache on")
        return cache_directory(sys.platform, self.environ)

    def hosts(self) -> frozenset[str]:
        raw = self.environ.get(HOSTS, "")
        hosts = set()
        for position, item in enumerate(raw.split(","), start=1):
            host = item.strip().lower()
            if not host:
                continue
            if "://" in host or "/" in host or "@" in host or not _valid_host_port(host):
                self.problem(
                    f"{HOSTS} entry {position} is not host[:port] (its value is not shown); "
                    "write it like tfs.example.com or tfs.example.com:8443"
                )
                continue
            hosts.add(host[:-4] if host.endswith(":443") else host)
        return frozenset(hosts)

    def prefixes(self) -> tuple[str, ...]:
        for name in URI_PREFIXES:
            raw = self.environ.get(name)
            if raw is not None:
                return tuple(p.strip() for p in raw.split(";") if p.strip())
        return ()

    def endpoints(self) -> tuple[str, tuple[Endpoint, ...]]:
        for name in EXTERNAL_FEED_ENDPOINTS:
            raw = self.environ.get(name)
            if raw is None:
                continue
            if not raw.strip():
                self.problem(f"{name} is set but empty; ignoring it")
                return name, ()
            return name, self._parse_endpoints(name, raw)
        return EXTERNAL_FEED_ENDPOINTS[1], ()

    def _parse_endpoints(self, name: str, raw: str) -> tuple[Endpoint, ...]:
        import json  # noqa: PLC0415 - only when the variable is set; keeps foreign lookups light

        expected = '{"endpointCredentials": [{"endpoint": "https://...", "password": "..."}]}'
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as exc:
            # exc carries a position, never the text around it
            self.problem(f"{name} is not valid JSON ({exc.msg} at character {exc.pos}); expected {expected}")
            return ()
        except (ValueError, RecursionError):  # nested too deep, or a number too long to read
            self.problem(
                f"{name} is not JSON keyring-ado can read (too deeply nested or too large); expected {expected}"
            )
            return ()
        entries = document.get("endpointCredentials") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            self.problem(f"{name} has no endpointCredentials list; expected {expected}")
            return ()
        endpoints = []
        for index, entry in enumerate(entries):
            endpoint = entry.get("endpoint") if isinstance(entry, dict) else None
            password = entry.get("password") if isinstance(entry, dict) else None
            username = entry.get("username") if isinstance(entry, dict) else None
            if not (isinstance(endpoint, str) and endpoint.strip() and isinstance(password, str) and password):
                self.problem(f'{name} entry {index} needs a non-empty "endpoint" and "password"; ignoring that entry')
                continue
            endpoints.append(
                Endpoint(
                    endpoint=endpoint.strip(),
                    username=username if isinstance(username, str) and username else None,
                    password=password,
                )
            )
        return tuple(endpoints)


def _valid_host_port(text: str) -> bool:
    host, _, port = text.partition(":")
    if port and not (port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536):
        return False
    labels = host.split(".")
    return bool(host) and all(
        label and len(label) < 64 and all((c.isascii() and c.isalnum()) or c == "-" for c in label) for label in labels
    )
