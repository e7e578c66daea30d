"""A small JSON file of entries, private to the user, replaced atomically, ignored when damaged.

Readers never lock: a writer writes a temporary file beside it and renames it over the old one, so a
reader sees the old file or the new one. Two writers at once may each drop the other's new entry;
every user of this file treats it as a cache, so that costs one more fetch, never a wrong answer.

Nothing here trusts the file system: the directory must be the user's own and writable by nobody
else (else it is refused, in one line, and lookups go on without it); files and lock files are
opened without following a symbolic link and judged by ``fstat`` on the open descriptor, so a file
swapped in between a check and a read is never read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ._filelock import acquire, release

_log = logging.getLogger(__name__)

FORMAT = 1
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO planted where a file goes must not block
_MAX_SIZE = 4 << 20  # a cache file is a few KiB; anything this large is not ours
_refused: dict[str, str] = {}


class CannotRemove(OSError):
    """:meth:`JsonFile.clear` found the file and could not remove it (the message says why)."""


class JsonFile:
    """``{"format": 1, "entries": {...}}`` at *path*, in an owner-only directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.directory = path.parent

    def read(self) -> dict[str, Any]:
        """The entries; empty when the file is missing, damaged, of another format or not private."""
        if not usable_directory(self.directory, create=False):
            return {}
        try:
            data = read_private(self.path)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            _log.debug(
                "keyring-ado: ignoring an unreadable %s (%s); it will be rebuilt", self.path, exc.strerror or exc
            )
            return {}
        if data is None:
            return {}
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            _log.debug("keyring-ado: ignoring a damaged %s; it will be rebuilt", self.path)
            return {}
        entries = document.get("entries") if isinstance(document, dict) and document.get("format") == FORMAT else None
        if not isinstance(entries, dict):
            _log.debug("keyring-ado: ignoring %s, of an unknown shape; it will be rebuilt", self.path)
            return {}
        return entries

    def update(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Read, apply *change*, write atomically. Best effort: a failure is a debug line."""
        if not usable_directory(self.directory, create=True):
            return
        try:
            self._write({"format": FORMAT, "entries": change(self.read())})
        except (OSError, ValueError) as exc:
            _log.debug("keyring-ado: could not write %s: %s", self.path, getattr(exc, "strerror", None) or exc)

    def clear(self) -> bool:
        """Remove the file; True when there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:  # a directory in its place, or a read-only directory
            raise CannotRemove(f"cannot remove {self.path}: {exc.strerror or exc}") from None
        return True

    @contextlib.contextmanager
    def locked(self, timeout: float, name: str | None = None) -> Iterator[bool]:
        """Hold ``<name>.lock`` beside the file (``name`` defaults to the file's own stem), waiting
        at most *timeout* seconds.

        Yields False (and goes on unlocked) when the lock cannot be had in time, the directory
        cannot be written or is not private, or the lock file is a link or not ours.
        """
        lock = self.directory / f"{name or self.path.stem}.lock"
        descriptor = None
        if usable_directory(self.directory, create=True):
            try:
                descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC | _BINARY, 0o600)
                if not _ours(os.fstat(descriptor), lock):
                    os.close(descriptor)
                    descriptor = None
            except OSError as exc:  # ELOOP: a symbolic link planted where the lock goes
                _log.debug("keyring-ado: no lock at %s: %s", lock, exc.strerror or exc)
                descriptor = None
        if descriptor is None:
            yield False
            return
        try:
            acquired = acquire(descriptor, timeout)
            if not acquired:
                _log.debug("keyring-ado: %s stayed locked for %g s; going on without it", lock, timeout)
            try:
                yield acquired
            finally:
                if acquired:
                    release(descriptor)
        finally:
            os.close(descriptor)

    def _write(self, document: dict[str, Any]) -> None:
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


def read_private(path: Path) -> bytes | None:
    """The bytes of *path*, opened without following a link and judged on the open descriptor:
    None when it is not a regular file of ours that nobody else can read. FileNotFoundError when
    there is none."""
    return _read_checked(path, _NOFOLLOW, lambda status: _ours(status, path) and status.st_size <= _MAX_SIZE)


def read_regular(path: str | Path, limit: int = _MAX_SIZE) -> bytes | None:
    """The first *limit* bytes of *path* when it is a regular file (someone else's file too: az's
    profile, a certificate); None for a FIFO, a device or a directory, which are never read.
    OSError when it cannot be opened."""
    return _read_checked(path, 0, lambda status: stat.S_ISREG(status.st_mode), limit)


def read_json(path: str | Path) -> object:
    """The JSON document in the regular file *path* (a byte-order mark allowed, as az writes one);
    None when it is missing, unreadable, not a regular file or not JSON. Never raises."""
    try:
        data = read_regular(path)
        return json.loads(data.decode("utf-8-sig")) if data is not None else None
    except (OSError, ValueError, RecursionError):
        return None


def read_unlinked(path: Path, limit: int) -> bytes | None:
    """The first *limit* bytes of the regular file *path*, opened without following a link (one
    there is refused: ELOOP); None for a FIFO, a device or a directory. FileNotFoundError when
    there is none."""
    return _read_checked(path, _NOFOLLOW, lambda status: stat.S_ISREG(status.st_mode), limit)


def replace_atomically(path: Path, data: bytes, mode: int, group: int | None = None) -> None:
    """Make *path* hold *data*: written to a temporary file beside it, flushed to disk, given
    *mode* (and *group*, when it can be) and renamed over it. A reader sees the old file or the
    new one, whole; when anything fails the old file is as it was and the temporary one is gone."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if group is not None and hasattr(os, "chown"):
            with contextlib.suppress(OSError):  # only a group the user is in can be given
                os.chown(temporary, -1, group)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if sys.platform != "win32":
        with contextlib.suppress(OSError):  # the rename itself reaches the disk
            directory = os.open(path.parent, os.O_RDONLY | _CLOEXEC)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)


def special_file(path: str | Path) -> bool:
    """True when something other than a regular file (a FIFO, a device, a directory) stands at
    *path*: reading it could block for ever, so it is left alone."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # missing or unreachable: nothing there to block on


def _read_checked(
    path: str | Path, flags: int, accept: Callable[[os.stat_result], bool], limit: int = _MAX_SIZE + 1
) -> bytes | None:
    """Open *path* without blocking (a FIFO would), judge the open descriptor, then read."""
    descriptor = os.open(path, os.O_RDONLY | flags | _CLOEXEC | _BINARY | _NONBLOCK)
    try:
        if not accept(os.fstat(descriptor)):
            return None
        chunks: list[bytes] = []
        size = 0
        while size < limit and (chunk := os.read(descriptor, min(65536, limit - size))):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def usable_directory(directory: Path, *, create: bool) -> bool:
    """True when *directory* is the user's own and nobody else can write to it (created owner-only
    when *create* and it is missing). A directory that fails this is refused once per process with
    one warning, and the caller goes on without its files."""
    key = str(directory)
    if key in _refused:
        return False
    if create:
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            _log.debug("keyring-ado: could not write in %s: cannot create it (%s)", directory, exc.strerror or exc)
            return False
    try:
        status = directory.stat()
    except OSError:
        return False  # missing (nothing to read yet) or unreachable
    problem = _directory_problem(status)
    if problem is None:
        return True
    _refused[key] = problem
    _log.warning(
        "keyring-ado: not using the cache directory %s: %s; lookups go on without a disk cache. "
        "Fix: `chmod 700 %s` if it is yours, or set KEYRING_ADO_CACHE_DIR to a directory of your own",
        directory,
        problem,
        directory,
    )
    return False


def forget_refusals() -> None:
    """Judge directories afresh (tests, and a long-running process after a fix)."""
    _refused.clear()


def _directory_problem(status: os.stat_result) -> str | None:
    if not stat.S_ISDIR(status.st_mode):
        return "it is not a directory"
    if sys.platform == "win32":
        return None  # a per-user profile directory; secrets in it are DPAPI-encrypted
    if status.st_uid != os.getuid():
        return "it belongs to another user"
    if status.st_mode & 0o022:
        return "others can write to it"
    return None


def _ours(status: os.stat_result, path: Path) -> bool:
    """On POSIX, only a regular file of ours that nobody else can read or write is trusted."""
    if not stat.S_ISREG(status.st_mode):
        _log.debug("keyring-ado: ignoring %s: it is not a regular file", path)
        return False
    if sys.platform == "win32":
        return True
    if status.st_uid != os.getuid() or status.st_mode & 0o077:
        _log.debug("keyring-ado: ignoring %s: it is not private to this user", path)
        return False
    return True
