"""The contract every credential source keeps, declared once.

A source is an object configured by keyword arguments when it is made (see
:func:`keyring_ado.sources.default_sources`, the one place that reads the settings for them), in
the manner of azure-identity's credentials. It has:

* :attr:`Source.name`, a short name for messages;
* :meth:`Source.get_token`, which returns a :class:`~keyring_ado.token.Token` for the request's
  feed, raises :class:`~keyring_ado.errors.SourceUnavailable` when it has nothing for it (the
  chain asks the next source) or :class:`~keyring_ado.errors.SourceFailed` when it was configured
  and did not work (the chain stops). Any message must be free of secrets;
* what it declares about its answers: whether they may go to an Azure DevOps Server host
  (:attr:`Source.server_capable`), whether the secret is given in the configuration or made by
  signing in (:attr:`Source.signs_in`), what one answer is good for (:attr:`Source.scope`), and
  for a source that signs in, what identifies the credential it uses (:meth:`Source.identity`), so
  that a token it made is served again only to the same credential.
"""

from __future__ import annotations

import enum
import os
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..discovery import Authority
    from ..feeds import Feed
    from ..token import Token


class Scope(enum.Enum):
    """What one answer of a source is good for."""

    ORGANIZATION = "organization"
    """Every feed of the organisation (uploads apart): a token for the person, app or job."""
    URL = "url"
    """Only the URLs the source matched (the credential provider's endpoints and prefixes)."""


class Identity(NamedTuple):
    """Everything that identifies the credential a source would use, so that a token it made is
    served again (from process memory or the token file) only to the same credential.

    *parts* may hold secret material (a client secret, a job token): it is only ever hashed, with
    a keyed digest on disk, and never stored, logged or shown.
    """

    source: str
    """A short tag for the kind of credential: ``az``, ``sp``, ``mi``..., readable in the file."""
    parts: tuple[str, ...]
    files: tuple[str, ...] = ()
    """Files whose change may change the identity (az's profile), so that process memory notices
    an ``az login`` as someone else or an ``az logout``."""
    ci: bool = False
    """A CI identity (service principal, OIDC, managed identity): in CI its tokens are not written
    to disk unless ``KEYRING_ADO_CACHE=on``, so a shared agent keeps nothing of a job."""

    def __repr__(self) -> str:  # parts may hold a secret: never shown
        return f"Identity(source={self.source!r}, parts=<{len(self.parts)} hidden>, files={self.files!r}, ci={self.ci})"

    def state(self) -> tuple[FileState, ...]:
        """The state of :attr:`files` now: a token remembered in memory is served again only while
        it is unchanged (another process's ``az logout`` or ``keyring-ado logout``, a certificate
        replaced at the same path)."""
        return tuple(file_state(path) for path in self.files)


#: A file's modification time, size, inode and device, or None when it cannot be read.
FileState = tuple[int, int, int, int] | None


def file_state(path: str) -> FileState:
    """What :class:`Identity` and the resolver compare to notice that a file changed."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino, status.st_dev)


class Request:
    """One lookup: the feed, and its Entra authority, discovered at most once and only when a
    source (or the chain) asks for it."""

    __slots__ = ("_authority", "_discover", "feed")

    def __init__(self, feed: Feed, discover: Callable[[Feed], Authority]) -> None:
        self.feed = feed
        self._discover = discover
        self._authority: Authority | None = None

    def authority(self) -> Authority:
        """Where to sign in for the feed's organisation (its tenant), from the feed's 401 challenge."""
        if self._authority is None:
            self._authority = self._discover(self.feed)
        return self._authority


class Source:
    """The base of every source: the declarations, with the defaults most sources keep."""

    name: str = ""
    """A short name for messages, such as ``az`` or ``KEYRING_ADO_PAT``."""
    server_capable: bool = False
    """True when the source can produce PATs, the only secret Azure DevOps Server gets."""
    signs_in: bool = True
    """False for a secret given in the configuration (a PAT, a job token): instant, asked before
    the feed is probed for being public, and never remembered or written anywhere. True for a
    source that makes a token by signing in, whose tokens are remembered by :meth:`identity`."""
    scope: Scope = Scope.ORGANIZATION

    def identity(self, request: Request) -> Identity | None:
        """What identifies the credential this source would use, cheaply and without network;
        None when it cannot tell (then nothing it makes is remembered). Raises
        :class:`~keyring_ado.errors.SourceUnavailable` when the source has nothing to offer.
        Called only for sources that sign in."""
        return None

    def get_token(self, request: Request) -> Token:
        """A token for ``request.feed``, or one of the two source errors."""
        raise NotImplementedError
