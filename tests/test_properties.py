"""Property-based tests over service strings and user names: never raises, never a credential for a
host that is not ours, never the network for foreign strings."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyring_ado import chain, feeds
from keyring_ado.backend import AdoKeyring

OURS = {"pkgs.dev.azure.com", "tfs.contoso.test"}
HOSTS = st.sampled_from(
    [
        "pkgs.dev.azure.com",
        "contoso.pkgs.visualstudio.com",
        "pkgs.dev.azure.com.evil.example",
        "evilpkgs.dev.azure.com",
        "evil.example",
        "pypi.org",
        "127.0.0.1:8080",
        "tfs.contoso.test",
        "[::1]",
        "",
    ]
)
SEGMENTS = st.lists(
    st.one_of(st.sampled_from(["_packaging", "pypi", "simple", "upload", "download", "org", "feed", ".."]),
              st.text(min_size=0, max_size=12)),
    max_size=7,
)  # fmt: skip
SERVICES = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda scheme, user, host, parts: f"{scheme}{user}{host}/{'/'.join(parts)}",
        st.sampled_from(["https://", "http://", "HTTPS://", "", "ftp://", "https:/"]),
        st.sampled_from(["", "VssSessionToken@", "a:b@", "evil.example\\@", "x@evil.example@"]),
        HOSTS,
        SEGMENTS,
    ),
)
USERNAMES = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["VssSessionToken", "__token__", ""]))


def host_of(feed: feeds.Feed) -> str:
    return "pkgs.dev.azure.com" if feed.host.endswith(".pkgs.visualstudio.com") else feed.host


@given(SERVICES)
@settings(max_examples=400, deadline=None)
def test_parse_never_raises_and_only_matches_our_hosts(service: str) -> None:
    """Any string: no exception; a match is https, on our hosts, with no backslash trickery."""
    feed = feeds.parse(service, frozenset({"tfs.contoso.test"}))
    if feed is not None:
        assert host_of(feed) in OURS
        assert "\\" not in service
        assert not service.lower().startswith("http://")


@given(SERVICES, USERNAMES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_backend_never_raises_never_leaks(monkeypatch: pytest.MonkeyPatch, service: str, username: str | None) -> None:
    """With a PAT set: foreign strings get None without the chain running; ours get the PAT."""
    monkeypatch.setenv("KEYRING_ADO_PAT", "property-pat")
    monkeypatch.setenv("KEYRING_ADO_HOSTS", "tfs.contoso.test")
    calls: list[object] = []
    real = chain.lookup

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(chain, "lookup", counting)
    ring = AdoKeyring()
    credential = ring.get_credential(service, username)
    password = ring.get_password(service, username or "u")
    feed = feeds.parse(service, frozenset({"tfs.contoso.test"}))
    if feed is None:
        assert credential is None
        assert password is None
        assert calls == [], "a foreign string must never reach the chain (no I/O)"
    else:
        assert credential is not None
        assert credential.password == password == "property-pat"
        assert credential.username
