"""Name resolution for clients that ignore ``HTTPS_PROXY`` (hatch publish gives httpx its own
transport, which turns environment proxies off).

``install`` writes a ``sitecustomize`` that makes ``socket.create_connection`` reach the routed
host names' port 443 on the local fake instead. Only the TCP destination changes: URLs, TLS
server names and certificate checks stay the real ones, and every other address still fails
the way the proxy refuses it (connection refused on 127.0.0.1:9).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

_SITECUSTOMIZE = """\
import socket

_ROUTES = {routes}
_create_connection = socket.create_connection


def _routed(address, *args, **kwargs):
    host, port = address[0], address[1]
    if port == 443 and str(host).lower() in _ROUTES:
        return _create_connection(("127.0.0.1", _ROUTES[str(host).lower()]), *args, **kwargs)
    if host not in ("127.0.0.1", "localhost", "::1"):
        return _create_connection(("127.0.0.1", 9), *args, **kwargs)
    return _create_connection(address, *args, **kwargs)


socket.create_connection = _routed
"""


def install(directory: Path, hosts: Iterable[str], port: int) -> Path:
    """Write the sitecustomize into *directory*; put that on ``PYTHONPATH`` of the client."""
    directory.mkdir(parents=True, exist_ok=True)
    routes = {host: port for host in hosts}
    (directory / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(routes=json.dumps(routes)))
    return directory
