"""Which service strings are Azure Artifacts feeds, and which are not."""

from __future__ import annotations

import pytest

from keyring_ado import feeds

GUID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"


@pytest.fixture(autouse=True)
def nothing_remembered() -> None:
    """parse remembers its answers (an lru_cache): each test judges the parser itself, never an
    answer an earlier test left behind. mutmut forks each mutant's run from a process that has
    already run the tests, so without this a mutant below the cache could pass unseen."""
    feeds._parse.cache_clear()


@pytest.mark.parametrize(
    ("service", "org", "project", "name", "upload"),
    [
        ("https://pkgs.dev.azure.com/org/_packaging/feed/pypi/simple/", "org", None, "feed", False),
        ("https://pkgs.dev.azure.com/org/_packaging/feed/pypi/simple", "org", None, "feed", False),
        ("https://pkgs.dev.azure.com/org/proj/_packaging/feed/pypi/simple/", "org", "proj", "feed", False),
        ("https://pkgs.dev.azure.com/org/_packaging/feed/pypi/simple/requests/", "org", None, "feed", False),
        ("https://pkgs.dev.azure.com/org/_packaging/feed/pypi/upload/", "org", None, "feed", True),
        ("https://pkgs.dev.azure.com/org/_packaging/feed/pypi/upload", "org", None, "feed", True),
        (
            f"https://pkgs.dev.azure.com/org/_packaging/{GUID}/pypi/download/demo/0.1/demo-0.1-py3-none-any.whl",
            "org",
            None,
            GUID,
            False,
        ),
        (
            f"https://pkgs.dev.azure.com/org/{GUID}/_packaging/{GUID}/pypi/download/demo/0.1/x.whl",
            "org",
            GUID,
            GUID,
            False,
        ),
        ("https://VssSessionToken@pkgs.dev.azure.com/org/_packaging/feed/pypi/simple/", "org", None, "feed", False),
        ("https://user:pw@pkgs.dev.azure.com/org/_packaging/feed/pypi/simple/", "org", None, "feed", False),
        ("https://PKGS.DEV.AZURE.COM:443/Org/_packaging/Feed/pypi/simple/", "Org", None, "Feed", False),
        ("https://org.pkgs.visualstudio.com/_packaging/feed/pypi/simple/", "org", None, "feed", False),
        ("https://org.pkgs.visualstudio.com/proj/_packaging/feed/pypi/upload/", "org", "proj", "feed", True),
        ("https://pkgs.dev.azure.com/org/_packaging/feed/pypi/simple/?x=1", "org", None, "feed", False),
    ],
)
def test_feed_urls_are_recognised(service: str, org: str, project: str | None, name: str, upload: bool) -> None:
    """Index, per-package, upload and GUID download URLs on both hosted hosts are feeds."""
    feed = feeds.parse(service)
    assert feed is not None
    assert (feed.organization, feed.project, feed.name, feed.upload) == (org, project, name, upload)
    assert not feed.server


@pytest.mark.parametrize(
    ("service", "org"),
    [
        ("pkgs.dev.azure.com", None),
        ("pkgs.dev.azure.com:443", None),
        ("https://pkgs.dev.azure.com", None),
        ("https://pkgs.dev.azure.com/", None),
        ("org.pkgs.visualstudio.com", "org"),
        ("https://org.pkgs.visualstudio.com/", "org"),
        ("user@org.pkgs.visualstudio.com", "org"),
    ],
)
def test_bare_hosts_are_recognised(service: str, org: str | None) -> None:
    """pip, uv and Poetry fall back to the host alone; it is still ours."""
    feed = feeds.parse(service)
    assert feed is not None
    assert feed.organization == org
    assert feed.name is None


@pytest.mark.parametrize(
    "service",
    [
        "http://pkgs.dev.azure.com/org/_packaging/feed/pypi/simple/",
        "http://org.pkgs.visualstudio.com/_packaging/feed/pypi/simple/",
        "https://pkgs.dev.azure.com.evil.example/org/_packaging/feed/pypi/simple/",
        "https://evilpkgs.dev.azure.com/org/_packaging/feed/pypi/simple/",
        "https://evil.example/pkgs.dev.azure.com/org/_packaging/feed/pypi/simple/",
        "https://evil.example\\@pkgs.dev.azure.com/org/_packaging/feed/pypi/simple/",
        "https://pkgs.dev.azure.com:8443/org/_packaging/feed/pypi/simple/",
        "https://pkgs.dev.azure.com./org/_packaging/feed/pypi/simple/",
        "https://a.b.pkgs.visualstudio.com/_packaging/feed/pypi/simple/",
        "https://pkgs.visualstudio.com/_packaging/feed/pypi/simple/",
        "https://pkgs.dev.azure.com/org/other/path",
        "https://pkgs.dev.azure.com/org/_packaging/",
        "https://pkgs.dev.azure.com/org/a/b/_packaging/feed/pypi/simple/",
        "https://pypi.org/simple/",
        "https://example.com/simple/",
        "pkgs.dev.azure.com.evil.example",
        "evilpkgs.dev.azure.com",
        "python-poetry-check",
        "poetry-repository-ado",
        "pdm-pypi-ado",
        "",
        "https://pkgs.dev.azure.com/org/_packaging/feed/pypi/simple/ extra",
        "https://pkgs.dev.azure.com:99999/org/_packaging/feed/",
        "https://[::1/org",
        "x" * 5000,
    ],
)
def test_everything_else_is_not_ours(service: str) -> None:
    """Plain http, look-alike hosts, other sites and the clients' probe names give None."""
    assert feeds.parse(service) is None


def test_non_strings_are_not_ours() -> None:
    """A caller that passes None or bytes gets None, not an exception."""
    assert feeds.parse(None) is None
    assert feeds.parse(b"https://pkgs.dev.azure.com/org/_packaging/f/pypi/simple/") is None


def test_server_hosts_only_when_listed() -> None:
    """Azure DevOps Server hosts match only when configured, and are marked as servers."""
    url = "https://tfs.contoso.test/tfs/DefaultCollection/_packaging/feed/pypi/simple/"
    assert feeds.parse(url) is None
    feed = feeds.parse(url, frozenset({"tfs.contoso.test"}))
    assert feed is not None
    assert feed.server
    assert feed.organization == "tfs/DefaultCollection"
    assert feed.name == "feed"
    assert feeds.parse("tfs.contoso.test", frozenset({"tfs.contoso.test"})) is not None
    with_port = frozenset({"tfs.contoso.test:8443"})
    assert feeds.parse("https://tfs.contoso.test:8443/c/_packaging/f/pypi/simple/", with_port) is not None
    assert feeds.parse("https://tfs.contoso.test/c/_packaging/f/pypi/simple/", with_port) is None
    assert feeds.parse("http://tfs.contoso.test/c/_packaging/f/pypi/simple/", frozenset({"tfs.contoso.test"})) is None


def test_both_host_forms_share_one_cache_key() -> None:
    """Credentials are per organisation: legacy and current host forms are the same key."""
    a = feeds.parse("https://pkgs.dev.azure.com/Org/_packaging/feed/pypi/simple/")
    b = feeds.parse("https://org.pkgs.visualstudio.com/_packaging/other/pypi/simple/")
    c = feeds.parse(f"https://pkgs.dev.azure.com/org/_packaging/{GUID}/pypi/download/x/1/x.whl")
    assert a is not None
    assert b is not None
    assert c is not None
    assert a.key == b.key == c.key == ("dev.azure.com", "org")
    assert b.canonical_url == "https://pkgs.dev.azure.com/org/_packaging/other/pypi/simple"


def test_prefixes_and_collection_uris() -> None:
    """Prefix helpers spell URLs one way and compare at segment boundaries."""
    prefix = feeds.canonical_prefix("https://Org.pkgs.visualstudio.com/")
    assert prefix == "https://pkgs.dev.azure.com/org"
    assert feeds.has_prefix("https://pkgs.dev.azure.com/org/_packaging/f", prefix)
    assert not feeds.has_prefix("https://pkgs.dev.azure.com/organisation/_packaging/f", prefix)
    assert feeds.canonical_prefix("https://example.com/org/") is None
    assert feeds.canonical_prefix("http://pkgs.dev.azure.com/org/") is None
    assert feeds.organization_of_collection("https://dev.azure.com/contoso/") == "contoso"
    assert feeds.organization_of_collection("https://contoso.visualstudio.com/") == "contoso"
    assert feeds.organization_of_collection("https://tfs.contoso.test/tfs/Default/") is None
    assert feeds.organization_of_collection("") is None


@pytest.mark.parametrize(
    "service",
    [
        "https://evil.example?@pkgs.dev.azure.com/ORG/_packaging/FEED/pypi/simple/",
        "https://evil.example#@pkgs.dev.azure.com/ORG/_packaging/FEED/pypi/simple/",
        "https://evil.example?@contoso.pkgs.visualstudio.com/_packaging/FEED/pypi/simple/",
        "https://evil.example#@contoso.pkgs.visualstudio.com/_packaging/FEED/pypi/simple/",
        "https://evil.example?x=@pkgs.dev.azure.com",
        "https://u:p@evil.example?@pkgs.dev.azure.com/ORG/_packaging/FEED/pypi/upload/",
        "HTTPS://evil.example#x@pkgs.dev.azure.com/",
    ],
)
def test_the_authority_ends_at_a_query_or_fragment(service: str) -> None:
    """urllib and urllib3 connect to evil.example for these; so they are not ours (review item 1)."""
    assert feeds.parse(service) is None
    assert feeds.canonical_prefix(service) is None


@pytest.mark.parametrize(
    ("service", "organization", "name"),
    [
        (
            "https://pkgs.dev.azure.com/contoso/_packaging/../../attacker/_packaging/feed/pypi/simple/",
            "attacker",
            "feed",
        ),
        ("https://pkgs.dev.azure.com/contoso/./_packaging/a/../b/pypi/simple/", "contoso", "b"),
        ("https://pkgs.dev.azure.com/contoso/_packaging/feedA/../feedB/pypi/simple/", "contoso", "feedB"),
        ("https://pkgs.dev.azure.com/../../contoso/_packaging/feed/pypi/simple/", "contoso", "feed"),
    ],
)
def test_dot_segments_are_judged_as_the_client_requests_them(service: str, organization: str, name: str) -> None:
    """RFC 3986 remove_dot_segments, as urllib3 applies it before sending (review item 3)."""
    from urllib3.util import parse_url

    feed = feeds.parse(service)
    requested = parse_url(service).path or ""
    assert feed is not None
    assert feed.organization == organization
    assert feed.name == name
    assert requested.lower().startswith(feed.path.rsplit("/pypi", 1)[0])


@pytest.mark.parametrize(
    "service",
    [
        "https://pkgs.dev.azure.com/contoso/_packaging/%2e%2e/x/pypi/simple/",
        "https://pkgs.dev.azure.com/contoso/%2E/_packaging/feed/pypi/simple/",
        "https://pkgs.dev.azure.com/contoso%2fattacker/_packaging/feed/pypi/simple/",
    ],
)
def test_disguised_dot_segments_are_refused(service: str) -> None:
    """A server may decode %2e%2e or %2f into a path the client did not mean: refuse, do not guess."""
    assert feeds.parse(service) is None


SERVERS = frozenset({"tfs.contoso.test", "tfs.contoso.test:1", "tfs.contoso.test:65535"})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://pkgs.dev.azure.com/org/_packaging/f/pypi/simple/?next=https://x", ("pkgs.dev.azure.com", "org", "f")),
        ("https://pkgs.dev.azure.com/org/_packaging/f/pypi/simple/?q#frag", ("pkgs.dev.azure.com", "org", "f")),
        ("https://pkgs.dev.azure.com/org/_packaging/f/pypi/simple/#a/b", ("pkgs.dev.azure.com", "org", "f")),
        ("https://tfs.contoso.test:443/c/_packaging/f/pypi/simple/", ("tfs.contoso.test", "c", "f")),
        ("https://tfs.contoso.test:1/c/_packaging/f/pypi/simple/", ("tfs.contoso.test:1", "c", "f")),
        ("https://tfs.contoso.test:65535/c/_packaging/f/pypi/simple/", ("tfs.contoso.test:65535", "c", "f")),
        ("https://tfs.contoso.test:0/c/_packaging/f/pypi/simple/", None),
        ("https://tfs.contoso.test:65536/c/_packaging/f/pypi/simple/", None),
        ("https://tfs.contoso.test:000443/c/_packaging/f/pypi/simple/", None),
        ("https://tfs.contoso.test./c/_packaging/f/pypi/simple/", None),
    ],
)
def test_ports_and_the_end_of_the_path_at_their_boundaries(url: str, expected: tuple[str, str, str] | None) -> None:
    """A query that holds "://" is not a second scheme; ports are 1-65535 in at most five digits (no
    client connects elsewhere); a trailing dot is another name. Found by mutation testing."""
    found = feeds.parse(url, SERVERS)
    assert (found and (found.host, found.organization, found.name)) == expected


SERVER = frozenset({"tfs.contoso.test"})
EVERY_ORG_CHAR = "abcdefghijklmnopqrstuvwxyz-0123456789"  # every character an organisation name may hold


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://pkgs.dev.azure.com/org/proj/_packaging/f/pypi/simple/", ("org", "proj", "f", False, False)),
        ("https://pkgs.dev.azure.com/org/_packaging/f/pypi/upload/", ("org", None, "f", True, False)),
        ("https://pkgs.dev.azure.com/org/_packaging/f/pypi/upload", ("org", None, "f", True, False)),
        ("https://pkgs.dev.azure.com/org/_packaging/", None),
        ("https://pkgs.dev.azure.com/org/proj/_packaging", None),
        ("https://org.pkgs.visualstudio.com/_packaging/f/pypi/simple/", ("org", None, "f", False, False)),
        ("https://tfs.contoso.test/c/_packaging/f/pypi/simple/", ("c", None, "f", False, True)),
        ("https://tfs.contoso.test/_packaging/f/pypi/simple/", None),
        ("https://tfs.contoso.test", (None, None, None, False, True)),
        (f"https://pkgs.dev.azure.com/{'a' * 64}/_packaging/f/pypi/simple/", ("a" * 64, None, "f", False, False)),
        (f"https://pkgs.dev.azure.com/{'a' * 65}/_packaging/f/pypi/simple/", None),
        ("https://pkgs.dev.azure.com/-org/_packaging/f/pypi/simple/", None),
        (
            f"https://pkgs.dev.azure.com/{EVERY_ORG_CHAR}/_packaging/f/pypi/simple/",
            (EVERY_ORG_CHAR, None, "f", False, False),
        ),
        ("https://pkgs.dev.azure.com/org/proj", None),
        ("https://org.pkgs.visualstudio.com/proj", None),
        ("https://pkgs.dev.azure.com/org/_packaging/f", ("org", None, "f", False, False)),
        ("https://pkgs.dev.azure.com/org/_packaging/f/pypi/upload/x", ("org", None, "f", True, False)),
        ("https://tfs.contoso.test/_packaging/x/_packaging/f/pypi/simple/", ("_packaging/x", None, "f", False, True)),
    ],
)
def test_the_shapes_of_a_feed_url_exactly(url: str, expected: tuple[object, ...] | None) -> None:
    """Organisation, project, feed, upload and server, for each shape and at the organisation
    name's limits (64 characters, no leading hyphen, any of its characters); a project with no
    feed after it, a feed with nothing after it, anything under pypi/upload, and a server
    collection that is never empty (the first ``_packaging`` after one segment at least ends
    it). Found unasserted by mutation testing."""
    found = feeds.parse(url, SERVER)
    assert (found and (found.organization, found.project, found.name, found.upload, found.server)) == expected


def test_prefixes_and_collections_need_a_scheme_and_an_organisation() -> None:
    """Compatibility prefixes and SYSTEM_COLLECTIONURI are URLs: without a scheme, or without an
    organisation, they match nothing."""
    assert feeds.canonical_prefix("pkgs.dev.azure.com/org/_packaging/f/") is None
    assert feeds.canonical_prefix("https://pkgs.dev.azure.com/org/_packaging/f/") == (
        "https://pkgs.dev.azure.com/org/_packaging/f"
    )
    assert feeds.canonical_prefix("https://tfs.contoso.test/c/_packaging/f/", SERVER) == (
        "https://tfs.contoso.test/c/_packaging/f"
    )
    assert feeds.canonical_prefix("https://tfs.contoso.test/c/_packaging/f/") is None
    assert feeds.organization_of_collection("https://dev.azure.com/org/") == "org"
    assert feeds.organization_of_collection("dev.azure.com/org/") is None
    assert feeds.organization_of_collection("https://dev.azure.com/") is None
    assert feeds.canonical_prefix("pkgs.dev.azure.com") is None
    assert feeds.canonical_prefix("contoso.pkgs.visualstudio.com") is None
    assert feeds.organization_of_collection("contoso.visualstudio.com") is None
    assert feeds.has_prefix("https://a/b/c", "https://a/b/")
    assert not feeds.has_prefix("https://a/bc", "https://a/b/")
    assert not feeds.has_prefix("https://a/b", "https://a/b/")


def test_request_urls_keep_the_trailing_slash_they_were_given() -> None:
    assert feeds.request_url("https://pkgs.dev.azure.com/org/_packaging/f/pypi/simple/") == (
        "https://pkgs.dev.azure.com/org/_packaging/f/pypi/simple/"
    )
    assert feeds.request_url("https://pkgs.dev.azure.com/org/_packaging/f/pypi/simple") == (
        "https://pkgs.dev.azure.com/org/_packaging/f/pypi/simple"
    )
    assert feeds.request_url("https://pkgs.dev.azure.com") == "https://pkgs.dev.azure.com/"


def test_ascii_lower_keeps_what_is_not_ascii() -> None:
    """Only ASCII letters fold (the Kelvin sign stays itself); a lone surrogate passes through."""
    assert feeds.ascii_lower("AB\u212a\ud800") == "ab\u212a\ud800"


@pytest.mark.parametrize(
    ("service", "described"),
    [
        ("pkgs.dev.azure.com", "pkgs.dev.azure.com"),
        ("https://pkgs.dev.azure.com/Org/_packaging/f/pypi/simple/", "pkgs.dev.azure.com/Org"),
        ("contoso.pkgs.visualstudio.com", "pkgs.dev.azure.com/contoso"),
        ("https://contoso.pkgs.visualstudio.com/_packaging/f/pypi/simple/", "pkgs.dev.azure.com/contoso"),
        ("https://tfs.contoso.test/tfs/Coll/_packaging/f/pypi/simple/", "tfs.contoso.test/tfs/Coll"),
        ("tfs.contoso.test", "tfs.contoso.test"),
    ],
)
def test_what_messages_call_a_feed(service: str, described: str) -> None:
    """The host alone for a bare host, the current host and organisation for both hosted forms,
    the server and its collection for a server. Found unasserted by mutation testing."""
    found = feeds.parse(service, SERVER)
    assert found is not None
    assert found.describe() == described


def test_a_bare_server_host_is_that_host() -> None:
    """A listed server host alone: its own feed, spelt without a trailing slash as a prefix."""
    assert feeds.parse("tfs.contoso.test", SERVER) == feeds.Feed(
        host="tfs.contoso.test", organization=None, server=True
    )
    assert feeds.canonical_prefix("https://tfs.contoso.test/", SERVER) == "https://tfs.contoso.test"


def test_the_longest_service_string_read() -> None:
    """4096 characters are read, one more is not ours whatever it says (keyring asks about every
    string on the machine; the gate stays cheap)."""
    base = "https://pkgs.dev.azure.com/org/_packaging/feed/pypi/simple/"
    longest = base + "p" * (4096 - len(base))
    found = feeds.parse(longest)
    assert (found and (found.organization, found.name)) == ("org", "feed")
    assert feeds.parse(longest + "p") is None


@pytest.mark.parametrize("control", ["\x00", "\x08", "\x1b", "\x7f"])
def test_control_characters_refuse_the_string(control: str) -> None:
    """NUL, backspace, ESC and DEL anywhere: neither ours nor a URL a client would request."""
    service = f"https://pkgs.dev.azure.com/org/_packaging/feed{control}/pypi/simple/"
    assert feeds.parse(service) is None
    assert feeds.request_url(service) is None


def test_only_slash_query_and_fragment_end_the_authority_and_the_path() -> None:
    """No other character does (a capital X stands for them all): names keep every letter."""
    assert feeds.parse("XBOX.PKGS.VISUALSTUDIO.COM") == feeds.Feed(
        host="xbox.pkgs.visualstudio.com", organization="xbox"
    )
    found = feeds.parse("https://XBOX.pkgs.visualstudio.com/_packaging/Xfeed/pypi/simple/")
    assert (found and (found.organization, found.name, found.path)) == (
        "xbox",
        "Xfeed",
        "/_packaging/xfeed/pypi/simple",
    )


def test_the_path_ends_at_the_first_query_mark() -> None:
    """A second ``?`` later in the query is still query: dot segments inside it move nothing."""
    service = (
        "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"
        "?next=/../../../../../../attacker/_packaging/evil/pypi/simple/?x"
    )
    found = feeds.parse(service)
    assert (found and (found.organization, found.name, found.path)) == (
        "contoso",
        "feed",
        "/contoso/_packaging/feed/pypi/simple",
    )


@pytest.mark.parametrize(
    ("service", "organization"),
    [("https://pkgs.dev.azure.com?x=1", None), ("https://contoso.pkgs.visualstudio.com#top", "contoso")],
)
def test_a_query_or_fragment_right_after_the_host(service: str, organization: str | None) -> None:
    """The path is empty: the bare host, and the request goes to its root."""
    found = feeds.parse(service)
    assert found is not None
    assert (found.organization, found.name, found.path) == (organization, None, "")
    assert feeds.request_url(service) == f"https://{found.host}/"


@pytest.mark.parametrize(
    "service",
    [
        "https://pkgs.dev.azure.com/contoso/_packaging/feed//",
        "https://pkgs.dev.azure.com/contoso/_packaging/feed%2f..%2f..%2fother/pypi/simple/",
        "https://pkgs.dev.azure.com/contoso/_packaging/feed%5c..%5cother/pypi/simple/",
    ],
)
def test_paths_a_server_may_read_differently_are_refused(service: str) -> None:
    """An empty segment before the last, or a feed name hiding a slash or a backslash."""
    assert feeds.parse(service) is None
    assert feeds.request_url(service) is None


@pytest.mark.parametrize(
    ("service", "requested"),
    [
        ("https://pkgs.dev.azure.com:0/", None),
        ("https://pkgs.dev.azure.com:1/", "https://pkgs.dev.azure.com:1/"),
        ("https://pkgs.dev.azure.com:65535/", "https://pkgs.dev.azure.com:65535/"),
        ("https://pkgs.dev.azure.com:65536/", None),
        ("https://a..b/", None),
        ("https://ev_il.example/", None),
        ("https://pkgs.dev.azure.com./", None),
        ("https://-x.example/", None),
        ("https://.x.example/", None),
        (f"https://{EVERY_ORG_CHAR}.example/", f"https://{EVERY_ORG_CHAR}.example/"),
    ],
)
def test_the_hosts_and_ports_a_request_can_go_to(service: str, requested: str | None) -> None:
    """Ports 1 to 65535; a host name of letters, digits, hyphens and dots (any of them), not
    starting with a dot or hyphen, not ending with a dot, with no empty label."""
    assert feeds.request_url(service) == requested
