"""Ask the sources in order, remember the answer for the process, and explain a miss.

Imported lazily by the backend, only once a service string has matched a feed.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, cast

from ._redact import redact
from .errors import SourceFailed, SourceUnavailable
from .token import Kind, Token, sane_expiry

if TYPE_CHECKING:
    from .feeds import Feed
    from .settings import Settings
    from .sources.base import Identity, Source

_log = logging.getLogger(__name__)

#: A cached token is handed out again only while it has this long left.
REUSE_MARGIN = 300.0
#: How long a miss is remembered, so that pip's and Poetry's repeated asks stay cheap.
MISS_TTL = 30.0

_lock = threading.Lock()
_key_locks: dict[object, threading.Lock] = {}
#: Per URL: what the last lookup answered, and the fingerprint of what it depended on.
_answers: dict[tuple[str, bool], _Answer] = {}
#: Per organisation and credential: tokens of organisation-wide sources (see :func:`_remembered_key`).
_tokens: dict[tuple[object, ...], Token] = {}
_reported: set[str] = set()


class _Answer:
    """What the last lookup of one URL answered, and what it depended on (a plain class: a
    NamedTuple costs every Azure lookup's import a class build)."""

    __slots__ = ("environment", "files", "settings", "token", "until")

    def __init__(
        self,
        token: Token | None,
        until: float,
        settings: Settings,
        environment: tuple[object, ...] | None,
        files: tuple[tuple[str, tuple[int, ...] | None], ...],
    ) -> None:
        self.token = token
        self.until = until
        self.settings = settings
        self.environment = environment
        """The environment's fingerprint the settings were read from, when the backend gave it."""
        self.files = files


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


def lookup(
    feed: Feed,
    settings: Settings,
    sources: Iterable[Source] | None = None,
    *,
    environment: tuple[object, ...] | None = None,
) -> Token | None:
    """A token for *feed*, from this process's memory or the sources; None when there is none.

    *environment* is the :func:`~keyring_ado.settings.fingerprint` *settings* were read from, when
    they were read from the environment: it lets :func:`recall` answer the next ask without them."""
    key = _url_key(feed)
    found = _recall(key, lambda answer: answer.settings == settings)
    if found is not None:
        return found[0]
    with _lock:
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:  # threads asking for the same URL wait for one resolution
        found = _recall(key, lambda answer: answer.settings == settings)
        if found is not None:
            return found[0]
        served: list[Attempt] = []
        try:
            token = resolve(feed, settings, default_sources() if sources is None else sources, served)
        except PublicFeed:
            return None  # per feed: its private neighbours still get credentials
        if served and not served[0].remember:
            return token
        files = tuple((path, _stat(path)) for path in (served[0].files if served else ()))
        until = time.monotonic() + MISS_TTL if token is None else float("inf")
        _answers[key] = _Answer(token, until, settings, environment, files)
        return token


def recall(feed: Feed, environment: tuple[object, ...]) -> tuple[Token | None] | None:
    """What this process remembers for this URL: ``(token,)``, ``(None,)`` for a recent miss, or
    None when it has to be looked up. The fast path for repeated asks, before any settings are
    read: it holds only while the environment (its *environment* fingerprint) and every file the
    answer depended on are unchanged."""
    return _recall(_url_key(feed), lambda answer: answer.environment == environment)


def _recall(key: tuple[str, bool], same: Callable[[_Answer], bool]) -> tuple[Token | None] | None:
    answer = _answers.get(key)
    if answer is None or not same(answer):
        return None
    if any(_stat(path) != seen for path, seen in answer.files):
        return None
    if answer.token is None:
        return (None,) if time.monotonic() < answer.until else None
    return (answer.token,) if answer.token.fresh(REUSE_MARGIN) else None


def forget() -> None:
    """Drop everything this process remembers (tests, and a future ``logout``)."""
    with _lock:
        _answers.clear()
        _tokens.clear()
        _reported.clear()


class Attempt(NamedTuple):
    """What one source said: ``served``, ``unavailable``, ``failed``, or ``public`` (the feed itself)."""

    source: str
    outcome: str
    detail: str = ""
    token: Token | None = None
    files: tuple[str, ...] = ()
    """For ``served``: files the credential's identity was read from (see :attr:`Identity.files`)."""
    remember: bool = True
    """For ``served``: False when the source could not tell whose credential it used (az's profile
    unreadable): then the answer is not remembered, since nothing would notice a change of account."""


def attempts(feed: Feed, settings: Settings, sources: Iterable[Source]) -> Iterator[Attempt]:
    """Ask each source once, in order, and say what each answered; ends with the one that served
    or failed. Used by :func:`resolve` and by ``keyring-ado diagnose``. Never raises.

    A source with an ``identity`` (az, a service principal, the sign-in...) is asked through this
    process's memory and the cross-process token cache, both keyed by that identity. Before the
    first such source that is available, the feed is asked (anonymously) whether it is public.
    """
    looked_public = False
    for source in sources:
        if feed.server and not source.server_capable:
            continue
        try:
            identity = _identity(source, feed, settings)
            if identity is not _NO_IDENTITY and not looked_public:
                looked_public = True  # before the first sign-in of any kind, not before explicit secrets
                if _public_read(feed, settings):
                    yield Attempt("feed", "public", f"{feed.canonical_url} answers without credentials")
                    return
            token = _ask(source, identity, feed, settings)
        except SourceUnavailable as exc:
            yield Attempt(source.name, "unavailable", str(exc))
            continue
        except SourceFailed as exc:
            yield Attempt(source.name, "failed", str(exc))
            return
        except Exception as exc:  # a bug in a source must not break pip: report it, in one line
            said = redact(str(exc), settings.secret_values())
            yield Attempt(source.name, "failed", f"raised {type(exc).__name__}: {said}; please report this")
            return
        if feed.server and token.kind is not Kind.PAT:
            yield Attempt(
                source.name, "unavailable", f"gave a {token.kind}, and Azure DevOps Server hosts get PATs only"
            )
            continue
        if token.expires_on is not None and sane_expiry(token.expires_on) is None:
            yield Attempt(source.name, "failed", "gave a token whose expiry is not a real time; sign in again")
            return
        if not token.fresh():
            when = time.strftime("%H:%M:%S UTC", time.gmtime(token.expires_on or 0))
            yield Attempt(
                token.source,
                "failed",
                f"gave a token that had already expired at {when}; check the system clock, then sign in again",
            )
            return
        files = identity.files if identity is not None and identity is not _NO_IDENTITY else ()
        yield Attempt(source.name, "served", token.source, token, files, remember=identity is not None)
        return


def resolve(
    feed: Feed, settings: Settings, sources: Iterable[Source], served: list[Attempt] | None = None
) -> Token | None:
    """The first token the sources give, logging what happened; None, with one warning, when none
    does. The attempt that served is appended to *served*."""
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
            if served is not None:
                served.append(attempt)
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


#: Returned by :func:`_identity` for a source that has no ``identity`` (its answer is instant and
#: comes from the settings alone: environment variables, the credential provider's variables).
_NO_IDENTITY = cast("Identity", object())  # a sentinel: importing sources.base costs every lookup 2 M instructions


def _identity(source: Source, feed: Feed, settings: Settings) -> Identity | None:
    identity_of = getattr(source, "identity", None)
    if identity_of is None:
        return _NO_IDENTITY
    found: Identity | None = identity_of(feed, settings)  # cheap; raises SourceUnavailable when it has nothing
    return found


def _ask(source: Source, identity: Identity | None, feed: Feed, settings: Settings) -> Token:
    """``source.get_token``, through this process's memory and the cross-process token cache, each
    keyed by the organisation, uploads apart, and the credential's identity (or, for a source
    without one, every setting: its answer comes from them).

    A source that answers per URL (the credential provider's endpoints and prefixes) is never
    remembered per organisation. The token file's lock is held only while this one identity
    fetches, so that parallel processes fetch once and nobody else waits."""
    if getattr(source, "scope", "organization") != "organization" or identity is None:
        return _fetch(source, feed, settings)
    remembered_key = _remembered_key(source, identity, feed, settings)
    remembered = _tokens.get(remembered_key)
    if remembered is not None and remembered.fresh(REUSE_MARGIN):
        return remembered
    if identity is _NO_IDENTITY:
        token = source.get_token(feed, settings)
    else:
        token = _through_disk(source, identity, feed, settings)
    if token.expires_on is None or token.fresh(REUSE_MARGIN):
        _tokens[remembered_key] = token
    return token


def _remembered_key(source: Source, identity: Identity, feed: Feed, settings: Settings) -> tuple[object, ...]:
    if identity is _NO_IDENTITY:
        return (*feed.key, feed.upload, source.name, settings)
    # Process memory only, which holds these secrets in the settings anyway: the parts themselves.
    return (*feed.key, feed.upload, identity.source, identity.parts, settings.session_token)


def _fetch(source: Source, feed: Feed, settings: Settings) -> Token:
    """``source.get_token``, exchanged for a session token when the settings ask for one."""
    token = source.get_token(feed, settings)
    from . import session  # noqa: PLC0415

    return _exchanged(feed, token, settings) if session.wanted(feed, token, settings) else token


def _exchanged(feed: Feed, token: Token, settings: Settings) -> Token:
    from . import session  # noqa: PLC0415
    from .discovery import authority_for  # noqa: PLC0415

    return session.exchange(feed, token, settings, authority_for(feed, settings).session_endpoint)


def _disk_allowed(identity: Identity, feed: Feed, settings: Settings) -> bool:
    """Tokens are shared through the file unless the cache is off, the host is a Server, or this
    is a CI identity in CI (a shared agent must not keep a job's token) and ``KEYRING_ADO_CACHE=on``
    did not ask for it."""
    if settings.cache_dir is None or feed.server:
        return False
    return not (identity.ci and settings.in_ci and not settings.cache_forced)


def _through_disk(source: Source, identity: Identity, feed: Feed, settings: Settings) -> Token:
    if not _disk_allowed(identity, feed, settings):
        return _fetch(source, feed, settings)
    from . import session  # noqa: PLC0415
    from .cache import TokenCache, digest  # noqa: PLC0415 - file I/O only for sources worth caching

    directory = Path(settings.cache_dir or "")
    hashed = digest(directory, (identity.source, *identity.parts))
    if hashed is None:
        return _fetch(source, feed, settings)
    signed_in = f"{identity.source}:{hashed}"
    # With session tokens on, each scope has its own entry; the Entra token they are bought with
    # is kept under the plain identity, so that the other scope needs no second sign-in.
    wanted_key = f"{signed_in}|{session.scope_for(feed)}" if settings.session_token else signed_in

    store = TokenCache(directory)
    cached = store.get(feed, wanted_key)
    if cached is not None:
        return cached
    with store.locked(timeout=settings.az_timeout + 5, name=f"tokens.{hashed[:16]}") as waited:
        cached = store.get(feed, wanted_key) if waited else None  # fetched by another process meanwhile?
        if cached is not None:
            return cached
        raw = store.get(feed, signed_in) if wanted_key != signed_in else None
        token = raw or source.get_token(feed, settings)
        if session.wanted(feed, token, settings):
            if raw is None and token.fresh():
                store.put(feed, signed_in, token)
            token = _exchanged(feed, token, settings)
        if token.fresh():
            store.put(feed, wanted_key, token)
        return token


def _url_key(feed: Feed) -> tuple[str, bool]:
    """Per URL (as a client requests it), uploads apart: an answer for one feed says nothing of
    another, and a read-only session token must not serve an upload."""
    return feed.canonical_url, feed.upload


def _stat(path: str) -> tuple[int, ...] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino, status.st_dev)


def _report_problems(settings: Settings) -> None:
    for problem in settings.problems:
        if problem not in _reported:
            _reported.add(problem)
            _log.warning("keyring-ado: %s", problem)


def next_step(feed: Feed) -> str:
    if feed.server:
        return f"Set KEYRING_ADO_PAT to a PAT with Packaging scope created on {feed.host}."
    return "Run `az login`, or set KEYRING_ADO_PAT to a PAT with the Packaging (Read) scope."
