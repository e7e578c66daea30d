"""Short-lived tokens shared between processes, so that each ``keyring get`` need not run ``az``.

pip's and uv's subprocess providers start a new ``keyring`` process for every lookup; without this
file every one of them would pay for an ``az`` call (0.3 s to over 1 s). What is stored, and where:

* only tokens that expire (Entra ID tokens from az and, later, other sign-ins), never PATs, job
  tokens or refresh tokens; an entry is dropped once it is expired;
* one JSON file, ``tokens.json``, in the cache directory (``KEYRING_ADO_CACHE_DIR``, else
  ``%LOCALAPPDATA%\\keyring-ado`` on Windows, ``~/Library/Caches/keyring-ado`` on macOS and
  ``$XDG_CACHE_HOME/keyring-ado`` or ``~/.cache/keyring-ado`` elsewhere);
* on Windows each secret is encrypted for the current user with DPAPI; elsewhere the directory is
  owner-only (0700), the file owner-only (0600), and a file that is not the user's own or that
  others can read is ignored;
* written atomically (a temporary file renamed over the old one) under a lock file, so concurrent
  readers see the old or the new file, never half of one; a corrupt or truncated file is ignored
  and rebuilt. ``KEYRING_ADO_CACHE=off`` turns all of this off.
"""

from __future__ import annotations

import base64
import sys
import time
from typing import TYPE_CHECKING, Any

from ._jsonfile import FORMAT, JsonFile
from .credential import Kind, Token

if TYPE_CHECKING:
    from pathlib import Path

    from .feeds import Feed

__all__ = ["FORMAT", "READ_MARGIN", "UPLOAD_MARGIN", "TokenCache"]

FILE_NAME = "tokens.json"
#: A token is served from the file only while it has this long left (seconds)...
READ_MARGIN = 600.0
#: ...and longer for uploads, which can run for a while after the lookup.
UPLOAD_MARGIN = 1200.0
_PERSISTED_KINDS = frozenset({Kind.ENTRA, Kind.SESSION})


class TokenCache(JsonFile):
    """The token file in *directory*; its lock (:meth:`locked`) serialises fetches across processes."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory / FILE_NAME)

    def get(self, feed: Feed, identity: str) -> Token | None:
        """A token *identity* got for the feed's organisation, with enough time left, or None."""
        entry = self.read().get(_key(feed, identity))
        if not isinstance(entry, dict):
            return None
        token = _token(entry)
        margin = UPLOAD_MARGIN if feed.upload else READ_MARGIN
        if token is None or not token.fresh(margin):
            return None
        return token

    def put(self, feed: Feed, identity: str, token: Token) -> None:
        """Store *token*, which *identity* got for the feed's organisation; never raises.

        The identity (``az``, ``sp:<client id>``...) is part of the key, so that a process set up
        for one sign-in is never handed a token another sign-in left behind."""
        if token.kind not in _PERSISTED_KINDS or token.expires_on is None:
            return

        def change(entries: dict[str, Any]) -> dict[str, Any]:
            kept = {key: value for key, value in entries.items() if _live(value)}
            kept[_key(feed, identity)] = _entry(token)
            return kept

        self.update(change)


def _key(feed: Feed, identity: str) -> str:
    return f"{feed.entry_key}|{identity}"


def _entry(token: Token) -> dict[str, Any]:
    return {
        "secret": _protect(token.secret),
        "kind": token.kind.name,
        "source": token.source,
        "username": token.username,
        "expires_on": token.expires_on,
    }


def _token(entry: dict[str, Any]) -> Token | None:
    try:
        secret = _unprotect(entry["secret"])
        kind = Kind[entry["kind"]]
        expires_on = float(entry["expires_on"])
        source, username = str(entry["source"]), str(entry["username"])
    except (KeyError, TypeError, ValueError, OSError):
        return None
    if kind not in _PERSISTED_KINDS or not secret:
        return None
    return Token(secret, kind, source=f"{source} (cached)", username=username, expires_on=expires_on)


def _live(entry: object) -> bool:
    if not isinstance(entry, dict):
        return False
    expires_on = entry.get("expires_on")
    return isinstance(expires_on, int | float) and expires_on > time.time()


def _protect(secret: str) -> str:
    if sys.platform == "win32":
        from . import _dpapi  # noqa: PLC0415 - Windows only

        return "dpapi:" + base64.b64encode(_dpapi.protect(secret.encode())).decode()
    return secret


def _unprotect(stored: str) -> str:
    if stored.startswith("dpapi:"):
        if sys.platform != "win32":
            raise ValueError("a DPAPI secret cannot be read here")
        from . import _dpapi  # noqa: PLC0415

        return _dpapi.unprotect(base64.b64decode(stored[6:])).decode()
    if sys.platform == "win32":
        raise ValueError("an unencrypted secret is not trusted on Windows")
    return stored
