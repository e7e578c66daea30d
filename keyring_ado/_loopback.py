"""The loopback redirect of a browser sign-in: ``http://localhost:PORT``, answered on this machine only.

Entra's page posts the authorization response here (``response_mode=form_post``; a query string is
accepted too). Other local processes can reach the port, so nothing they send counts:

* only a response carrying the sign-in's own ``state`` ends the wait; anything else is answered 400
  and the wait goes on;
* each connection gets :data:`CONNECTION_TIMEOUT` seconds in all, so a silent or dripping connection
  delays the real redirect by at most that; the wait as a whole ends at the deadline given;
* the port is held on both loopback addresses (127.0.0.1 and ::1, where the machine has IPv6), so no
  other process can take the half of ``localhost`` a browser may try first;
* a connection that breaks is dropped without a word (nothing on stderr).
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import http.server
import selectors
import socket
import threading
import time
import urllib.parse
from typing import Any

CONNECTION_TIMEOUT = 5.0
_MAX_BODY = 64 << 10
_TRIES = 8
_DONE = b"<!doctype html><title>keyring-ado</title><p>Signed in. You can close this tab and go back to the terminal."


class _Handler(http.server.BaseHTTPRequestHandler):
    timeout = CONNECTION_TIMEOUT  # per read
    server: _Server

    def setup(self) -> None:
        """A connection gets CONNECTION_TIMEOUT in all, however slowly it drips its request."""
        super().setup()
        self._cut = threading.Timer(CONNECTION_TIMEOUT, _shut, (self.request,))
        self._cut.daemon = True
        self._cut.start()

    def finish(self) -> None:
        self._cut.cancel()
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._answer(urllib.parse.urlsplit(self.path).query)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.send_error(400)
            return
        self._answer(self.rfile.read(length).decode("utf-8", "replace"))

    def _answer(self, form: str) -> None:
        fields = {key: values[0] for key, values in urllib.parse.parse_qs(form).items()}
        expected = self.server.state
        if expected is None or not hmac.compare_digest(fields.get("state", "").encode(), expected.encode()):
            self.send_error(400)  # a favicon, a probe, another process: not this sign-in's redirect
            return
        self.server.response = fields
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_DONE)))
        self.end_headers()
        self.wfile.write(_DONE)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: ANN401 - nothing on stderr
        return


def _shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class _Server(http.server.HTTPServer):
    response: dict[str, str] | None = None
    state: str | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ANN401 - a reset, a cut
        return  # socketserver would print a traceback on stderr


class _Server6(_Server):
    address_family = socket.AF_INET6


class Receiver:
    """Listen on the loopback addresses at one unused port until :meth:`wait` has the response or
    the deadline passes."""

    def __init__(self) -> None:
        self._servers = _bind()

    @property
    def redirect_uri(self) -> str:
        return f"http://localhost:{self._servers[0].server_address[1]}"

    def wait(self, deadline: float, state: str) -> dict[str, str] | None:
        """The fields of the response that carries *state*, or None when *deadline* (``time.monotonic()``)
        passes first."""
        for server in self._servers:
            server.state = state
            server.timeout = 0  # handle_request() below runs only when a connection is waiting
        with selectors.DefaultSelector() as selector:
            for server in self._servers:
                selector.register(server.socket, selectors.EVENT_READ, server)
            while True:
                answered = next((s.response for s in self._servers if s.response is not None), None)
                if answered is not None:
                    return answered
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                for key, _ in selector.select(min(left, 1.0)):
                    key.data.handle_request()

    def close(self) -> None:
        for server in self._servers:
            server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bind() -> list[_Server]:
    """A server on 127.0.0.1 at an unused port, and one on ::1 at the same port where there is IPv6.
    A port whose ::1 half another process holds is given up for another."""
    for _ in range(_TRIES):
        first = _Server(("127.0.0.1", 0), _Handler)
        try:
            second = _Server6(("::1", first.server_address[1]), _Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                first.server_close()
                continue
            return [first]  # no IPv6 on this machine: localhost is 127.0.0.1 alone
        return [first, second]
    raise OSError(errno.EADDRINUSE, "no loopback port was free on both 127.0.0.1 and ::1")
