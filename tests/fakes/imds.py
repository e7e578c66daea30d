"""A fake managed-identity endpoint (IMDS and App Service shapes) over plain HTTP on loopback."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.entra import FakeEntra


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.calls.append({"path": parts.path, **query, "metadata": self.headers.get("Metadata", "")})
        if self.headers.get("Metadata") != "true" and not self.headers.get("X-IDENTITY-HEADER"):
            self._send(400, {"error": "invalid_request", "error_description": "Required metadata header not specified"})
            return
        resource = query.get("resource", "")
        issued = self.server.entra._access(self.server.entra.tenant, query.get("client_id", "system-mi"), app=True)
        expires_on = int(time.time()) + issued["expires_in"]
        self._send(
            200,
            {"access_token": issued["access_token"], "expires_in": str(issued["expires_in"]),
             "expires_on": str(expires_on), "resource": resource, "token_type": "Bearer"},
        )  # fmt: skip

    def _send(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, entra: FakeEntra) -> None:
        self.entra = entra
        self.calls: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", 0), _Handler)


def serve(entra: FakeEntra) -> _Server:
    server = _Server(entra)
    threading.Thread(target=server.serve_forever, name="fake-imds", daemon=True).start()
    return server
