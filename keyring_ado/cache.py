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
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .credential import Kind, Token

if TYPE_CHECKING:
    from .feeds import Feed

_log = logging.getLogger(__name__)

FILE_NAME = "tokens.json"
LOCK_NAME = "tokens.lock"
FORMAT = 1
#: A token is served from the file only while it has this long left (seconds)...
READ_MARGIN = 600.0
#: ...and longer for uploads, which can run for a while after the lookup.
UPLOAD_MARGIN = 1200.0
_PERSISTED_KINDS = frozenset({Kind.ENTRA})


class TokenCache:
    """The cache file in *directory*."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME

    def get(self, feed: Feed) -> Token | None:
        """A stored token for the feed's organisation with enough time left, or None."""
        entry = self._read().get(_key(feed))
        if not isinstance(entry, dict):
            return None
        token = _token(entry)
        margin = UPLOAD_MARGIN if feed.upload else READ_MARGIN
        if token is None or not token.fresh(margin):
            return None
        return token

    def put(self, feed: Feed, token: Token) -> None:
        """Store *token* for the feed's organisation; best effort, never raises."""
        if token.kind not in _PERSISTED_KINDS or token.expires_on is None:
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            entries = {k: v for k, v in self._read().items() if _live(v)}
            entries[_key(feed)] = _entry(token)
            self._write({"format": FORMAT, "tokens": entries})
        except OSError as exc:
            _log.debug("keyring-ado: could not write the token cache at %s: %s", self.path, exc.strerror or exc)

    def clear(self) -> bool:
        """Remove the file; True when there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    @contextlib.contextmanager
    def locked(self, timeout: float) -> Iterator[bool]:
        """Hold the cache's lock file while a token is fetched, so parallel processes fetch once.

        Yields False (and goes on unlocked) when the lock cannot be had within *timeout* seconds or
        the directory cannot be written.
        """
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle = open(self.directory / LOCK_NAME, "a+b")  # noqa: SIM115 - held across the yield
        except OSError as exc:
            _log.debug("keyring-ado: no lock for the token cache: %s", exc.strerror or exc)
            yield False
            return
        with handle:
            acquired = _acquire(handle, timeout)
            if not acquired:
                _log.debug("keyring-ado: the token cache stayed locked for %g s; going on without it", timeout)
            try:
                yield acquired
            finally:
                if acquired:
                    _release(handle)

    def _read(self) -> dict[str, Any]:
        try:
            if not _private(self.path):
                return {}
            document = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            _log.debug("keyring-ado: ignoring an unreadable token cache at %s (%s); it will be rebuilt", self.path, exc)
            return {}
        tokens = document.get("tokens") if isinstance(document, dict) and document.get("format") == FORMAT else None
        if not isinstance(tokens, dict):
            _log.debug("keyring-ado: ignoring a token cache of an unknown shape at %s; it will be rebuilt", self.path)
            return {}
        return tokens

    def _write(self, document: dict[str, Any]) -> None:
        import tempfile  # noqa: PLC0415 - only writers need it

        data = json.dumps(document, separators=(",", ":")).encode()
        descriptor, temporary = tempfile.mkstemp(prefix=".tokens-", dir=self.directory)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _key(feed: Feed) -> str:
    host, organization = feed.key
    return f"{host}|{organization}"


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


def _private(path: Path) -> bool:
    """On POSIX, only a file of ours that nobody else can read is trusted."""
    status = path.stat()  # FileNotFoundError when there is no cache yet
    if sys.platform == "win32":
        return True  # the secrets themselves are DPAPI-encrypted for this user
    if status.st_uid != os.getuid() or status.st_mode & 0o077:
        _log.debug("keyring-ado: ignoring the token cache at %s: it is not private to this user", path)
        return False
    return True


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


def _acquire(handle: IO[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if sys.platform == "win32":
                import msvcrt  # noqa: PLC0415

                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl  # noqa: PLC0415

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        else:
            return True


def _release(handle: IO[bytes]) -> None:
    with contextlib.suppress(OSError):
        if sys.platform == "win32":
            import msvcrt  # noqa: PLC0415

            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl  # noqa: PLC0415

            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
