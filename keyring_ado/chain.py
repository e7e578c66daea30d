"""Ask the sources in order and say what each answered; explain a miss in one line.

:func:`attempts` is the loop (``keyring-ado diagnose`` prints it); :func:`resolve` logs it and
returns the attempt that ended it. Remembering answers is the :class:`~keyring_ado.resolver.Resolver`'s
job, remembering tokens the :class:`~keyring_ado.cached.Cached` wrapper's.
"""

from __future__ import annotations

import enum
import logging
import time
from typing import TYPE_CHECKING, NamedTuple

from ._redact import redact
from .errors import SourceFailed, SourceUnavailable
from .token import Kind, Token, sane_expiry

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from .feeds import Feed
    from .sources.base import Request, Source

_log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    SERVED = "served"
    UNAVAILABLE = "unavailable"
    """The source had nothing for this feed: the next one is asked."""
    FAILED = "failed"
    """The source was configured and did not work: the chain stops."""
    PUBLIC = "public"
    """The feed answered without credentials: none is sent."""


class Attempt(NamedTuple):
    """What one source said."""

    source: str
    outcome: Outcome
    detail: str = ""
    token: Token | None = None
    files: tuple[str, ...] = ()
    """For a token: files the credential's identity was read from (see ``Identity.files``)."""
    remember: bool = True
    """For a token: False when the source could not tell whose credential it used (az's profile
    unreadable): then the answer is not remembered, since nothing would notice a change of account."""


def attempts(request: Request, sources: Iterable[Source], secrets: Iterable[str] = ()) -> Iterator[Attempt]:
    """Ask each source once, in order, and say what each answered; ends with the one that served
    or failed, or with the feed found public. Never raises.

    Before the first source that signs in and has something to offer, the feed is asked
    (anonymously) whether it is public: a secret given in the configuration is sent without asking."""
    feed = request.feed
    looked_public = False
    for source in sources:
        if feed.server and not source.server_capable:
            continue
        try:
            identity = source.identity(request) if source.signs_in else None  # cheap; may be unavailable
            if source.signs_in and not looked_public:
                looked_public = True
                if _public_read(request):
                    yield Attempt("feed", Outcome.PUBLIC, f"{redact(feed.canonical_url)} answers without credentials")
                    return
            token = source.get_token(request)
        except SourceUnavailable as exc:
            yield Attempt(source.name, Outcome.UNAVAILABLE, str(exc))
            continue
        except SourceFailed as exc:
            yield Attempt(source.name, Outcome.FAILED, str(exc))
            return
        except Exception as exc:  # a bug in a source must not break pip: report it, in one line
            said = redact(str(exc), secrets)
            yield Attempt(source.name, Outcome.FAILED, f"raised {type(exc).__name__}: {said}; please report this")
            return
        if feed.server and token.kind is not Kind.PAT:
            detail = f"gave a {token.kind}, and Azure DevOps Server hosts get PATs only"
            yield Attempt(source.name, Outcome.UNAVAILABLE, detail)
            continue
        if token.expires_on is not None and sane_expiry(token.expires_on) is None:
            yield Attempt(source.name, Outcome.FAILED, "gave a token whose expiry is not a real time; sign in again")
            return
        if not token.fresh():
            when = time.strftime("%H:%M:%S UTC", time.gmtime(token.expires_on or 0))
            detail = f"gave a token that had already expired at {when}; check the system clock, then sign in again"
            yield Attempt(token.source, Outcome.FAILED, detail)
            return
        files = identity.files if identity is not None else ()
        remember = not source.signs_in or identity is not None
        yield Attempt(source.name, Outcome.SERVED, token.source, token, files, remember)
        return


def resolve(request: Request, sources: Iterable[Source], secrets: Iterable[str] = ()) -> Attempt | None:
    """Ask the sources, logging what happened: the attempt that served a token or found the feed
    public, or None, with one warning saying what was tried and what to do, when none did."""
    feed = request.feed
    tried: list[str] = []
    for attempt in attempts(request, sources, secrets):
        if attempt.outcome is Outcome.UNAVAILABLE:
            _log.debug("keyring-ado: %s: %s", attempt.source, attempt.detail)
            tried.append(f"{attempt.source} ({attempt.detail})")
        elif attempt.outcome is Outcome.PUBLIC:
            _log.info("keyring-ado: %s: a public feed, no credential sent", attempt.detail)
            return attempt
        elif attempt.outcome is Outcome.FAILED:
            _log.warning(
                "keyring-ado: no credential for %s: %s failed: %s", feed.describe(), attempt.source, attempt.detail
            )
            return None
        elif attempt.token is not None:
            token = attempt.token
            _log.info("keyring-ado: using a %s from %s for %s", token.kind, token.source, feed.describe())
            return attempt
    _log.warning("keyring-ado: no credential for %s. Tried: %s. %s", feed.describe(), "; ".join(tried), next_step(feed))
    return None


def _public_read(request: Request) -> bool:
    feed = request.feed
    if feed.upload or feed.server or not feed.path:
        return False  # uploads always authenticate; a bare host names no feed to ask
    return request.authority().public


def next_step(feed: Feed) -> str:
    if feed.server:
        return f"Set KEYRING_ADO_PAT to a PAT with Packaging scope created on {feed.host}."
    return "Run `az login`, or set KEYRING_ADO_PAT to a PAT with the Packaging (Read) scope."
