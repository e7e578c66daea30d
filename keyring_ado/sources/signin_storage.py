"""Where the sign-in is remembered, as files: their names, whether any is there, msal-extensions'
stale lock files, and how it is all forgotten (``keyring-ado logout``).

* Everything here looks at files alone, so the checks that come first (is anything remembered
  here?) and the command line import neither msal nor msal-extensions (0.12 s with requests):
  opening the storage, and clearing the encrypted entry on logout, is :mod:`._msal`'s.
* msal-extensions guards each cache write with ``<cache>.lockfile``. With portalocker (a dependency
  of ours) that lock dies with its holder; a lock file left by a killed process, which nobody holds,
  is removed before msal waits on it (:func:`clear_stale_lock`).
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

if sys.platform != "win32":  # Windows has no fcntl
    import fcntl

_log = logging.getLogger(__name__)
ENCRYPTED_CACHE = "msal-cache.bin"
FILE_CACHE = "msal-cache.json"
#: Our files in the sign-in's directory, and msal-extensions' lock files beside them.
OWN_FILES = (ENCRYPTED_CACHE, FILE_CACHE, f"{ENCRYPTED_CACHE}.lockfile", f"{FILE_CACHE}.lockfile")
#: How long the system's secret store may take to open and answer once.
STORAGE_TIMEOUT = 5.0
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def remembered_somewhere(directory: Path) -> bool:
    """True when a sign-in may be kept in *directory* (its files exist): looked at without opening storage."""
    return any((directory / name).exists() for name in (ENCRYPTED_CACHE, FILE_CACHE))


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
