"""An exclusive lock on an open file, given up on at a deadline: ``flock`` on POSIX, ``msvcrt``
byte-range locking on Windows. Both are released by the system when the holder dies."""

from __future__ import annotations

import contextlib
import sys
import time

if sys.platform == "win32":
    import msvcrt

    def _try_lock(descriptor: int) -> None:
        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)

    def _unlock(descriptor: int) -> None:
        msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


def acquire(descriptor: int, timeout: float) -> bool:
    """Lock *descriptor*'s file, waiting at most *timeout* seconds; False when another holds it still."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _try_lock(descriptor)
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        else:
            return True


def release(descriptor: int) -> None:
    with contextlib.suppress(OSError):
        _unlock(descriptor)
