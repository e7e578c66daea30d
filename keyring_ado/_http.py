"""One small HTTPS client for our own requests: proxies from the environment, the CA bundle the
user set for Python tools, a timeout, and redirects never followed (a redirect is an answer)."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from . import _deadline

if TYPE_CHECKING:
    from email.message import Message


class Answer(NamedTuple):
    status: int
    headers: Message
    body: bytes


def request(
    url: str,
    ca_bundle: str | None,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    timeout: float = 10.0,
    read_body: bool = True,
) -> Answer:
    """Send one request; raises OSError (URLError, timeouts, TLS errors) when there is no answer.

    *timeout* bounds the whole request (connecting, the proxy's CONNECT, TLS, headers and body),
    not only each read: a peer that drips bytes is given up on at the deadline. *ca_bundle* is the
    CA bundle the user set for Python tools (``REQUESTS_CA_BUNDLE``), None for the system's."""
    if not url.startswith("https://"):
        raise ValueError("only https URLs are requested")
    sent = urllib.request.Request(  # noqa: S310 - https only, checked above
        url, data=data, method=method, headers={"User-Agent": "keyring-ado", **(headers or {})}
    )

    def send() -> Answer:
        opener = urllib.request.build_opener(  # in the deadline too: a CA bundle can be a FIFO
            urllib.request.ProxyHandler(),  # HTTPS_PROXY and NO_PROXY, as pip and uv read them
            urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca_bundle)),
            _NoRedirects(),
        )
        try:
            with opener.open(sent, timeout=timeout) as response:
                return Answer(response.status, response.headers, response.read(1 << 20) if read_body else b"")
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, error.headers, error.read(1 << 20) if read_body else b"")

    return _deadline.call(send, timeout, f"https://{urlsplit(url).hostname}")


def reason(exc: BaseException) -> str:
    """Why a request got no answer, in a few words: URLError's reason (a refused connection, a
    TLS or proxy error), else the exception itself."""
    said = getattr(exc, "reason", None)
    return str(said if said is not None else exc)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 3xx comes back as an HTTPError, to be read like any other answer
