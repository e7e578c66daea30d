"""The two outcomes a credential source can report besides a token."""

from __future__ import annotations


class SourceUnavailable(Exception):
    """The source has nothing for this feed; the chain tries the next one.

    The message says why, in words a user can act on (it is shown when no source answers).
    """


class SourceFailed(Exception):
    """The source was configured or selected and did not work; the chain stops.

    The message says what failed and what to do next. It never contains a secret.
    """
