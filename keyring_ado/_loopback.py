"""The loopback redirect of a browser sign-in: ``http://localhost:PORT``, answered on 127.0.0.1 only.

Entra's page posts the authorization response here (``response_mode=form_post``; a query string is
accepted too). Each connection gets :data:`CONNECTION_TIMEOUT` seconds to send its request, so a
silent connection from another local process delays the real redirect by at most that, never until
the sign-in's deadline; the wait as a whole ends at the deadline given.
"""

from __future__ import annotations

import http.server
import time
import urllib.parse
from typing import Any

CONNECTION_TIMEOUT = 5.0
_MAX_BODY = 64 << 10
_DONE = b"<!doctype html><title>keyring-ado</title><p>Signed in. You can close this tab and go back to the terminal."


class _Handler(http.server.BaseHTTPRequestHandler):
    timeout = CONNECTION_TIMEOUT  # per read
    server: _Server

    def setup(self) -> None:
        """A connection gets CONNECTION_TIMEOUT in all, however slowly it drips its request."""
        import socket  # noqa: PLC0415
        import threading  # noqa: PLC0415

        super().setup()
        connection: socket.socket = self.request
        self._cut = threading.Timer(CONNECTION_TIMEOUT, _shut, (connection,))
        self._cut.daemon = True
        self._cut.start()

    def finish(self) -> None:
        self._cut.cancel()
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
        if "code" not in fields and "error" not in fields:
            self.send_error(404)  # a favicon, a probe: not the redirect
            return
        self.server.response = fields
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_DONE)))
        self.end_headers()
        self.wfile.write(_DONE)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: ANN401 - nothing on stderr
        return


def _shut(connection: Any) -> None:  # noqa: ANN401 - a socket
    import contextlib  # noqa: PLC0415
    import socket  # noqa: PLC0415

    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class _Server(http.server.HTTPServer):
    response: dict[str, str] | None = None

    def handle_timeout(self) -> None:
        return


class Receiver:
    """Listen on 127.0.0.1 at an unused port until :meth:`wait` has the response or the deadline passes."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)

    @property
    def redirect_uri(self) -> str:
        return f"http://localhost:{self._server.server_address[1]}"

    def wait(self, deadline: float) -> dict[str, str] | None:
        """The authorization response's fields, or None when *deadline* (``time.monotonic()``) passes."""
        while self._server.response is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._server.timeout = min(left, 1.0)
            self._server.handle_request()
        return self._server.response

    def close(self) -> None:
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
