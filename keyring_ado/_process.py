"""Running a helper program (az, azd) safely: no shell, no stdin, a hard deadline, bounded output,
and no secrets of ours in its environment. Which program runs is :mod:`keyring_ado._path`'s job."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from typing import IO, NamedTuple

#: What is kept of each of a program's output streams; the rest is read and dropped.
MAX_OUTPUT = 1 << 20
#: After a kill, how long we wait for the program to be reaped and its pipes to close.
KILL_GRACE = 2.0


class Completed(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


class ProcessTimeout(Exception):
    """The program did not finish in time; it and its children were killed."""


def run(
    argv: list[str],
    *,
    timeout: float,
    extra_env: dict[str, str] | None = None,
    hide: Iterable[str] = (),
) -> Completed:
    """Run *argv* with stdin closed, from a neutral directory, killed after *timeout* seconds.

    The child's environment is ours without the variables named in *hide* (our secrets: az has no
    use for a pipeline's job token), plus *extra_env*. The deadline is hard: a grandchild that
    left the process group and holds the output pipes open does not keep us waiting (after a kill
    we wait :data:`KILL_GRACE` seconds, then close the pipes). At most :data:`MAX_OUTPUT` bytes of
    each stream are kept. Raises :class:`ProcessTimeout` on timeout and :class:`OSError` when it
    cannot start.
    """
    hidden = frozenset(hide)
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update(extra_env or {})
    posix = sys.platform != "win32"
    deadline = time.monotonic() + timeout
    process = subprocess.Popen(  # its pipes are closed below, whatever happens
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=_neutral_dir(),
        env=env,
        start_new_session=posix,  # so a timeout can end the whole process group
        bufsize=0,
    )
    streams = (process.stdout, process.stderr)
    kept = {stream: bytearray() for stream in streams}
    try:
        finished = (_drain_posix if posix else _drain_threads)(kept, deadline)
        if finished:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                finished = False
    except BaseException:  # never leave the program running behind an error
        _stop(process, posix=posix)
        raise
    finally:
        if posix:  # on Windows a reader thread may still be blocked on a pipe: leave it to it
            for stream in streams:
                if stream is not None:
                    stream.close()
    if not finished:
        _stop(process, posix=posix)
        raise ProcessTimeout(f"{os.path.basename(argv[0])} did not answer within {timeout:g} s")
    out, err = (kept[stream].decode("utf-8", errors="replace") for stream in streams)
    return Completed(process.returncode, out, err)


def _keep(buffer: bytearray, chunk: bytes) -> None:
    if len(buffer) < MAX_OUTPUT:
        buffer += chunk[: MAX_OUTPUT - len(buffer)]


def _drain_posix(kept: dict[IO[bytes] | None, bytearray], deadline: float) -> bool:
    """Read both pipes until they close (True) or the deadline passes (False)."""
    with selectors.DefaultSelector() as selector:
        for stream in kept:
            if stream is not None:
                selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, _ in selector.select(timeout=left):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    _keep(kept[key.fileobj], chunk)  # type: ignore[index]
                else:
                    selector.unregister(key.fileobj)
    return True


def _drain_threads(kept: dict[IO[bytes] | None, bytearray], deadline: float) -> bool:
    """Windows, where pipes cannot be selected: one daemon thread per pipe, joined by the deadline."""

    def drain(stream: IO[bytes], buffer: bytearray) -> None:
        with contextlib.suppress(OSError, ValueError):
            while chunk := stream.read(65536):
                _keep(buffer, chunk)

    threads = [
        threading.Thread(target=drain, args=(stream, buffer), daemon=True)
        for stream, buffer in kept.items()
        if stream is not None
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


def _stop(process: subprocess.Popen[bytes], *, posix: bool) -> None:
    """Kill the program and its process group (what it left behind in the group too, even after it
    exited), and reap it within :data:`KILL_GRACE`."""
    _kill(process, posix=posix)
    _reap(process)


def _reap(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):  # unkillable: give up waiting, never hang
        process.wait(timeout=KILL_GRACE)


def _kill(process: subprocess.Popen[bytes], *, posix: bool) -> None:
    try:
        if posix:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except OSError:
        try:
            process.kill()
        except OSError:
            return


def _neutral_dir() -> str:
    """A directory that exists and holds nothing of the user's (az reads config from the cwd)."""
    if sys.platform == "win32":
        return os.environ.get("SYSTEMROOT", tempfile.gettempdir())
    return "/"
