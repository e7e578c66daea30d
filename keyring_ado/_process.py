"""Running a helper program (az, later azd) safely: no shell, no stdin, a hard timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from typing import NamedTuple


class Completed(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


class ProcessTimeout(Exception):
    """The program did not finish in time; it and its children were killed."""


def run(argv: list[str], *, timeout: float, extra_env: dict[str, str] | None = None) -> Completed:
    """Run *argv* with stdin closed, from a neutral directory, killed after *timeout* seconds.

    Raises :class:`ProcessTimeout` on timeout and :class:`OSError` when it cannot start.
    """
    env = dict(os.environ)
    env.update(extra_env or {})
    posix = sys.platform != "win32"
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=_neutral_dir(),
        env=env,
        start_new_session=posix,  # so a timeout can end the whole process group
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process, posix=posix)
            process.communicate()
            raise ProcessTimeout(f"{os.path.basename(argv[0])} did not answer within {timeout:g} s") from None
    return Completed(
        process.returncode,
        out.decode("utf-8", errors="replace"),
        err.decode("utf-8", errors="replace"),
    )


def _kill(process: subprocess.Popen[bytes], *, posix: bool) -> None:
    try:
        if posix:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except OSError:
        process.kill()


def _neutral_dir() -> str:
    """A directory that exists and holds nothing of the user's (az reads config from the cwd)."""
    if sys.platform == "win32":
        return os.environ.get("SYSTEMROOT", tempfile.gettempdir())
    return "/"
