"""A fake managed-identity endpoint (IMDS and App Service shapes) over plain HTTP on loopback."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.entra import ADO_RESOURCE, FakeEntra

APP_SERVICE_API_VERSION = "2019-08-01"
IMDS_API_VERSION = "2018-02-01"
#: What the tests put in IDENTITY_HEADER (App Service hands it to the app; only it knows it).
IDENTITY_HEADER = "app-service-header"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.calls.append({"path": parts.path, **query, "metadata": self.headers.get("Metadata", "")})
        refused = self._refused(parts.path, query)
        if refused is not None:
            self._send(400, {"error": "invalid_request", "error_description": refused})
            return
        resource = query.get("resource", "")
        issued = self.server.entra._access(self.server.entra.tenant, query.get("client_id", "system-mi"), app=True)
        expires_on = int(time.time()) + issued["expires_in"]
        self._send(
            200,
            {"access_token": issued["access_token"], "expires_in": str(issued["expires_in"]),
             "expires_on": str(expires_on), "resource": resource, "token_type": "Bearer"},
        )  # fmt: skip

    def _refused(self, path: str, query: dict[str, str]) -> str | None:
        """Why the real endpoint would refuse this request: each shape has its own path, header,
        api-version, and the resource must be Azure DevOps' own."""
        if path == "/msi/token":  # App Service and Functions
            if self.headers.get("X-IDENTITY-HEADER") != self.server.identity_header:
                return "The X-IDENTITY-HEADER is missing or wrong"
            expected = APP_SERVICE_API_VERSION
        elif path == "/metadata/identity/oauth2/token":  # the instance metadata service
            if self.headers.get("Metadata") != "true":
                return "Required metadata header not specified"
            expected = IMDS_API_VERSION
        else:
            return f"no managed identity endpoint at {path}"
        if query.get("api-version") != expected:
            return f"api-version {query.get('api-version')} is not supported here"
        if query.get("resource") != ADO_RESOURCE:
            return f"resource {query.get('resource')} is not Azure DevOps"
        return None

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
        self.identity_header = IDENTITY_HEADER
        self.calls: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", 0), _Handler)


def serve(entra: FakeEntra) -> _Server:
    server = _Server(entra)
    threading.Thread(target=server.serve_forever, name="fake-imds", daemon=True).start()
    return server
