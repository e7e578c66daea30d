"""Which service strings are Azure Artifacts feeds: a pure function, no I/O.

keyring asks every backend about every service string on the machine, so :func:`parse` must be
cheap and must say no to anything that is not an Azure DevOps host over https. What it accepts:

* ``https://pkgs.dev.azure.com/{org}[/{project}]/_packaging/{feed}/...`` (index, per-package,
  upload, and download URLs whose feed segment is a GUID);
* ``https://{org}.pkgs.visualstudio.com[/{project}]/_packaging/{feed}/...`` (the legacy host);
* the bare hosts ``pkgs.dev.azure.com`` and ``{org}.pkgs.visualstudio.com``, with or without
  ``https://`` (pip, uv and Poetry fall back to the host alone);
* the same shapes on Azure DevOps Server hosts the user listed in ``KEYRING_ADO_HOSTS``.

The host is judged as urllib and urllib3 (what the clients connect through) read it: the authority
ends at the first ``/``, ``?`` or ``#``, a backslash anywhere refuses the string, and user info is
ignored. The path is judged after RFC 3986 ``remove_dot_segments``, as a client requests it, so
``/contoso/_packaging/../../attacker/`` is attacker's. Everything else, ``http://`` URLs and
look-alike hosts included, gives ``None``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple
from urllib.parse import unquote

HOSTED_HOST = "pkgs.dev.azure.com"
LEGACY_SUFFIX = ".pkgs.visualstudio.com"
_PACKAGING = "_packaging"
_MAX_SERVICE_LENGTH = 4096
_ORG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_HOST_CHARS = _ORG_CHARS | {"."}


class Feed(NamedTuple):  # a NamedTuple: about 2 ms cheaper to import than a frozen dataclass
    """An Azure Artifacts location a client asked about."""

    host: str
    """The host as the client wrote it, lower case, with a port only when it is not 443."""
    organization: str | None
    """The organisation (Azure DevOps Services) or collection path (Server); None for a bare host."""
    project: str | None = None
    name: str | None = None
    """The feed name or GUID; None when the service string named no feed."""
    server: bool = False
    """True for an Azure DevOps Server host from ``KEYRING_ADO_HOSTS``: only PATs go there."""
    upload: bool = False
    path: str = ""
    """The URL path after the host, lower case, without a trailing slash."""

    @property
    def key(self) -> tuple[str, str]:
        """What credentials are cached under: one entry per organisation, whatever the host form."""
        host = self.host if self.server else "dev.azure.com"
        return host, (self.organization or "").lower()

    @property
    def entry_key(self) -> str:
        """:attr:`key` as the files on disk spell it (``host|organisation``); a file's entries for
        one sign-in add ``|identity`` after it."""
        return "|".join(self.key)

    @property
    def canonical_url(self) -> str:
        """The URL in one spelling (legacy hosts rewritten), for prefix comparisons."""
        return _canonical(self.host, self.path, server=self.server)

    def describe(self) -> str:
        """A short, secret-free name for messages: host and organisation."""
        if self.organization is None:
            return self.host
        if self.server:
            return f"{self.host}/{self.organization}"
        return f"{HOSTED_HOST}/{self.organization}"


def parse(service: object, server_hosts: frozenset[str] = frozenset()) -> Feed | None:
    """Return the feed *service* names, or None when it is not ours. Never raises."""
    if not isinstance(service, str) or not service or len(service) > _MAX_SERVICE_LENGTH:
        return None
    return _parse(service, server_hosts)


@functools.lru_cache(maxsize=512)  # clients ask about the same few strings again and again
def _parse(service: str, server_hosts: frozenset[str]) -> Feed | None:
    found = _read(service)
    if found is None:
        return None
    host, segments, _ = found
    if host == HOSTED_HOST:
        return _hosted(host, segments)
    if host.endswith(LEGACY_SUFFIX):
        return _legacy(host, segments)
    if host in server_hosts:
        return _server(host, segments)
    return None


def _read(text: str, *, scheme_required: bool = False) -> tuple[str, list[str], str] | None:
    """``(host[:port], path segments, raw path)`` of an https URL or a bare host, as a client would
    connect and request; None for anything a client would read differently or not at all."""
    if "\\" in text or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return None  # a backslash makes browsers, urllib3 and uv read a different host than urlsplit
    if scheme_required and "://" not in text:
        return None
    split = _split(text)
    if split is None:
        return None
    host = _host_port(split[0].rpartition("@")[2])  # user info never matters, and never reaches a message
    segments = _segments(split[1])
    if host is None or segments is None:
        return None
    return host, segments, split[1]


def _split(service: str) -> tuple[str, str] | None:
    """``(authority, path)`` of an https URL or a bare ``host``; None for anything else.

    The authority ends at the first ``/``, ``?`` or ``#`` (RFC 3986, and what urllib and urllib3
    connect to), so ``https://evil.example?@pkgs.dev.azure.com/`` is evil.example's. The path loses
    its query and fragment."""
    scheme, sep, rest = service.partition("://")
    if not sep:
        if any(ch in service for ch in "/?#"):
            return None  # a bare host only: a client never connects to "host/path" without a scheme
        return service, ""
    if scheme.lower() != "https":
        return None
    end = min((i for i in (rest.find(ch) for ch in "/?#") if i >= 0), default=len(rest))
    netloc, after = rest[:end], rest[end:]
    path = after[: min((i for i in (after.find(ch) for ch in "?#") if i >= 0), default=len(after))]
    return netloc, path


def _segments(path: str) -> list[str] | None:
    """The non-empty path segments after RFC 3986 ``remove_dot_segments``, as a client would send
    them; None when a segment is a dot segment in disguise (``%2e%2e``), hides a ``/``, or is empty
    before the last (``a//b``)."""
    out: list[str] = []
    pieces = path[1:].split("/") if path.startswith("/") else path.split("/") if path else []
    for position, segment in enumerate(pieces):
        if not segment and position < len(pieces) - 1:
            return None  # "a//b": the server sees an empty segment we would have skipped
        if segment == "..":
            if out:
                out.pop()
        elif segment and segment != ".":
            decoded = _unquote(segment)
            if decoded in {".", ".."} or "/" in decoded or "\\" in decoded:
                return None  # servers may decode these into the path a client did not mean
            out.append(segment)
    return out


def _unquote(segment: str) -> str:
    return unquote(segment) if "%" in segment else segment


def request_url(service: str) -> str | None:
    """The URL a client requests for *service* (an https URL or a bare host), as it would send it:
    no user info, query or fragment, dot segments removed, case kept; None when it is no such URL."""
    found = _read(service)
    if found is None:
        return None
    host, segments, path = found
    trailing = "/" if path.endswith("/") and segments else ""
    return f"https://{host}/{'/'.join(segments)}{trailing}"


def canonical_prefix(url: str, server_hosts: frozenset[str] = frozenset()) -> str | None:
    """Spell a URL prefix (from a compatibility variable) the way :attr:`Feed.canonical_url` is."""
    found = _read(url.strip(), scheme_required=True)
    if found is None:
        return None
    host, segments, _ = found
    server = host in server_hosts
    if not (server or host == HOSTED_HOST or _legacy_org(host)):
        return None
    return _canonical(host, _lower_path(segments), server=server)


def has_prefix(url: str, prefix: str) -> bool:
    """True when *prefix* covers *url* at a path-segment boundary (both canonical)."""
    return url == prefix or url.startswith(prefix.rstrip("/") + "/")


def _hosted(host: str, segments: list[str]) -> Feed | None:
    if not segments:
        return Feed(host=host, organization=None)
    org = segments[0]
    if not _valid_org(org):
        return None
    return _with_feed(host, org, segments, first=1, server=False)


def _legacy(host: str, segments: list[str]) -> Feed | None:
    org = _legacy_org(host)
    if org is None:
        return None
    if not segments:
        return Feed(host=host, organization=org)
    return _with_feed(host, org, segments, first=0, server=False)


def _server(host: str, segments: list[str]) -> Feed | None:
    if not segments:
        return Feed(host=host, organization=None, server=True)
    if _PACKAGING not in segments[1:]:
        return None
    index = segments.index(_PACKAGING, 1)
    return _with_feed(host, "/".join(segments[:index]), segments, first=index, server=True)


def _with_feed(host: str, org: str, segments: list[str], *, first: int, server: bool) -> Feed | None:
    """Read ``[{project}/]_packaging/{feed}/...`` starting at ``segments[first]``."""
    rest = segments[first:]
    if rest and rest[0] == _PACKAGING:
        project = None
    elif len(rest) > 1 and rest[1] == _PACKAGING and not server:
        project, rest = rest[0], rest[1:]
    else:
        return None
    if len(rest) < 2:
        return None
    tail = [s.lower() for s in rest[2:]]
    return Feed(
        host=host,
        organization=org,
        project=project,
        name=rest[1],
        server=server,
        upload=tail[:2] == ["pypi", "upload"],
        path=_lower_path(segments),
    )


def _host_port(netloc: str) -> str | None:
    """``host`` or ``host:port`` in lower case, ``:443`` dropped; None when malformed."""
    host, colon, port = netloc.lower().partition(":")
    if colon:
        if not (port.isascii() and port.isdigit() and len(port) <= 5) or not 0 < int(port) < 65536:
            return None
        if int(port) != 443:
            host = f"{host}:{int(port)}"
    name = host.partition(":")[0]
    if not name or name[0] in ".-" or name.endswith(".") or ".." in name or not set(name) <= _HOST_CHARS:
        return None
    return host


def _legacy_org(host: str) -> str | None:
    if not host.endswith(LEGACY_SUFFIX):
        return None
    org = host[: -len(LEGACY_SUFFIX)]
    return org if _valid_org(org) else None


def _valid_org(org: str) -> bool:
    return 0 < len(org) <= 64 and org.isascii() and org[0] != "-" and set(org.lower()) <= _ORG_CHARS


def _lower_path(segments: list[str]) -> str:
    return "/" + "/".join(ascii_lower(s) for s in segments if s)


def ascii_lower(text: str) -> str:
    """*text* in lower case, ASCII letters only: ``str.lower`` folds the Kelvin sign to ``k``, so
    ``feed\u212a`` would match a prefix for ``feedk`` while the client requests ``feed%E2%84%AA``."""
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


def _canonical(host: str, path: str, *, server: bool) -> str:
    if server:
        return f"https://{host}{path}".rstrip("/")
    org = _legacy_org(host)
    if org is not None:
        path = f"/{org}{path}"
    return f"https://{HOSTED_HOST}{path}".rstrip("/")


def organization_of_collection(uri: str) -> str | None:
    """The organisation of an Azure Pipelines collection URI (``https://dev.azure.com/{org}/``
    or ``https://{org}.visualstudio.com/``); None for anything else."""
    found = _read(uri.strip(), scheme_required=True)
    if found is None:
        return None
    host, segments, _ = found
    if host == "dev.azure.com":
        org = segments[0] if segments else ""
    elif host.endswith(".visualstudio.com"):
        org = host[: -len(".visualstudio.com")]
    else:
        return None
    return org if _valid_org(org) else None
