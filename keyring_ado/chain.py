"""Ask the sources in order, remember the answer for the process, and explain a miss.

Imported lazily by the backend, only once a service string has matched a feed.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ._redact import redact
from .credential import Kind, Token
from .errors import SourceFailed, SourceUnavailable

if TYPE_CHECKING:
    from .feeds import Feed
    from .settings import Settings
    from .sources.base import Source

_log = logging.getLogger(__name__)

#: A cached token is handed out again only while it has this long left.
REUSE_MARGIN = 300.0
#: How long a miss is remembered, so that pip's and Poetry's repeated asks stay cheap.
MISS_TTL = 30.0

_lock = threading.Lock()
_key_locks: dict[tuple[str, str, bool], threading.Lock] = {}
_remembered: dict[tuple[str, str, bool], tuple[Token | None, float]] = {}
_reported: set[str] = set()


#: The sources in the order they are asked, as ``module:class`` under ``keyring_ado.sources``.
SOURCES = (
    "env:EnvironmentSource",
    "compat:ExternalFeedEndpointsSource",
    "compat:AccessTokenSource",
    "pipelines:AzurePipelinesSource",
    "identity:ServicePrincipalSource",
    "identity:WorkloadIdentitySource",
    "identity:GitHubOidcSource",
    "identity:PipelinesOidcSource",
    "managed_identity:ManagedIdentitySource",
    "azure_cli:AzureCliSource",
    "azd:AzdSource",
    "signin:SignInSource",
)


def default_sources() -> Iterator[Source]:
    """The sources in order, each module imported only when the chain gets that far: a PAT from the
    environment never pays for the sign-in machinery."""
    for spec in SOURCES:
        module, _, name = spec.partition(":")
        source_class = getattr(importlib.import_module(f"{__package__}.sources.{module}"), name)
        yield source_class()


def lookup(feed: Feed, settings: Settings, sources: Iterable[Source] | None = None) -> Token | None:
    """A token for *feed*, from this process's memory or the sources; None when there is none."""
    key = _memory_key(feed)
    found = _recall(key)
    if found is not None:
        return found[0]
    with _lock:
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:  # threads asking for the same organisation wait for one resolution
        found = _recall(key)
        if found is not None:
            return found[0]
        try:
            token = resolve(feed, settings, default_sources() if sources is None else sources)
        except PublicFeed:
            return None  # per feed, not per organisation: its private neighbours still get credentials
        until = time.monotonic() + MISS_TTL if token is None else float("inf")
        _remembered[key] = (token, until)
        return token


def recall(feed: Feed) -> tuple[Token | None] | None:
    """What this process remembers for the feed's organisation: ``(token,)``, ``(None,)`` for a
    recent miss, or None when it has to be looked up. The fast path for repeated asks."""
    return _recall(_memory_key(feed))


def forget() -> None:
    """Drop everything this process remembers (tests, and a future ``logout``)."""
    with _lock:
        _remembered.clear()
        _reported.clear()


class Attempt(NamedTuple):
    """What one source said: ``served``, ``unavailable``, ``failed``, or ``public`` (the feed itself)."""

    source: str
    outcome: str
    detail: str = ""
    token: Token | None = None


def attempts(feed: Feed, settings: Settings, sources: Iterable[Source]) -> Iterator[Attempt]:
    """Ask each source once, in order, and say what each answered; ends with the one that served
    or failed. Used by :func:`resolve` and by ``keyring-ado diagnose``. Never raises.

    A source whose tokens are worth sharing between processes (it has an ``identity``, such as
    az) is asked through the token cache: a token stored for that identity is used; otherwise the
    cache's lock is taken (parallel processes then fetch once) and the new token is stored.
    """
    looked_public = False
    for source in sources:
        if feed.server and not source.server_capable:
            continue
        if not looked_public and hasattr(source, "identity"):
            looked_public = True  # before the first sign-in of any kind, not before explicit secrets
            if _public_read(feed, settings):
                yield Attempt("feed", "public", f"{feed.canonical_url} answers without credentials")
                return
        try:
            token = _ask(source, feed, settings)
        except SourceUnavailable as exc:
            yield Attempt(source.name, "unavailable", str(exc))
            continue
        except SourceFailed as exc:
            yield Attempt(source.name, "failed", str(exc))
            return
        except Exception as exc:  # a bug in a source must not break pip: report it, in one line
            said = redact(str(exc), _secrets(settings))
            yield Attempt(source.name, "failed", f"raised {type(exc).__name__}: {said}; please report this")
            return
        if feed.server and token.kind is not Kind.PAT:
            yield Attempt(
                source.name, "unavailable", f"gave a {token.kind}, and Azure DevOps Server hosts get PATs only"
            )
            continue
        if not token.fresh():
            when = time.strftime("%H:%M:%S UTC", time.gmtime(token.expires_on or 0))
            yield Attempt(
                token.source,
                "failed",
                f"gave a token that had already expired at {when}; check the system clock, then sign in again",
            )
            return
        yield Attempt(source.name, "served", token.source, token)
        return


def resolve(feed: Feed, settings: Settings, sources: Iterable[Source]) -> Token | None:
    """The first token the sources give, logging what happened; None, with one warning, when none does."""
    _report_problems(settings)
    tried: list[str] = []
    for attempt in attempts(feed, settings, sources):
        if attempt.outcome == "unavailable":
            _log.debug("keyring-ado: %s: %s", attempt.source, attempt.detail)
            tried.append(f"{attempt.source} ({attempt.detail})")
        elif attempt.outcome == "public":
            _log.info("keyring-ado: %s: a public feed, no credential sent", attempt.detail)
            raise PublicFeed
        elif attempt.outcome == "failed":
            _log.warning(
                "keyring-ado: no credential for %s: %s failed: %s", feed.describe(), attempt.source, attempt.detail
            )
            return None
        elif attempt.token is not None:
            token = attempt.token
            _log.info("keyring-ado: using a %s from %s for %s", token.kind, token.source, feed.describe())
            return token
    _log.warning("keyring-ado: no credential for %s. Tried: %s. %s", feed.describe(), "; ".join(tried), next_step(feed))
    return None


class PublicFeed(Exception):
    """The feed answered an anonymous read: no credential, and nothing remembered for the organisation."""


def _public_read(feed: Feed, settings: Settings) -> bool:
    if feed.upload or feed.server or not feed.path:
        return False  # uploads always authenticate; a bare host names no feed to ask
    from .discovery import authority_for  # noqa: PLC0415

    return authority_for(feed, settings).public


def _ask(source: Source, feed: Feed, settings: Settings) -> Token:
    """``source.get_token``, through the cross-process token cache when the source has an identity.

    The cache's lock is held only while this one source fetches, so that parallel processes fetch
    once, and released before the next source is asked."""
    identity_of = getattr(source, "identity", None)
    if identity_of is None or feed.server or settings.cache_dir is None:
        return source.get_token(feed, settings)
    signed_in = identity_of(feed, settings)  # cheap; raises SourceUnavailable when it has nothing
    from . import session  # noqa: PLC0415
    from .cache import TokenCache  # noqa: PLC0415 - file I/O only for sources worth caching

    # With session tokens on, each scope has its own entry; the Entra token they are bought with
    # is kept under the plain identity, so that the other scope needs no second sign-in.
    identity = f"{signed_in}|{session.scope_for(feed)}" if settings.session_token else signed_in

    store = TokenCache(Path(settings.cache_dir))
    cached = store.get(feed, identity)
    if cached is not None:
        return cached
    with store.locked(timeout=settings.az_timeout + 5) as waited:
        cached = store.get(feed, identity) if waited else None  # fetched by another process meanwhile?
        if cached is not None:
            return cached
        raw = store.get(feed, signed_in) if identity != signed_in else None
        token = raw or source.get_token(feed, settings)
        if session.wanted(feed, token, settings):
            from .discovery import authority_for  # noqa: PLC0415

            if raw is None and token.fresh():
                store.put(feed, signed_in, token)
            token = session.exchange(feed, token, settings, authority_for(feed, settings).session_endpoint)
        if token.fresh():
            store.put(feed, identity, token)
        return token


def _memory_key(feed: Feed) -> tuple[str, str, bool]:
    """Per organisation, and uploads apart: a read-only session token must not serve an upload."""
    return (*feed.key, feed.upload)


def _recall(key: tuple[str, str, bool]) -> tuple[Token | None] | None:
    entry = _remembered.get(key)
    if entry is None:
        return None
    token, until = entry
    if token is None:
        return (None,) if time.monotonic() < until else None
    return (token,) if token.fresh(REUSE_MARGIN) else None


def _report_problems(settings: Settings) -> None:
    for problem in settings.problems:
        if problem not in _reported:
            _reported.add(problem)
            _log.warning("keyring-ado: %s", problem)


def _secrets(settings: Settings) -> list[str | None]:
    return [
        settings.pat,
        settings.token,
        settings.ext_pat,
        settings.access_token,
        settings.system_access_token,
        *(e.password for e in settings.endpoints),
    ]


def next_step(feed: Feed) -> str:
    if feed.server:
        return f"Set KEYRING_ADO_PAT to a PAT with Packaging scope created on {feed.host}."
    return "Run `az login`, or set KEYRING_ADO_PAT to a PAT with the Packaging (Read) scope."
