"""A total deadline for work that only has per-read timeouts (HTTP through urllib, requests, msal).

A socket timeout bounds each read, not the request: a proxy that answers CONNECT and then sends a
header line every second keeps a request alive for ever. :func:`call` runs the work in a daemon
thread and stops waiting at the deadline; the abandoned thread ends with its socket's own timeout
and never keeps the process alive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    """The work did not finish in time (a TimeoutError, so an OSError like every network failure)."""


def call(work: Callable[[], T], seconds: float, what: str) -> T:
    """``work()``, or :class:`DeadlineExceeded` naming *what* once *seconds* have passed."""
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller's thread as it is
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="keyring-ado request", daemon=True).start()
    if not done.wait(seconds):
        raise DeadlineExceeded(f"{what} got no complete answer within {seconds:g} s")
    if failure:
        raise failure[0]
    return outcome[0]
