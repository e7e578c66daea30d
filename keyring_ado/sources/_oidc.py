"""What the two CI platforms' OIDC sources (GitHub Actions, Azure Pipelines) share: reading the URL
their secret is about to go to exactly as urllib will request it, showing it safely in a message,
and the one request for the platform's ID token (the assertion Entra ID exchanges)."""

from __future__ import annotations

import json
import urllib.parse

from .. import _http
from .._redact import quote_output, redact
from ..errors import SourceFailed
from ..feeds import request_url
from ._entra import Entra


def https_request(url: str) -> tuple[str, list[str]] | None:
    """``(host, path segments)`` of an https URL as urllib requests it (host in lower case, with
    ``:port`` unless 443; dot segments removed); None for any other URL, or one whose host a client
    or proxy could read otherwise (user info, a backslash, spaces, a disguised dot segment)."""
    try:
        user_info = "@" in urllib.parse.urlsplit(url).netloc
    except ValueError:
        return None
    requested = request_url(url) if url.startswith("https://") and not user_info else None
    if requested is None:
        return None
    host, _, path = requested.removeprefix("https://").partition("/")
    return host, [segment for segment in path.split("/") if segment]


def shown(url: str, secrets: tuple[str, ...], segments: int = 0) -> str:
    """Where *url* points, for a message: scheme, host and the first *segments* path segments;
    never user info, a query or a known secret."""
    try:
        split = urllib.parse.urlsplit(url)
        port = f":{split.port}" if split.port else ""
    except ValueError:
        return "a URL that cannot be read"
    if not (split.scheme and split.hostname):
        return "not a URL with a host"
    if "@" in split.netloc or "\\" in url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "a URL with user info, a backslash or spaces, which clients read differently"
    path = "".join(f"/{segment}" for segment in split.path.split("/")[1 : 1 + segments])
    return redact(f"{split.scheme}://{split.hostname}{port}{path}", secrets)


def fetch_assertion(url: str, method: str, headers: dict[str, str], field: str, entra: Entra) -> str:
    """The CI platform's ID token (the assertion Entra ID exchanges), from GitHub or Azure Pipelines,
    verified with *entra*'s CA bundle, any quoted answer masked with its secrets."""
    ca_bundle, secrets = entra.ca_bundle, entra.secrets
    issuer = urllib.parse.urlsplit(url).hostname or url
    try:
        answer = _http.request(url, ca_bundle, method=method, headers=headers, data=b"" if method == "POST" else None)
    except (OSError, ValueError) as exc:
        raise SourceFailed(f"could not reach the ID token issuer ({issuer}): {_http.reason(exc)}") from None
    if answer.status != 200:
        said = quote_output(answer.body.decode("utf-8", "replace"), secrets)
        raise SourceFailed(f"the ID token issuer ({issuer}) answered {answer.status}: {said}")
    try:
        value = json.loads(answer.body)[field]
    except (ValueError, KeyError, TypeError, RecursionError):
        value = None
    if not isinstance(value, str) or not value:
        raise SourceFailed(f"the ID token issuer's answer ({issuer}) has no {field}")
    return value
