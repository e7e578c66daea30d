"""The contract every credential source keeps."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from ..feeds import Feed
    from ..settings import Settings
    from ..token import Token


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


class Source(Protocol):
    """Finds a token for a feed.

    ``get_token`` returns a :class:`~keyring_ado.token.Token`, raises
    :class:`~keyring_ado.errors.SourceUnavailable` when it has nothing for this feed (the chain
    tries the next source) or :class:`~keyring_ado.errors.SourceFailed` when it was configured and
    did not work (the chain stops). Any message must be free of secrets.

    A source whose tokens are worth sharing between processes also has ``identity(feed, settings)``,
    cheap and without network, returning an :class:`Identity` (None when it cannot tell who would
    answer: then nothing is shared) or raising ``SourceUnavailable`` when it has nothing.
    """

    @property
    def name(self) -> str:
        """A short name for messages, such as ``az`` or ``KEYRING_ADO_PAT``."""
        ...

    @property
    def server_capable(self) -> bool:
        """True when the source can produce PATs, the only secret Azure DevOps Server gets."""
        ...

    def get_token(self, feed: Feed, settings: Settings) -> Token:
        """Return a token for *feed* or raise one of the two source errors."""
        ...
