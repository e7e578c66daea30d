"""What a process remembers between lookups, in one object the backend owns.

A :class:`Resolver` holds the answers per URL (with what they depended on), the tokens of the
sources that sign in (through :class:`~keyring_ado.cached.Cached`), the tenants found per
organisation, the problems already reported, and a lock per URL so that threads asking for the
same URL wait for one resolution. Tests make a fresh one.

Imported lazily by the backend, only once a service string has matched a feed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from .chain import Outcome, resolve
from .sources import default_sources
from .sources.base import Request, file_state
from .token import REUSE_MARGIN

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from .cached import Memory
    from .discovery import Authority
    from .feeds import Feed
    from .settings import Settings
    from .signing_in import SigningIn
    from .sources.base import Source
    from .token import Token

_log = logging.getLogger(__name__)

#: How long a miss is remembered, so that pip's and Poetry's repeated asks stay cheap.
MISS_TTL = 30.0


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


class Resolver:
    """Looks up tokens for feeds, remembering what it may for the life of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._url_locks: dict[tuple[str, bool], threading.Lock] = {}
        self._answers: dict[tuple[str, bool], _Answer] = {}
        self.memory: Memory = {}
        """Tokens of the sources that sign in, per organisation and credential (see :class:`Cached`)."""
        self.authorities: dict[tuple[str, str], Authority] = {}
        """The tenant found for each organisation (see :func:`discovery.authority_for`)."""
        self._reported: set[str] = set()

    def request(self, feed: Feed, settings: Settings) -> Request:
        """A lookup of *feed*, whose authority is discovered at most once, remembered per organisation."""
        return Request(feed, lambda asked: self._signing_in(settings).authority(asked))

    def sources(self, settings: Settings, sources: Iterable[Source] | None = None) -> Iterator[Source]:
        """*sources* (by default those *settings* configure), each that signs in wrapped in this
        process's memory and the token file, and in the session-token exchange when it is asked for."""
        for source in default_sources(settings) if sources is None else sources:
            yield self._signing_in(settings).wrap(source) if source.signs_in else source

    def _signing_in(self, settings: Settings) -> SigningIn:
        from .signing_in import SigningIn  # noqa: PLC0415 - only once a source that signs in is reached

        return SigningIn(settings, self.memory, self.authorities)

    def lookup(
        self,
        feed: Feed,
        settings: Settings,
        sources: Iterable[Source] | None = None,
        *,
        environment: tuple[object, ...] | None = None,
    ) -> Token | None:
        """A token for *feed*, from this process's memory or the sources; None when there is none.

        *environment* is the :func:`~keyring_ado.settings.fingerprint` *settings* were read from,
        when they were read from the environment: it lets :meth:`recall` answer the next ask
        without them."""
        key = (feed.canonical_url, feed.upload)  # per URL, uploads apart
        found = self._recall(key, lambda answer: answer.settings == settings)
        if found is not None:
            return found[0]
        with self._lock:
            url_lock = self._url_locks.setdefault(key, threading.Lock())
        with url_lock:  # threads asking for the same URL wait for one resolution
            found = self._recall(key, lambda answer: answer.settings == settings)
            if found is not None:
                return found[0]
            self._report(settings.problems)
            final = resolve(self.request(feed, settings), self.sources(settings, sources), settings.secrets)
            if final is not None and final.outcome is Outcome.PUBLIC:
                return None  # per feed: its private neighbours still get credentials
            token = None if final is None else final.token
            if final is not None and not final.remember:
                return token
            files = tuple((path, file_state(path)) for path in (final.files if final else ()))
            until = time.monotonic() + MISS_TTL if token is None else float("inf")
            self._answers[key] = _Answer(token, until, settings, environment, files)
            return token

    def recall(self, feed: Feed, environment: tuple[object, ...]) -> tuple[Token | None] | None:
        """What this process remembers for this URL: ``(token,)``, ``(None,)`` for a recent miss,
        or None when it has to be looked up. The fast path for repeated asks, before any settings
        are read: it holds only while the environment (its *environment* fingerprint) and every
        file the answer depended on are unchanged."""
        return self._recall((feed.canonical_url, feed.upload), lambda answer: answer.environment == environment)

    def _recall(self, key: tuple[str, bool], same: Callable[[_Answer], bool]) -> tuple[Token | None] | None:
        answer = self._answers.get(key)
        if answer is None or not same(answer):
            return None
        if any(file_state(path) != seen for path, seen in answer.files):
            return None
        if answer.token is None:
            return (None,) if time.monotonic() < answer.until else None
        return (answer.token,) if answer.token.fresh(REUSE_MARGIN) else None

    def _report(self, problems: Iterable[str]) -> None:
        for problem in problems:
            if problem not in self._reported:
                self._reported.add(problem)
                _log.warning("keyring-ado: %s", problem)
