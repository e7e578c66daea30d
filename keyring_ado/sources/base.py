"""The contract every credential source keeps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..credential import Token
    from ..feeds import Feed
    from ..settings import Settings


class Source(Protocol):
    """Finds a token for a feed.

    ``get_token`` returns a :class:`~keyring_ado.credential.Token`, raises
    :class:`~keyring_ado.errors.SourceUnavailable` when it has nothing for this feed (the chain
    tries the next source) or :class:`~keyring_ado.errors.SourceFailed` when it was configured and
    did not work (the chain stops). Any message must be free of secrets.
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
