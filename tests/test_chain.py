"""The chain: order, the two-outcome contract, per-process memory, and one actionable line."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from keyring_ado import chain
from keyring_ado.cached import REUSE_MARGIN
from keyring_ado.errors import SourceFailed, SourceUnavailable
from keyring_ado.feeds import Feed
from keyring_ado.resolver import Resolver
from keyring_ado.sources.base import Identity, Request, Source
from keyring_ado.token import Kind, Token
from tests.helpers import config, feed, request


class Scripted(Source):
    """A source that answers as scripted and counts its calls; one that signs in has an identity."""

    def __init__(
        self, name: str, outcome: Token | Exception, *, server_capable: bool = True, signs_in: bool = False
    ) -> None:
        self.name, self.outcome, self.server_capable, self.signs_in = name, outcome, server_capable, signs_in
        self.calls: list[str] = []

    def identity(self, request: Request) -> Identity:
        return Identity("scripted", (self.name,))

    def get_token(self, request: Request) -> Token:
        self.calls.append(request.feed.describe())
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def resolved(asked: Feed, sources: list[Scripted]) -> Token | None:
    final = chain.resolve(request(asked, config()), sources)
    return None if final is None else final.token


def test_unavailable_moves_on_and_first_token_wins(caplog: pytest.LogCaptureFixture) -> None:
    """Unavailable sources are skipped; the first token is used; later sources are not asked."""
    caplog.set_level(logging.INFO, logger="keyring_ado")
    first = Scripted("one", SourceUnavailable("not set"))
    second = Scripted("two", Token("s", Kind.PAT, source="two"))
    third = Scripted("three", Token("t", Kind.PAT, source="three"))
    assert resolved(feed(), [first, second, third]) == second.outcome
    assert third.calls == []
    assert caplog.messages == ["keyring-ado: using a PAT from two for pkgs.dev.azure.com/contoso"]


def test_failed_stops_with_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """A failed source ends the lookup: one warning naming the feed, the source and the fix."""
    failing = Scripted("az", SourceFailed("az timed out; raise KEYRING_ADO_AZ_TIMEOUT"))
    later = Scripted("later", Token("s", Kind.PAT, source="later"))
    assert resolved(feed(), [failing, later]) is None
    assert later.calls == []
    assert caplog.messages == [
        "keyring-ado: no credential for pkgs.dev.azure.com/contoso: "
        "az failed: az timed out; raise KEYRING_ADO_AZ_TIMEOUT"
    ]


def test_all_unavailable_explains_what_was_tried(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing found: one line listing each source's reason and the next step."""
    sources = [Scripted("a", SourceUnavailable("A is not set")), Scripted("b", SourceUnavailable("b is not on PATH"))]
    assert resolved(feed(), sources) is None
    assert caplog.messages == [
        "keyring-ado: no credential for pkgs.dev.azure.com/contoso. Tried: a (A is not set); b (b is not on PATH). "
        "Run `az login`, or set KEYRING_ADO_PAT to a PAT with the Packaging (Read) scope."
    ]


def test_unexpected_exception_is_contained(caplog: pytest.LogCaptureFixture) -> None:
    """A bug in a source is one warning (secrets masked) and None, never an exception."""
    canary = "Z" * 40
    broken = Scripted("broken", KeyError(f"boom {canary}"))
    assert chain.resolve(request(feed(), config()), [broken], [canary]) is None
    assert len(caplog.records) == 1
    assert "broken failed: raised KeyError" in caplog.messages[0]
    assert canary not in caplog.text


def test_server_feeds_get_pats_only() -> None:
    """Sources that cannot make PATs are not asked for a Server feed; a non-PAT answer is refused."""
    server_feed = feed("https://tfs.contoso.test/c/_packaging/f/pypi/simple/", frozenset({"tfs.contoso.test"}))
    job = Scripted("job", Token("j", Kind.JOB, source="job"), server_capable=False)
    sneaky = Scripted("sneaky", Token("e", Kind.ENTRA, source="sneaky"))
    pat = Scripted("pat", Token("p", Kind.PAT, source="pat"))
    assert resolved(server_feed, [job, sneaky, pat]) == pat.outcome
    assert job.calls == []
    assert sneaky.calls == ["tfs.contoso.test/c"]


def test_expired_on_arrival(caplog: pytest.LogCaptureFixture) -> None:
    """A token already expired when it arrives (clock skew) is not handed out."""
    stale = Scripted("az", Token("s", Kind.ENTRA, source="az", expires_on=time.time() - 5))
    assert resolved(feed(), [stale]) is None
    assert "had already expired" in caplog.text
    assert "check the system clock" in caplog.text


def test_problems_reported_once_per_process(caplog: pytest.LogCaptureFixture) -> None:
    """A malformed variable is one line, once, and the lookup goes on to the next source."""
    settings = config(VSS_NUGET_EXTERNAL_FEED_ENDPOINTS="{bad", KEYRING_ADO_PAT="p")
    resolver = Resolver()
    assert resolver.lookup(feed(), settings) is not None
    other = feed("https://pkgs.dev.azure.com/fabrikam/_packaging/f/pypi/simple/")
    assert resolver.lookup(other, settings) is not None
    bad = [m for m in caplog.messages if "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS is not valid JSON" in m]
    assert len(bad) == 1


def test_lookup_remembers_per_organisation() -> None:
    """Once found, a token serves every read URL of that organisation without asking again; uploads
    are resolved apart (a read-only session token must never serve an upload). Process memory
    alone: the token file is off."""
    source = Scripted("s", Token("s", Kind.ENTRA, source="s", expires_on=time.time() + 3600), signs_in=True)
    resolver = Resolver()
    for url in (
        "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/",
        "https://contoso.pkgs.visualstudio.com/_packaging/other/pypi/simple/x/",
        "https://pkgs.dev.azure.com/contoso/_packaging/3f2504e0-4f89-11d3-9a0c-0305e82c3301/pypi/download/x/1/x.whl",
    ):
        assert resolver.lookup(feed(url), config(KEYRING_ADO_CACHE="off"), [source]) == source.outcome
    assert len(source.calls) == 1
    upload = "https://contoso.pkgs.visualstudio.com/_packaging/other/pypi/upload/"
    for _ in range(2):
        assert resolver.lookup(feed(upload), config(KEYRING_ADO_CACHE="off"), [source]) == source.outcome
    assert len(source.calls) == 2


def test_lookup_refreshes_a_token_near_expiry() -> None:
    """A remembered token with less than the reuse margin left is fetched again."""
    token = Token("s", Kind.ENTRA, source="s", expires_on=time.time() + REUSE_MARGIN - 10)
    source = Scripted("s", token, signs_in=True)
    resolver = Resolver()
    resolver.lookup(feed(), config(), [source])
    resolver.lookup(feed(), config(), [source])
    assert len(source.calls) == 2


def test_misses_are_remembered_briefly() -> None:
    """pip asks twice per 401: a miss is not recomputed within MISS_TTL."""
    source = Scripted("s", SourceUnavailable("nothing"))
    resolver = Resolver()
    assert resolver.lookup(feed(), config(), [source]) is None
    assert resolver.lookup(feed(), config(), [source]) is None
    assert len(source.calls) == 1


def test_parallel_threads_resolve_once() -> None:
    """Poetry and pdm look up from worker threads: one resolution for one organisation."""

    class Slow(Scripted):
        def get_token(self, request: Request) -> Token:
            time.sleep(0.2)
            return super().get_token(request)

    source = Slow("slow", Token("s", Kind.PAT, source="slow"))
    results: list[Token | None] = []
    resolver = Resolver()
    threads = [
        threading.Thread(target=lambda: results.append(resolver.lookup(feed(), config(), [source]))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [source.outcome] * 8
    assert len(source.calls) == 1


def test_a_public_feed_is_said_without_control_characters() -> None:
    """The feed's own URL, quoted in the public-feed line, loses any control character (C1 ones
    pass the gate): a log line cannot be split or rewritten by the URL a client asked for."""
    from keyring_ado.discovery import Authority

    url = "https://pkgs.dev.azure.com/contoso/_packaging/feed\x9b2J/pypi/simple/"  # CSI: clear the screen
    public = Request(feed(url), lambda _feed: Authority("organizations", public=True))
    source = Scripted("az", Token("t", Kind.ENTRA, source="az"), signs_in=True)
    (attempt,) = chain.attempts(public, [source])
    assert attempt.outcome is chain.Outcome.PUBLIC
    assert (
        attempt.detail == "https://pkgs.dev.azure.com/contoso/_packaging/feed2j/pypi/simple answers without credentials"
    )
    assert source.calls == []
