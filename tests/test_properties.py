"""Property-based tests over service strings and user names: never raises, never a credential for a
host that is not ours, never the network for foreign strings."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyring_ado import backend, feeds
from keyring_ado.backend import AdoKeyring
from keyring_ado.resolver import Resolver

OURS = {"pkgs.dev.azure.com", "tfs.contoso.test"}
SERVER_HOSTS = frozenset({"tfs.contoso.test"})
HOSTS = st.sampled_from(
    [
        "pkgs.dev.azure.com",
        "PKGS.Dev.Azure.COM",
        "contoso.pkgs.visualstudio.com",
        "Contoso.PKGS.visualstudio.com",
        "pkgs.dev.azure.com:443",
        "pkgs.dev.azure.com:0443",
        "pkgs.dev.azure.com:8443",
        "pkgs.dev.azure.com.evil.example",
        "evilpkgs.dev.azure.com",
        "evil.example",
        "pypi.org",
        "127.0.0.1:8080",
        "tfs.contoso.test",
        "[::1]",
        "pkgs.dev.azure\uff0ecom",  # full-width dot: IDNA maps it to "."
        "pkgs\u3002dev.azure.com",  # ideographic full stop
        "pkgs.dev.azure.com\uff0eevil.example",
        "xn--pkgs-dev-azure-com",
        "pkgs.dev.azure.com.",
        "",
    ]
)
DELIMITERS = ["?", "#", "/", "\\", "@", ":", "%3F", "%23", "%2F", "%5C", "%40", "%3A", "%2e", "\uff0e"]
USERINFO = st.lists(
    st.one_of(st.sampled_from(DELIMITERS), st.sampled_from(["evil.example", "a", "VssSessionToken", "x.y"])),
    max_size=5,
).map("".join)
SEGMENTS = st.lists(
    st.one_of(st.sampled_from(["_packaging", "pypi", "simple", "upload", "download", "org", "feed", "..", ".",
                               "?q", "#f", "%2e%2e"]),
              st.text(min_size=0, max_size=12)),
    max_size=7,
)  # fmt: skip
URLS = st.builds(
    lambda scheme, user, at, host, parts: f"{scheme}{user}{at}{host}/{'/'.join(parts)}",
    st.sampled_from(["https://", "http://", "HTTPS://", "", "ftp://", "https:/", "https:"]),
    USERINFO,
    st.sampled_from(["@", ""]),
    HOSTS,
    SEGMENTS,
)
BARE = st.builds(lambda user, at, host: f"{user}{at}{host}", USERINFO, st.sampled_from(["@", ""]), HOSTS)
SERVICES = st.one_of(st.text(max_size=200), URLS, BARE)
USERNAMES = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["VssSessionToken", "__token__", ""]))


def ours(host: str | None) -> bool:
    """Judged by name alone: the hosted host, a legacy organisation host, or the listed server."""
    host = (host or "").lower()
    legacy = host.endswith(".pkgs.visualstudio.com") and host.count(".") == 3
    return host in OURS or legacy


def connected_to(service: str) -> list[tuple[str | None, str | None, int | None]]:
    """``(scheme, host, port)`` as urllib and urllib3, which pip, twine and Poetry connect through,
    read *service*; a bare host is read as the https URL a client builds from it."""
    from urllib.parse import urlsplit

    from urllib3.util import parse_url

    url = service if "://" in service else f"https://{service}"
    seen = []
    for candidate in {url, service}:
        split = urlsplit(candidate)
        seen.append((split.scheme or "https", split.hostname, split.port))
        parsed = parse_url(candidate)
        seen.append((parsed.scheme or "https", parsed.host, parsed.port))
    return seen


@given(SERVICES)
@settings(max_examples=1500, deadline=None)
def test_a_credential_only_where_urllib_and_urllib3_connect_to_us(service: str) -> None:
    """The oracle is not our parser: whenever the backend would answer, every reading the clients'
    URL libraries make of the string is https, port 443, on one of our hosts (review item 2)."""
    feed = feeds.parse(service, SERVER_HOSTS)
    if feed is None:
        return
    try:
        readings = connected_to(service)
    except ValueError as exc:  # urllib3's LocationParseError is a ValueError
        pytest.fail(f"{service!r} matched, but a client cannot even parse it: {exc}")
    for scheme, host, port in readings:
        if host is None and "://" not in service:
            continue  # urlsplit of a bare "host" has no authority; its https:// form was judged
        assert scheme == "https", (service, readings)
        assert ours(host), (service, readings)
        assert port in {None, 443}, (service, readings)


@given(URLS)
@settings(max_examples=500, deadline=None)
def test_the_organisation_is_the_one_the_client_requests(service: str) -> None:
    """After the client normalises the path (urllib3 removes dot segments), the organisation and
    feed the request goes to are the ones the gate saw."""
    from urllib3.util import parse_url

    feed = feeds.parse(service, SERVER_HOSTS)
    if feed is None or feed.server or feed.name is None:
        return
    path = (parse_url(service).path or "").lower()
    host = (parse_url(service).host or "").lower()
    if host == feeds.HOSTED_HOST:
        assert path.split("/")[1] == (feed.organization or "").lower(), (service, path)
    assert f"/_packaging/{feed.name.lower()}/" in path + "/", (service, path)


@given(SERVICES, USERNAMES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_backend_never_raises_never_leaks(monkeypatch: pytest.MonkeyPatch, service: str, username: str | None) -> None:
    """With a PAT set: foreign strings get None without the chain running; ours get the PAT."""
    monkeypatch.setenv("KEYRING_ADO_PAT", "property-pat")
    monkeypatch.setenv("KEYRING_ADO_HOSTS", "tfs.contoso.test")
    calls: list[object] = []
    real = backend.process_resolver

    def counting() -> Resolver:
        calls.append(service)
        return real()

    monkeypatch.setattr(backend, "process_resolver", counting)
    ring = AdoKeyring()
    credential = ring.get_credential(service, username)
    password = ring.get_password(service, username or "u")
    feed = feeds.parse(service, SERVER_HOSTS)
    if feed is None:
        assert credential is None
        assert password is None
        assert calls == [], "a foreign string must never reach the chain (no I/O)"
    else:
        assert credential is not None
        assert credential.password == password == "property-pat"
        assert credential.username
