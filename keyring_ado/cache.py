"""Short-lived tokens shared between processes, so that each ``keyring get`` need not run ``az``.

pip's and uv's subprocess providers start a new ``keyring`` process for every lookup; without this
file every one of them would pay for an ``az`` call (0.3 s to over 1 s). What is stored, and where:

* only tokens that expire (Entra ID and session tokens), never PATs, job tokens or refresh
  tokens; an entry is dropped once it is expired;
* under a key made of the organisation and a digest of everything that identifies the credential
  that made the token (source, tenant, authority host, client id, the secret, certificate or
  federated token, az's signed-in account): keyed BLAKE2b (a MAC, see :func:`digest`) with a random
  key kept owner-only in the cache directory (``key``), so that the file names no secret and no
  account, and a process set up for another identity never finds the token;
* one JSON file, ``tokens.json``, in the cache directory (``KEYRING_ADO_CACHE_DIR``, else
  ``%LOCALAPPDATA%\\keyring-ado`` on Windows, ``~/Library/Caches/keyring-ado`` on macOS and
  ``$XDG_CACHE_HOME/keyring-ado`` or ``~/.cache/keyring-ado`` elsewhere);
* on Windows each secret is encrypted for the current user with DPAPI; elsewhere the directory is
  owner-only (0700), the file owner-only (0600), and a file that is not the user's own or that
  others can read is ignored;
* written atomically (a temporary file renamed over the old one) under a lock file, so concurrent
  readers see the old or the new file, never half of one; a corrupt or truncated file, or one
  malformed entry, is ignored and rebuilt. ``KEYRING_ADO_CACHE=off`` turns all of this off.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any

from ._jsonfile import FORMAT, JsonFile, read_private, usable_directory
from .token import Kind, Token, finite_number

try:
    from _blake2 import blake2b  # CPython's built-in module: hashlib and hmac would load OpenSSL
except ImportError:  # another interpreter: the same function through hashlib
    from hashlib import blake2b

if sys.platform == "win32":
    from . import _dpapi

if TYPE_CHECKING:
    from pathlib import Path

    from .feeds import Feed

__all__ = ["FORMAT", "READ_MARGIN", "UPLOAD_MARGIN", "TokenCache", "digest"]

FILE_NAME = "tokens.json"
KEY_FILE = "key"
#: A token is served from the file only while it has this long left (seconds)...
READ_MARGIN = 600.0
#: ...and longer for uploads, which can run for a while after the lookup.
UPLOAD_MARGIN = 1200.0
#: No Entra ID or session token lives longer than a day; an entry that claims to is not believed.
MAX_LIFETIME = 24 * 3600.0
_PERSISTED_KINDS = frozenset({Kind.ENTRA, Kind.SESSION})
_keys: dict[str, bytes] = {}


class TokenCache(JsonFile):
    """The token file in *directory*; its lock (:meth:`locked`) serialises fetches across processes."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory / FILE_NAME)

    def get(self, feed: Feed, identity: str) -> Token | None:
        """A token *identity* got for the feed's organisation, with enough time left, or None."""
        entry = self.read().get(_key(feed, identity))
        token = _token(entry) if isinstance(entry, dict) else None
        margin = UPLOAD_MARGIN if feed.upload else READ_MARGIN
        if token is None or not token.fresh(margin):
            return None
        return token

    def put(self, feed: Feed, identity: str, token: Token) -> None:
        """Store *token*, which *identity* (a digest from :func:`digest`) got for the feed's
        organisation; never raises."""
        if token.kind not in _PERSISTED_KINDS or token.expires_on is None:
            return

        def change(entries: dict[str, Any]) -> dict[str, Any]:
            kept = {key: value for key, value in entries.items() if _live(value)}
            kept[_key(feed, identity)] = _entry(token)
            return kept

        self.update(change)


def digest(directory: Path, parts: tuple[str, ...]) -> str | None:
    """A keyed one-way digest of *parts* (what identifies a credential, secrets included), with the
    random key kept owner-only in *directory*; None when no key can be kept there (then nothing is
    shared between processes).

    BLAKE2b in its keyed mode, a MAC built to stand where HMAC does, from CPython's own ``_blake2``
    module: ``hashlib`` and ``hmac`` load OpenSSL, about 13 million instructions on every lookup
    answered from this file, several times what the rest of such a lookup costs."""
    key = _key_for(directory)
    if key is None:
        return None
    message = json.dumps(parts).encode()  # unambiguous: no part can pass for two
    return keyed_digest(key, message)


def keyed_digest(key: bytes, message: bytes) -> str:
    return blake2b(message, key=key[:64], digest_size=20).hexdigest()


def _key_for(directory: Path) -> bytes | None:
    cached = _keys.get(str(directory))
    if cached is not None:
        return cached
    if not usable_directory(directory, create=True):
        return None
    path = directory / KEY_FILE
    key = _read_key(path)
    if key is None:
        key = _create_key(path)
    if key is not None:
        _keys[str(directory)] = key
    return key


def _create_key(path: Path) -> bytes | None:
    """A new random key at *path*, or the key another process put there first.

    The key is written whole to a file of its own and then linked into place, which fails when
    *path* exists: of two processes at once, one wins and the other reads the winner's key, never
    a half-written one (with O_EXCL on *path* itself, the loser could read it empty and go on
    unkeyed, asking az or Entra again)."""
    fresh = os.urandom(32).hex().encode()
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=".key-", dir=path.parent)
    except OSError:
        return None
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(fresh)
            stream.flush()
            os.fsync(stream.fileno())
        os.link(temporary, path)  # never follows a link planted at *path*: it only creates
    except FileExistsError:
        return _read_key(path)
    except OSError:  # a file system without hard links: create it in place, O_EXCL
        return _create_in_place(path, fresh)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    return fresh


def _create_in_place(path: Path, fresh: bytes) -> bytes | None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError:
        return None
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(fresh)
    return fresh


def _read_key(path: Path) -> bytes | None:
    try:
        data = read_private(path)
    except OSError:
        return None
    if data is None or len(data.strip()) < 32:
        return None  # not ours, or damaged: never keyed by something another user could know
    return data.strip()


def forget_keys() -> None:
    """Drop the keys this process read (tests, and logout)."""
    _keys.clear()


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
    """The entry as a token, or None when any field is missing, of the wrong type or absurd."""
    secret, kind, source, username = (entry.get(k) for k in ("secret", "kind", "source", "username"))
    expires_on = _expiry(entry.get("expires_on"))
    if not (isinstance(secret, str) and isinstance(kind, str) and isinstance(source, str)):
        return None
    if not (secret and source and isinstance(username, str) and username) or expires_on is None:
        return None
    if kind not in Kind.__members__ or Kind[kind] not in _PERSISTED_KINDS:
        return None
    try:
        plain = _unprotect(secret)
    except (ValueError, TypeError, OSError, UnicodeDecodeError):
        return None
    if not plain:
        return None
    return Token(plain, Kind[kind], source=f"{source} (cached)", username=str(username), expires_on=expires_on)


def _expiry(value: object) -> float | None:
    """A finite expiry no more than :data:`MAX_LIFETIME` ahead; None for anything else."""
    expires_on = finite_number(value)
    return expires_on if expires_on is not None and expires_on <= time.time() + MAX_LIFETIME else None


def _live(entry: object) -> bool:
    """An entry worth keeping when the file is written: one that reads as a token, not yet expired."""
    token = _token(entry) if isinstance(entry, dict) else None
    return token is not None and token.expires_on is not None and token.expires_on > time.time()


def _protect(secret: str) -> str:
    if sys.platform == "win32":
        return "dpapi:" + base64.b64encode(_dpapi.protect(secret.encode())).decode()
    return secret


def _unprotect(stored: str) -> str:
    if stored.startswith("dpapi:"):
        if sys.platform == "win32":
            return _dpapi.unprotect(base64.b64decode(stored[6:])).decode()
        raise ValueError("a DPAPI secret cannot be read here")
    if sys.platform == "win32":
        raise ValueError("an unencrypted secret is not trusted on Windows")
    return stored
