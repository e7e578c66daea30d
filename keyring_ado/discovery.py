"""Which Entra ID tenant a feed's organisation lives in, from the feed's own 401 challenge.

One unauthenticated HEAD (GET when HEAD says nothing useful) to the feed, with
``X-TFS-FedAuthRedirect: Suppress``, redirects not followed and a short timeout. The tenant comes from
the ``Bearer authorization_uri`` parameter when its host is an Entra authority we trust, else from
``X-VSS-ResourceTenant``; the all-zero tenant (an organisation backed by personal Microsoft accounts)
and a feed that says nothing both mean ``organizations``. A feed that answers 200 is public.

Results are remembered per organisation in this process and, for a week, in ``tenants.json`` beside
the token cache (tenant ids are not secrets). ``KEYRING_ADO_TENANT`` skips all of this.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from . import _http
from ._jsonfile import JsonFile
from ._values import is_guid
from .token import finite_number

if TYPE_CHECKING:
    from email.message import Message

    from .feeds import Feed
    from .settings import Settings

_log = logging.getLogger(__name__)

ORGANIZATIONS = "organizations"
ZERO_TENANT = "00000000-0000-0000-0000-000000000000"
TRUSTED_AUTHORITY_HOSTS = frozenset({"login.microsoftonline.com", "login.windows.net", "login.microsoft.com"})
DEFAULT_AUTHORITY_HOST = "login.microsoftonline.com"
FILE_NAME = "tenants.json"
PROBE_TIMEOUT = 5.0
TENANT_TTL = 7 * 24 * 3600.0
FALLBACK_TTL = 600.0
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?")
_AUTHORIZATION_URI = re.compile(r'authorization_uri\s*=\s*"?([^",\s]+)"?', re.IGNORECASE)

_VSSPS_HOSTS = frozenset(
    {
        "vssps.visualstudio.com",
        "vssps.dev.azure.com",
        "vsspsext.visualstudio.com",
        "vsspsext.dev.azure.com",
        "app.vssps.visualstudio.com",
        "app.vssps.dev.azure.com",
    }
)
_VSSPS_SUFFIXES = (".vssps.visualstudio.com", ".vssps.dev.azure.com")


class Authority(NamedTuple):
    """Where to sign in for a feed's organisation."""

    tenant: str
    """A tenant GUID, or ``organizations`` when the organisation has none we can use."""
    host: str = DEFAULT_AUTHORITY_HOST
    public: bool = False
    """The feed answered without credentials."""
    source: str = "default"
    session_endpoint: str | None = None
    """Where a user's Entra token may be exchanged for a session token: ``X-VSS-AuthorizationEndpoint``,
    kept only when it is an https URL on an allowlisted Azure DevOps identity (vssps) host."""

    @property
    def url(self) -> str:
        return f"https://{self.host}/{self.tenant}"

    @property
    def specific(self) -> bool:
        """True for a real tenant id, which may be passed to ``az --tenant``."""
        return is_guid(self.tenant) and self.tenant != ZERO_TENANT


def authority_for(
    feed: Feed, settings: Settings, remembered: dict[tuple[str, str], Authority] | None = None
) -> Authority:
    """The authority for *feed*: from the override, *remembered* (the process's, per organisation),
    the tenant file or one probe. Never raises."""
    if remembered is None:
        remembered = {}
    if settings.network.tenant:
        return Authority(settings.network.tenant, _authority_host(settings), source="KEYRING_ADO_TENANT")
    known = remembered.get(feed.key)
    if known is not None:
        return known
    directory = settings.cache.directory
    store = None if directory is None else JsonFile(Path(directory) / FILE_NAME)
    stored = _stored(store, feed) if store is not None else None
    if stored is not None:
        remembered[feed.key] = stored
        return stored
    found = probe(feed, settings)
    if found.public:
        return found  # public is a property of one feed, not of its organisation: not remembered
    remembered[feed.key] = found
    if store is not None:
        # A probe that learnt nothing (offline, a proxy in the way) is remembered only briefly.
        _store(store, feed, found, TENANT_TTL if found.source != "default" else FALLBACK_TTL)
    return found


def probe(feed: Feed, settings: Settings) -> Authority:
    """Ask the feed, unauthenticated, who signs its users in."""
    url = probe_url(feed)
    allowed = TRUSTED_AUTHORITY_HOSTS | _extra_hosts(settings)
    fallback = Authority(ORGANIZATIONS, _authority_host(settings))
    for method in ("HEAD", "GET"):
        try:
            status, headers, _ = _http.request(
                url,
                settings.network.ca_bundle,
                method=method,
                headers={"X-TFS-FedAuthRedirect": "Suppress"},
                timeout=PROBE_TIMEOUT,
                read_body=False,
            )
        except (OSError, ValueError) as exc:  # URLError, timeouts and TLS errors are OSErrors
            _log.debug("keyring-ado: tenant discovery: %s %s failed: %s", method, url, _http.reason(exc))
            return fallback
        if 200 <= status < 300:
            _log.debug("keyring-ado: %s answered %s without credentials: a public feed", url, status)
            return fallback._replace(public=True, source="public")
        found = _from_headers(headers, allowed)
        if found is not None:
            _log.debug("keyring-ado: tenant for %s is %s (from %s)", feed.describe(), found.tenant, found.source)
            return found
    _log.debug("keyring-ado: %s named no tenant; using %s", url, ORGANIZATIONS)
    return fallback


def probe_url(feed: Feed) -> str:
    """The feed URL to probe: the one asked about, or the organisation's root for a bare host."""
    if feed.path:
        return f"https://{feed.host}{feed.path}/"
    if feed.organization and feed.host == "pkgs.dev.azure.com":
        return f"https://{feed.host}/{feed.organization}/"
    return f"https://{feed.host}/"


def parse_challenge(headers: Message, allowed_hosts: frozenset[str]) -> Authority | None:
    """The authority a 401's headers name, or None. Public for tests."""
    return _from_headers(headers, allowed_hosts)


def _from_headers(headers: Message, allowed_hosts: frozenset[str]) -> Authority | None:
    found = _tenant_from_headers(headers, allowed_hosts)
    endpoint = session_endpoint(headers.get("X-VSS-AuthorizationEndpoint") or "")
    return found._replace(session_endpoint=endpoint) if found is not None else None


def session_endpoint(url: str) -> str | None:
    """*url* when it is safe to send a bearer token to for a session token, else None.

    https, no user info or port, an allowlisted vssps host, at most one path segment (the org):
    a forged header must not be able to collect a user's token."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    allowed = host in _VSSPS_HOSTS or any(host.endswith(suffix) for suffix in _VSSPS_SUFFIXES)
    if parts.scheme != "https" or "@" in parts.netloc or port or not allowed or len(segments) > 1:
        return None
    return f"https://{host}/{segments[0]}" if segments else f"https://{host}"


def _tenant_from_headers(headers: Message, allowed_hosts: frozenset[str]) -> Authority | None:
    for challenge in headers.get_all("WWW-Authenticate") or []:
        for match in _AUTHORIZATION_URI.finditer(challenge):
            found = _from_authorization_uri(match.group(1), allowed_hosts)
            if found is not None:
                return found
    tenants = [t.strip() for value in headers.get_all("X-VSS-ResourceTenant") or [] for t in value.split(",")]
    real = [t for t in tenants if is_guid(t) and t != ZERO_TENANT]
    if real:
        return Authority(real[0].lower(), DEFAULT_AUTHORITY_HOST, source="X-VSS-ResourceTenant")
    if ZERO_TENANT in tenants:
        return Authority(ORGANIZATIONS, DEFAULT_AUTHORITY_HOST, source="X-VSS-ResourceTenant")
    return None


def _from_authorization_uri(uri: str, allowed_hosts: frozenset[str]) -> Authority | None:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{port}" if port else host
    if parts.scheme != "https" or "@" in parts.netloc or netloc not in allowed_hosts:
        _log.debug("keyring-ado: ignoring an authorization_uri on an untrusted host: %s", netloc or "(none)")
        return None
    tenant = parts.path.strip("/").split("/")[-1].lower()
    if is_guid(tenant) and tenant != ZERO_TENANT:
        return Authority(tenant, netloc, source="authorization_uri")
    return None  # bare or zero: let X-VSS-ResourceTenant decide, else organizations


def _stored(store: JsonFile, feed: Feed) -> Authority | None:
    """The remembered authority, or None when the entry is missing, stale, or malformed in any field
    (each field is checked for its type and range: the file is a cache, never an exception)."""
    entry = store.read().get(feed.entry_key)
    if not isinstance(entry, dict):
        return None
    tenant, host, endpoint = entry.get("tenant"), entry.get("host"), entry.get("session_endpoint")
    checked, ttl = finite_number(entry.get("checked")), finite_number(entry.get("ttl", TENANT_TTL))
    if not (isinstance(tenant, str) and isinstance(host, str) and _HOST.fullmatch(host)):
        return None
    if checked is None or ttl is None or not 0 < ttl <= TENANT_TTL or checked > time.time() + 60:
        return None
    if endpoint is not None and not isinstance(endpoint, str):
        return None
    found = Authority(tenant, host, source=FILE_NAME, session_endpoint=session_endpoint(endpoint or ""))
    if time.time() - checked > ttl or not (found.specific or found.tenant == ORGANIZATIONS):
        return None
    return found


def _store(store: JsonFile, feed: Feed, found: Authority, ttl: float) -> None:
    def update(entries: dict[str, object]) -> dict[str, object]:
        entries[feed.entry_key] = {
            "tenant": found.tenant,
            "host": found.host,
            "session_endpoint": found.session_endpoint,
            "checked": time.time(),
            "ttl": ttl,
        }
        return entries

    store.update(update)


def _authority_host(settings: Settings) -> str:
    return next(iter(_extra_hosts(settings)), DEFAULT_AUTHORITY_HOST)


def _extra_hosts(settings: Settings) -> frozenset[str]:
    """``AZURE_AUTHORITY_HOST`` (a sovereign cloud, or the tests' fake), when it is https."""
    if not settings.network.authority_host:
        return frozenset()
    try:
        parts = urlsplit(
            settings.network.authority_host
            if "://" in settings.network.authority_host
            else "https://" + settings.network.authority_host
        )
        port = parts.port
    except ValueError:
        return frozenset()
    if parts.scheme != "https" or not parts.hostname:
        return frozenset()
    return frozenset({f"{parts.hostname.lower()}:{port}" if port else parts.hostname.lower()})
