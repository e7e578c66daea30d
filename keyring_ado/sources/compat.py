"""The variables Microsoft's credential provider reads, so pipelines can switch without edits.

* ``VSS_NUGET_EXTERNAL_FEED_ENDPOINTS`` (or ``ARTIFACTS_CREDENTIALPROVIDER_EXTERNAL_FEED_ENDPOINTS``):
  JSON ``{"endpointCredentials": [{"endpoint": URL, "username": ..., "password": PAT}]}``.
  An entry answers a feed when its URL is a prefix of the one asked about; failing that, an entry
  for the same feed under another path (a NuGet URL of the same feed), and for download URLs that
  carry the feed's GUID, an entry in the same organisation.
* ``VSS_NUGET_ACCESSTOKEN`` with ``VSS_NUGET_URI_PREFIXES`` (``;``-separated), as set by the
  Azure Pipelines authenticate tasks: the token answers URLs under one of the prefixes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import variables as names
from .._values import is_guid
from ..errors import SourceUnavailable
from ..feeds import ascii_lower, canonical_prefix, has_prefix, parse
from ..token import DEFAULT_USERNAME, Kind, Token
from .base import Scope, Source

if TYPE_CHECKING:
    from .._values import Endpoint
    from ..feeds import Feed
    from .base import Request


class ExternalFeedEndpointsSource(Source):
    """PATs per feed URL from ``VSS_NUGET_EXTERNAL_FEED_ENDPOINTS``."""

    name = "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS"
    server_capable = True
    signs_in = False
    scope = Scope.URL  # each entry answers the URLs under it: never remembered per organisation

    def __init__(
        self,
        *,
        endpoints: tuple[Endpoint, ...] = (),
        variable: str = names.EXTERNAL_FEED_ENDPOINTS[1],
        server_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self.endpoints, self.variable, self.server_hosts = endpoints, variable, server_hosts

    def get_token(self, request: Request) -> Token:
        feed = request.feed
        variable = self.variable
        if not self.endpoints:
            raise SourceUnavailable(f"{variable} is not set")
        if feed.organization is None:
            raise SourceUnavailable(f"{variable} is matched by feed URL, and {feed.host} alone names no feed")
        best: tuple[int, Endpoint] | None = None
        for endpoint in self.endpoints:
            rank = _rank(endpoint, feed, self.server_hosts)
            if rank and (best is None or rank > best[0]):
                best = (rank, endpoint)
        if best is None:
            raise SourceUnavailable(f"no entry of {variable} covers {feed.canonical_url}")
        endpoint = best[1]
        if best[0] == 1:
            # A bare host or a feed GUID names no feed by its name (and pip reuses a host's answer
            # for every feed on it): only an organisation whose entries all carry one credential answers.
            passwords = {e.password for e in self.endpoints if _rank(e, feed, self.server_hosts) == 1}
            if len(passwords) > 1:
                raise SourceUnavailable(
                    f"{variable} has different credentials for {feed.describe()}'s feeds, and "
                    f"{feed.canonical_url} names none of them by name"
                )
        return Token(
            endpoint.password,
            Kind.PAT,
            source=variable,
            username=endpoint.username or DEFAULT_USERNAME,
        )


class AccessTokenSource(Source):
    """``VSS_NUGET_ACCESSTOKEN`` for the URL prefixes in ``VSS_NUGET_URI_PREFIXES``."""

    name = "VSS_NUGET_ACCESSTOKEN"
    server_capable = False  # a job token, not a PAT
    signs_in = False
    scope = Scope.URL  # for the URLs under the prefixes only

    def __init__(
        self,
        *,
        token: str | None = None,
        variable: str = names.ACCESS_TOKEN[1],
        uri_prefixes: tuple[str, ...] = (),
        server_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self.token, self.variable, self.uri_prefixes, self.server_hosts = token, variable, uri_prefixes, server_hosts

    def get_token(self, request: Request) -> Token:
        variable = self.variable
        if not self.token:
            raise SourceUnavailable(f"{variable} is not set")
        url = request.feed.canonical_url
        for prefix in self.uri_prefixes:
            canonical = canonical_prefix(prefix, self.server_hosts)
            if canonical is not None and has_prefix(url, canonical):
                return Token(self.token, Kind.JOB, source=variable)
        raise SourceUnavailable(f"{url} is under none of the prefixes in VSS_NUGET_URI_PREFIXES")


def _rank(endpoint: Endpoint, feed: Feed, server_hosts: frozenset[str]) -> int:
    """3: a URL prefix; 2: the same feed elsewhere; 1: same organisation, feed named by GUID."""
    prefix = canonical_prefix(endpoint.endpoint, server_hosts)
    if prefix is None:
        return 0  # not an Azure DevOps URL: never a reason to send this secret anywhere
    if has_prefix(feed.canonical_url, prefix):
        return 3
    other = parse(endpoint.endpoint, server_hosts)
    if other is None or other.key != feed.key or other.name is None:
        return 0
    same_project = ascii_lower(other.project or "") == ascii_lower(feed.project or "")
    if feed.name is not None and ascii_lower(other.name) == ascii_lower(feed.name) and same_project:
        return 2
    if feed.name is None or is_guid(feed.name):
        return 1
    return 0
