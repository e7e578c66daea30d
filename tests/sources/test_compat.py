"""Microsoft credential provider variables: external feed endpoints and the build access token."""

from __future__ import annotations

import json

import pytest

from keyring_ado.errors import SourceUnavailable
from keyring_ado.sources.compat import AccessTokenSource, ExternalFeedEndpointsSource
from keyring_ado.token import Kind
from tests.helpers import config, configured, feed, request

GUID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"


def endpoints(*entries: dict[str, str]) -> str:
    return json.dumps({"endpointCredentials": list(entries)})


def test_prefix_match_not_only_exact() -> None:
    """An endpoint URL that is a prefix of the feed URL answers it, with its user name."""
    settings = config(
        VSS_NUGET_EXTERNAL_FEED_ENDPOINTS=endpoints(
            {"endpoint": "https://pkgs.dev.azure.com/other/", "password": "wrong"},
            {"endpoint": "https://pkgs.dev.azure.com/contoso/_packaging/feed/", "username": "me", "password": "right"},
        )
    )
    token = configured(ExternalFeedEndpointsSource, settings).get_token(request(feed()))
    assert (token.secret, token.username, token.kind) == ("right", "me", Kind.PAT)
    assert token.source == "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS"


def test_nuget_url_of_the_same_feed() -> None:
    """A pipeline that lists the feed's NuGet URL still serves its PyPI URLs."""
    settings = config(
        VSS_NUGET_EXTERNAL_FEED_ENDPOINTS=endpoints(
            {"endpoint": "https://pkgs.dev.azure.com/contoso/_packaging/feed/nuget/v3/index.json", "password": "pat"}
        )
    )
    assert configured(ExternalFeedEndpointsSource, settings).get_token(request(feed())).secret == "pat"
    with pytest.raises(SourceUnavailable, match="no entry of VSS_NUGET_EXTERNAL_FEED_ENDPOINTS covers"):
        configured(ExternalFeedEndpointsSource, settings).get_token(
            request(feed("https://pkgs.dev.azure.com/contoso/_packaging/otherfeed/pypi/simple/"))
        )


def test_guid_download_url_matches_same_organisation() -> None:
    """Download URLs name the feed by GUID: an entry in the same organisation answers them."""
    settings = config(
        VSS_NUGET_EXTERNAL_FEED_ENDPOINTS=endpoints(
            {"endpoint": "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/", "password": "pat"}
        )
    )
    url = f"https://pkgs.dev.azure.com/contoso/_packaging/{GUID}/pypi/download/demo/1.0/demo-1.0.whl"
    assert configured(ExternalFeedEndpointsSource, settings).get_token(request(feed(url))).secret == "pat"
    other = f"https://pkgs.dev.azure.com/fabrikam/_packaging/{GUID}/pypi/download/demo/1.0/demo-1.0.whl"
    with pytest.raises(SourceUnavailable):
        configured(ExternalFeedEndpointsSource, settings).get_token(request(feed(other)))


def test_legacy_host_spelling_matches() -> None:
    """An endpoint on the legacy host covers the same organisation on pkgs.dev.azure.com."""
    settings = config(
        VSS_NUGET_EXTERNAL_FEED_ENDPOINTS=endpoints(
            {"endpoint": "https://contoso.pkgs.visualstudio.com/", "password": "p"}
        )
    )
    assert configured(ExternalFeedEndpointsSource, settings).get_token(request(feed())).secret == "p"


def test_foreign_endpoint_never_matches() -> None:
    """An entry for a host that is not Azure DevOps is never used, even for a look-alike path."""
    settings = config(
        VSS_NUGET_EXTERNAL_FEED_ENDPOINTS=endpoints(
            {"endpoint": "https://evil.example/contoso/_packaging/feed/pypi/simple/", "password": "p"}
        )
    )
    with pytest.raises(SourceUnavailable):
        configured(ExternalFeedEndpointsSource, settings).get_token(request(feed()))


def test_bare_host_names_no_feed() -> None:
    """A bare host names no organisation, so no per-feed PAT is handed out for it."""
    settings = config(
        VSS_NUGET_EXTERNAL_FEED_ENDPOINTS=endpoints(
            {"endpoint": "https://pkgs.dev.azure.com/contoso/", "password": "p"}
        )
    )
    with pytest.raises(SourceUnavailable, match="names no feed"):
        configured(ExternalFeedEndpointsSource, settings).get_token(request(feed("pkgs.dev.azure.com")))


def test_access_token_by_prefix() -> None:
    """VSS_NUGET_ACCESSTOKEN answers URLs under VSS_NUGET_URI_PREFIXES, and only those."""
    settings = config(
        VSS_NUGET_ACCESSTOKEN="job",
        VSS_NUGET_URI_PREFIXES="https://pkgs.dev.azure.com/fabrikam/;https://contoso.pkgs.visualstudio.com/",
    )
    token = configured(AccessTokenSource, settings).get_token(request(feed()))
    assert (token.secret, token.kind) == ("job", Kind.JOB)
    with pytest.raises(SourceUnavailable, match="under none of the prefixes"):
        configured(AccessTokenSource, settings).get_token(
            request(feed("https://pkgs.dev.azure.com/contosoevil/_packaging/f/pypi/simple/"))
        )


def test_not_set() -> None:
    """Neither variable set: both sources are unavailable."""
    with pytest.raises(SourceUnavailable):
        configured(ExternalFeedEndpointsSource, config()).get_token(request(feed()))
    with pytest.raises(SourceUnavailable):
        configured(AccessTokenSource, config()).get_token(request(feed()))


def test_dot_segments_are_scoped_to_the_feed_requested() -> None:
    """``feedA/../feedB`` is a request to feedB: feedA's PAT is not its credential (review item 3)."""
    settings = config(
        VSS_NUGET_EXTERNAL_FEED_ENDPOINTS=endpoints(
            {"endpoint": "https://pkgs.dev.azure.com/contoso/_packaging/feedA/pypi/simple/", "password": "PAT_A"}
        ),
        VSS_NUGET_ACCESSTOKEN="job",
        VSS_NUGET_URI_PREFIXES="https://pkgs.dev.azure.com/contoso/_packaging/feedA/",
    )
    sneaky = feed("https://pkgs.dev.azure.com/contoso/_packaging/feedA/../feedB/pypi/simple/")
    assert sneaky.name == "feedB"
    with pytest.raises(SourceUnavailable):
        configured(ExternalFeedEndpointsSource, settings).get_token(request(sneaky))
    with pytest.raises(SourceUnavailable):
        configured(AccessTokenSource, settings).get_token(request(sneaky))
    prefixed = config(
        VSS_NUGET_ACCESSTOKEN="job",
        VSS_NUGET_URI_PREFIXES="https://pkgs.dev.azure.com/contoso/_packaging/feedA/../feedB/",
    )
    assert configured(AccessTokenSource, prefixed).get_token(request(sneaky)).secret == "job"
