"""Run a client as a person would: with a controlling terminal (a pty), and read what it showed."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import subprocess
import termios
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Session:
    returncode: int
    stdout: str
    stderr: str
    screen: str


def start(
    argv: Sequence[str], env: dict[str, str], cwd: Path
) -> tuple[subprocess.Popen[bytes], threading.Thread, list[bytes]]:
    main, child = pty.openpty()

    def take_terminal() -> None:  # in the child: a new session whose controlling terminal is the pty
        os.setsid()
        fcntl.ioctl(child, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        list(argv),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=take_terminal,  # noqa: PLW1509 - the only way to give a child a controlling tty
        pass_fds=(child,),
    )
    os.close(child)
    chunks: list[bytes] = []

    def read_screen() -> None:
        with contextlib.suppress(OSError):  # EIO once every holder of the pty has gone
            while data := os.read(main, 4096):
                chunks.append(data)
        os.close(main)

    reader = threading.Thread(target=read_screen, daemon=True)
    reader.start()
    return process, reader, chunks


def finish(started: tuple[subprocess.Popen[bytes], threading.Thread, list[bytes]], timeout: float = 120) -> Session:
    process, reader, chunks = started
    out, err = process.communicate(timeout=timeout)
    reader.join(timeout=10)
    return Session(process.returncode, out.decode(), err.decode(), b"".join(chunks).decode(errors="replace"))


def run(argv: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> Session:
    return finish(start(argv, env, cwd), timeout)
