"""A small JSON file of entries, private to the user, replaced atomically, ignored when damaged.

Readers never lock: a writer writes a temporary file beside it and renames it over the old one, so a
reader sees the old file or the new one. Two writers at once may each drop the other's new entry;
every user of this file treats it as a cache, so that costs one more fetch, never a wrong answer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

_log = logging.getLogger(__name__)

FORMAT = 1


class JsonFile:
    """``{"format": 1, "entries": {...}}`` at *path*, in an owner-only directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.directory = path.parent

    def read(self) -> dict[str, Any]:
        """The entries; empty when the file is missing, damaged, of another format or not private."""
        try:
            if not _private(self.path):
                return {}
            document = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            _log.debug("keyring-ado: ignoring an unreadable %s (%s); it will be rebuilt", self.path, exc)
            return {}
        entries = document.get("entries") if isinstance(document, dict) and document.get("format") == FORMAT else None
        if not isinstance(entries, dict):
            _log.debug("keyring-ado: ignoring %s, of an unknown shape; it will be rebuilt", self.path)
            return {}
        return entries

    def update(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Read, apply *change*, write atomically. Best effort: a failure is a debug line."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._write({"format": FORMAT, "entries": change(self.read())})
        except OSError as exc:
            _log.debug("keyring-ado: could not write %s: %s", self.path, exc.strerror or exc)

    def clear(self) -> bool:
        """Remove the file; True when there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    @contextlib.contextmanager
    def locked(self, timeout: float) -> Iterator[bool]:
        """Hold ``<name>.lock`` beside the file, waiting at most *timeout* seconds.

        Yields False (and goes on unlocked) when the lock cannot be had in time or the directory
        cannot be written.
        """
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle = open(self.path.with_suffix(".lock"), "a+b")  # noqa: SIM115 - held across the yield
        except OSError as exc:
            _log.debug("keyring-ado: no lock beside %s: %s", self.path, exc.strerror or exc)
            yield False
            return
        with handle:
            acquired = _acquire(handle, timeout)
            if not acquired:
                _log.debug("keyring-ado: %s stayed locked for %g s; going on without it", self.path, timeout)
            try:
                yield acquired
            finally:
                if acquired:
                    _release(handle)

    def _write(self, document: dict[str, Any]) -> None:
        import tempfile  # noqa: PLC0415 - only writers need it

        data = json.dumps(document, separators=(",", ":")).encode()
        descriptor, temporary = tempfile.mkstemp(prefix=f".{self.path.stem}-", dir=self.directory)
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


def _private(path: Path) -> bool:
    """On POSIX, only a file of ours that nobody else can read is trusted."""
    status = path.stat()  # FileNotFoundError when there is none yet
    if sys.platform == "win32":
        return True  # per-user profile directory; secrets in it are DPAPI-encrypted
    if status.st_uid != os.getuid() or status.st_mode & 0o077:
        _log.debug("keyring-ado: ignoring %s: it is not private to this user", path)
        return False
    return True


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
