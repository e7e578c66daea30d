"""The browser sign-in's loopback redirect receiver, as other local processes can reach it."""

from __future__ import annotations

import errno
import http.client
import socket
import threading
import time
import urllib.parse

import pytest

from keyring_ado import _loopback


def post(port: int, fields: dict[str, str], host: str = "127.0.0.1") -> int:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        body = urllib.parse.urlencode(fields)
        connection.request("POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded"})
        return connection.getresponse().status
    finally:
        connection.close()


def port_of(receiver: _loopback.Receiver) -> int:
    return int(receiver.redirect_uri.rpartition(":")[2])


def test_only_the_answer_with_the_state_ends_the_wait() -> None:
    with _loopback.Receiver() as receiver:
        port = port_of(receiver)
        statuses: list[int] = []

        def answers() -> None:
            time.sleep(0.2)
            statuses.extend(post(port, fields) for fields in ({"code": "forged"}, {"code": "f", "state": "guess"}))
            statuses.append(post(port, {"code": "real", "state": "S3cr3t"}))

        threading.Thread(target=answers, daemon=True).start()
        response = receiver.wait(time.monotonic() + 20, "S3cr3t")
    assert response == {"code": "real", "state": "S3cr3t"}
    assert statuses[:2] == [400, 400]


def test_a_silent_connection_is_cut_and_the_real_answer_taken() -> None:
    with _loopback.Receiver() as receiver:
        port = port_of(receiver)
        silent = socket.create_connection(("127.0.0.1", port))
        threading.Timer(0.3, post, (port, {"code": "real", "state": "S"})).start()
        started = time.monotonic()
        response = receiver.wait(time.monotonic() + 60, "S")
        took = time.monotonic() - started
        silent.close()
    assert response is not None
    assert took < _loopback.CONNECTION_TIMEOUT + 3


def test_a_broken_connection_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    """A request cut short by a reset: socketserver printed a traceback on stderr (pip's stderr)."""
    import struct

    with _loopback.Receiver() as receiver:
        port = port_of(receiver)

        def reset() -> None:
            time.sleep(0.2)
            connection = socket.create_connection(("127.0.0.1", port))
            connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()  # RST

        threading.Thread(target=reset, daemon=True).start()
        assert receiver.wait(time.monotonic() + 2, "S") is None
    assert capfd.readouterr().err == ""


def test_both_halves_of_localhost_are_held() -> None:
    """The redirect names localhost; a browser may try ::1 first: no other process may take it."""
    with _loopback.Receiver() as receiver:
        port = port_of(receiver)
        try:
            other = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        except OSError:
            pytest.skip("no IPv6 on this machine")
        with other:
            try:
                other.bind(("::1", port))
            except OSError as taken:
                refused = taken.errno
            else:
                refused = 0
        if refused == errno.EADDRNOTAVAIL:
            pytest.skip("no ::1 on this machine")
        assert refused == errno.EADDRINUSE, "::1 at the redirect's port was free for another process"
        statuses: list[int] = []
        threading.Thread(target=lambda: statuses.append(post(port, {"code": "c", "state": "S"}, host="::1"))).start()
        assert receiver.wait(time.monotonic() + 10, "S") == {"code": "c", "state": "S"}
