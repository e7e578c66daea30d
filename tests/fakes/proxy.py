"""An HTTP CONNECT proxy on 127.0.0.1 that tunnels the hosts a test names to the local fake.

Clients (pip, uv, Poetry, twine) honour ``HTTPS_PROXY``, so they resolve nothing and connect to
nothing but loopback while using the real host names in URLs and TLS (SNI, certificates). A
CONNECT to any other host is refused with 403, so a test that strays fails instead of leaving the
machine.
"""

from __future__ import annotations

import select
import socket
import socketserver
import threading


class _Handler(socketserver.StreamRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        request_line = self.rfile.readline(65537).decode("latin-1").strip()
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass
        method, _, rest = request_line.partition(" ")
        target = rest.partition(" ")[0].lower()
        host, _, port = target.rpartition(":")
        with self.server.lock:
            self.server.connects.append(target)
        if method != "CONNECT" or host not in self.server.routes or port != "443":
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        upstream = socket.create_connection(("127.0.0.1", self.server.routes[host]), timeout=30)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        _pump(self.connection, upstream)


def _pump(a: socket.socket, b: socket.socket) -> None:
    sockets = [a, b]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 60)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (b if sock is a else a).sendall(data)
    except OSError:
        return
    finally:
        b.close()


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, routes: dict[str, int]) -> None:
        self.routes = routes
        self.connects: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


def serve(routes: dict[str, int]) -> tuple[_ProxyServer, int]:
    server = _ProxyServer(routes)
    threading.Thread(target=server.serve_forever, name="fake-proxy", daemon=True).start()
    return server, server.server_address[1]


class _DrippingHandler(socketserver.StreamRequestHandler):
    """Answers CONNECT, then sends one more header line every *interval* seconds, never the blank
    line that ends them: each read gets data in time, the request never completes."""

    server: _DrippingProxy

    def handle(self) -> None:
        self.rfile.readline(65537)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n")
        for count in range(self.server.lines):  # bounded: the fake stops by itself
            if self.server.stopped.wait(self.server.interval):
                return
            try:
                self.wfile.write(f"X-Drip-{count}: still here\r\n".encode())
                self.wfile.flush()
            except OSError:
                return


class _DrippingProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, interval: float, lines: int) -> None:
        self.interval = interval
        self.lines = lines
        self.stopped = threading.Event()
        super().__init__(("127.0.0.1", 0), _DrippingHandler)


def serve_dripping(interval: float = 0.5, lines: int = 240) -> tuple[_DrippingProxy, int]:
    """A proxy that drips header lines (at most *lines*, *interval* apart); ``stopped.set()`` ends it."""
    server = _DrippingProxy(interval, lines)
    threading.Thread(target=server.serve_forever, name="dripping-proxy", daemon=True).start()
    return server, server.server_address[1]
