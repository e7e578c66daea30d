"""Remembering a source's tokens: in this process's memory and, between processes, in the token file.

:class:`Cached` wraps a source that signs in. Both stores are keyed by what the source declares:
the organisation (uploads apart, and the URL too for a source whose answers are per URL) and its
:meth:`~keyring_ado.sources.base.Source.identity`, so that a token is served again only to the
same credential. A source that cannot tell whose credential it would use (az's profile unreadable)
is asked every time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .cache import TokenCache, digest
from .sources.base import FileState, Identity, Request, Scope, Source
from .token import REUSE_MARGIN

if TYPE_CHECKING:
    from .feeds import Feed
    from .token import Token

__all__ = ["REUSE_MARGIN", "Cached", "Memory"]

#: Process memory: per organisation (uploads apart, URL for per-URL sources) and credential, each
#: token with the state of the identity's files when it was made (see :meth:`Identity.state`).
Memory = dict[tuple[object, ...], tuple["Token", tuple[FileState, ...]]]


class Cached(Source):
    """*source*, through *memory* (the process's) and the token file in *directory* (None: off).

    The token file's lock is held only while this one identity fetches, so that parallel
    processes fetch once and nobody else waits. A CI identity's tokens are not written to the file
    in CI (*in_ci*) unless *forced* (``KEYRING_ADO_CACHE=on``): a shared agent keeps nothing of a job.
    """

    def __init__(
        self,
        source: Source,
        *,
        memory: Memory,
        directory: str | None,
        in_ci: bool = False,
        forced: bool = False,
        lock_timeout: float = 25.0,
    ) -> None:
        self.source = source
        self.name, self.server_capable = source.name, source.server_capable
        self.signs_in, self.scope = source.signs_in, source.scope
        self.memory, self.directory = memory, directory
        self.in_ci, self.forced, self.lock_timeout = in_ci, forced, lock_timeout
        self._seen: tuple[Request, Identity | None] | None = None

    def identity(self, request: Request) -> Identity | None:
        """The wrapped source's, asked once per request (the chain asks, then :meth:`get_token`)."""
        if self._seen is None or self._seen[0] is not request:
            self._seen = (request, self.source.identity(request))
        return self._seen[1]

    def get_token(self, request: Request) -> Token:
        identity = self.identity(request)
        if identity is None:
            return self.source.get_token(request)
        feed = request.feed
        key = (*self._where(feed), identity.source, identity.parts)
        remembered = self.memory.get(key)
        if remembered is not None and remembered[0].fresh(REUSE_MARGIN) and remembered[1] == identity.state():
            return remembered[0]
        token = self._through_disk(request, identity) if self._disk_allowed(identity, feed) else None
        if token is None:
            token = self.source.get_token(request)
        if token.expires_on is None or token.fresh(REUSE_MARGIN):
            self.memory[key] = (token, identity.state())  # after the source wrote its files (msal's cache)
        return token

    def _where(self, feed: Feed) -> tuple[object, ...]:
        url = (feed.canonical_url,) if self.scope is Scope.URL else ()
        return (*feed.key, feed.upload, *url)

    def _disk_allowed(self, identity: Identity, feed: Feed) -> bool:
        if self.directory is None or feed.server:
            return False
        return not (identity.ci and self.in_ci and not self.forced)

    def _through_disk(self, request: Request, identity: Identity) -> Token | None:
        """The token from the file, or fetched under the identity's lock and written there; None
        when no key can be kept in the directory (then nothing is shared)."""
        directory = Path(self.directory or "")
        url = (request.feed.canonical_url,) if self.scope is Scope.URL else ()
        hashed = digest(directory, (identity.source, *identity.parts, *url))
        if hashed is None:
            return None
        key = f"{identity.source}:{hashed}"
        store = TokenCache(directory)
        cached = store.get(request.feed, key)
        if cached is not None:
            return cached
        with store.locked(timeout=self.lock_timeout, name=f"tokens.{hashed[:16]}") as waited:
            cached = store.get(request.feed, key) if waited else None  # fetched by another process meanwhile?
            if cached is not None:
                return cached
            token = self.source.get_token(request)
            if token.fresh():
                store.put(request.feed, key, token)
            return token
