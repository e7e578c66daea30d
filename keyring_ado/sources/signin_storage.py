"""Where the sign-in is remembered: msal's token cache on the system's encrypted storage, or (when the
user allows it) an owner-only file, and how it is forgotten.

* The encrypted storage is opened and read in a thread with a deadline: a locked login keyring (Secret
  Service) or Keychain waits for an unlock dialog that no one may answer, and a lookup must not wait
  with it. Past :data:`STORAGE_TIMEOUT` the sign-in goes on as if there were no encrypted storage.
* msal-extensions guards each cache write with ``<cache>.lockfile``. With portalocker (a dependency
  of ours) that lock dies with its holder; a lock file left by a killed process, which nobody holds,
  is removed before msal waits on it. A lock another process keeps holding is one clear line.
* Once the encrypted storage is in use, a plaintext cache kept earlier is removed: a refresh token
  does not stay in a file the user no longer needs.
* msal and msal-extensions are imported only when the storage is opened: the checks that come
  first (is anything remembered here?) look at files alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _deadline
from .._jsonfile import CannotRemove, JsonFile, read_private
from .._redact import first_line
from ..errors import SourceFailed

if TYPE_CHECKING:
    from collections.abc import Iterator

_log = logging.getLogger(__name__)
ENCRYPTED_CACHE = "msal-cache.bin"
FILE_CACHE = "msal-cache.json"
#: Our files in the sign-in's directory, and msal-extensions' lock files beside them.
OWN_FILES = (ENCRYPTED_CACHE, FILE_CACHE, f"{ENCRYPTED_CACHE}.lockfile", f"{FILE_CACHE}.lockfile")
#: How long the system's secret store may take to open and answer once.
STORAGE_TIMEOUT = 5.0
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def open_cache(directory: Path, *, allow_plaintext: bool) -> tuple[Any, str | None]:
    """``(cache, None)`` when sign-ins can be kept as the policy allows; else an in-memory cache and why."""
    try:
        persistence = _deadline.call(
            lambda: _encrypted(directory), STORAGE_TIMEOUT, "the system's encrypted storage (login keyring)"
        )
    except _deadline.DeadlineExceeded:
        reason = (
            f"no encrypted storage: the system's secret store did not answer within {STORAGE_TIMEOUT:g} s "
            "(a locked login keyring waits for an unlock dialog)"
        )
    except Exception as exc:  # no Secret Service, no gi, no Keychain access: whatever the platform raises
        reason = f"no encrypted storage: {first_line(str(exc))}"
    else:
        _adopt_plaintext(directory, persistence)
        return _persisted(persistence), None
    _log.debug("keyring-ado: %s", reason)
    if allow_plaintext:
        from msal_extensions import FilePersistence  # noqa: PLC0415 - only when a sign-in is opened

        path = directory / FILE_CACHE
        persistence = FilePersistence(str(path))
        if not path.exists():
            persistence.save("{}")
        path.chmod(0o600)
        return _persisted(persistence), None
    import msal  # noqa: PLC0415 - only when a sign-in is opened

    return msal.TokenCache(), reason


def remembered_somewhere(directory: Path) -> bool:
    """True when a sign-in may be kept in *directory* (its files exist): looked at without opening storage."""
    return any((directory / name).exists() for name in (ENCRYPTED_CACHE, FILE_CACHE))


@contextlib.contextmanager
def cache_lock_errors(directory: Path) -> Iterator[None]:
    """msal-extensions' LockError (another process kept the cache's lock past msal's own wait) as one line."""
    from msal_extensions import LockError  # noqa: PLC0415 - only when a sign-in is opened

    try:
        yield
    except LockError:
        raise SourceFailed(
            f"another process kept the sign-in's cache locked ({directory / ENCRYPTED_CACHE}.lockfile or "
            f"{FILE_CACHE}.lockfile); try again, and if no keyring-ado process is running, remove that file"
        ) from None


def forget(directory: Path) -> tuple[list[str], str | None]:
    """Forget the remembered sign-in in *directory*, for ``keyring-ado logout``: what was removed,
    and what could not be (one line), if anything.

    The encrypted entry is cleared even when its marker file is gone (the secret store keeps the
    entry without it). When the store cannot be reached or does not answer in time, the marker is
    kept and that is said: a sign-in left in a locked keyring must not look forgotten."""
    removed = [str(directory / FILE_CACHE)] if JsonFile(directory / FILE_CACHE).clear() else []
    marker = directory / ENCRYPTED_CACHE
    try:
        cleared = _deadline.call(lambda: _clear_encrypted(directory), STORAGE_TIMEOUT, "the encrypted storage")
    except _NoStore as exc:
        if marker.exists() and sys.platform != "win32":
            return removed, _not_cleared(exc.reason)
        cleared = False  # no store on this machine: nothing can be kept in one
    except Exception as exc:  # a locked or broken store, or one that did not answer in time
        return removed, _not_cleared(first_line(str(exc)))
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()  # the marker (on Windows, the encrypted file itself, now empty)
    if cleared:
        removed.append(f"the encrypted sign-in ({ENCRYPTED_CACHE})")
    return removed, None


def _not_cleared(reason: str) -> str:
    return (
        f"the encrypted sign-in could not be cleared ({reason}); unlock the login keyring (or Keychain) and run "
        "`keyring-ado logout` again"
    )


class _NoStore(Exception):
    """The platform's encrypted storage cannot be opened at all (no Secret Service, no gi)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _encrypted(directory: Path) -> Any:  # noqa: ANN401 - msal-extensions' persistence
    """The platform's encrypted persistence, opened and read once (so a locked store shows now)."""
    from msal_extensions import build_encrypted_persistence  # noqa: PLC0415 - only when the store is opened
    from msal_extensions.persistence import PersistenceNotFound  # noqa: PLC0415

    persistence = build_encrypted_persistence(str(directory / ENCRYPTED_CACHE))
    try:
        persistence.load()
    except PersistenceNotFound:
        persistence.save("{}")  # so a store that cannot be written shows now, not after a sign-in
    return persistence


def _clear_encrypted(directory: Path) -> bool:
    """Overwrite the encrypted entry; True when it held a sign-in."""
    from msal_extensions import build_encrypted_persistence  # noqa: PLC0415 - only when the store is opened
    from msal_extensions.persistence import PersistenceNotFound  # noqa: PLC0415

    try:
        persistence = build_encrypted_persistence(str(directory / ENCRYPTED_CACHE))
    except Exception as exc:
        raise _NoStore(f"no encrypted storage: {first_line(str(exc))}") from exc
    try:
        held = persistence.load() not in (None, "", "{}")
    except PersistenceNotFound:
        return False
    persistence.save("{}")
    return held


def _persisted(persistence: Any) -> Any:  # noqa: ANN401
    from msal_extensions import PersistedTokenCache  # noqa: PLC0415 - only when a sign-in is opened

    clear_stale_lock(Path(persistence.get_location() + ".lockfile"))
    return PersistedTokenCache(persistence)


def clear_stale_lock(path: Path) -> bool:
    """Remove msal-extensions' lock file at *path* when no process holds it; True when removed.

    A live writer holds an OS lock on it (portalocker) or, on Windows, keeps it open, which stops the
    removal; a file left by a killed process has neither."""
    if sys.platform == "win32":
        try:
            path.unlink()
        except OSError:  # missing, or open in the process that holds it
            return False
        return True
    import fcntl  # noqa: PLC0415 - POSIX only: Windows has no fcntl

    try:
        descriptor = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except OSError:
        return False
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            return False
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live process holds it: msal waits for it as it should
        try:
            same = os.stat(path, follow_symlinks=False)
        except OSError:
            return False
        if (same.st_dev, same.st_ino) != (status.st_dev, status.st_ino):
            return False
        path.unlink()
    except OSError:
        return False
    else:
        _log.debug("keyring-ado: removed a stale sign-in lock file %s", path)
        return True
    finally:
        os.close(descriptor)


def _adopt_plaintext(directory: Path, persistence: Any) -> None:  # noqa: ANN401
    """A plaintext cache kept before encrypted storage was available does not outlive it: its sign-in
    moves into the encrypted store (when that holds none yet) and the file is removed."""
    path = directory / FILE_CACHE
    try:
        plaintext = read_private(path)
    except OSError:
        return  # missing (the usual case), or unreadable: left alone
    if plaintext is None:
        return  # not ours, or others can read it: not read, so not removed either
    try:
        if plaintext and persistence.load() in (None, "", "{}"):
            persistence.save(plaintext.decode("utf-8"))
        JsonFile(path).clear()
        _log.debug("keyring-ado: moved the plaintext sign-in cache into the encrypted one and removed it")
    except (CannotRemove, ValueError, OSError) as exc:
        _log.debug("keyring-ado: kept %s: %s", path, first_line(str(exc)))
