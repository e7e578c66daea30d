"""A local HTTPS fake of Azure Artifacts' PyPI endpoints, shaped after the real service.

* ``/{org}[/{project}]/_packaging/{feed}/pypi/simple/`` and ``.../simple/{name}/`` (PEP 503 HTML,
  download links under the feed's GUID, as the real service writes them);
* ``/{org}[/{project}]/_packaging/{feed-guid}/pypi/download/{name}/{version}/{file}``;
* ``POST .../pypi/upload/`` (twine's multipart form; the file joins the feed);
* the same on ``{org}.pkgs.visualstudio.com``.

A request without credentials gets the 401 the real service sends (Bearer ``authorization_uri``,
Basic realm, TFS-Federated, ``X-VSS-ResourceTenant``, ``X-VSS-AuthorizationEndpoint``); a wrong
credential gets 401 with ``X-VSS-AuthenticateError: InvalidToken`` and a TF400813 body. A JWT is
judged as Azure DevOps judges an Entra ID token, by itself: signed by the fake Entra ID, audience
Azure DevOps, the organisation's tenant, within its time range (registering one opens nothing).
Other secrets (PATs, job and session tokens) open an organisation only when a test registered them
for it, with any user name. Hosts that are not Azure DevOps (look-alikes) answer 401 to everything.
Every request is recorded.

The service's other faces, per organisation or host: a GET of an organisation URL (not a feed's
PyPI API) without ``X-TFS-FedAuthRedirect: Suppress`` is sent to a sign-in page (302);
organisations backed by personal Microsoft accounts (``msa_orgs``) challenge with a bare Bearer and
the all-zero tenant and send an Entra token to the sign-in page too; an Azure DevOps Server host
(``server_hosts``) challenges with Windows authentication and Basic, names no tenant, and refuses
Entra tokens; and ``never_signed_in`` organisations answer a person's Entra token with TF401444.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import html
import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.entra import ADO_RESOURCE, verified_claims, within_time_range

HOSTED = "pkgs.dev.azure.com"
LEGACY_SUFFIX = ".pkgs.visualstudio.com"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@dataclass
class Recorded:
    method: str
    host: str
    path: str
    authorization: str | None
    secret: str | None
    status: int = 0


@dataclass
class FeedState:
    guid: str
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # normalized name -> file -> bytes


def normalize(name: str) -> str:
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


class FakeArtifacts:
    """The state behind the server: organisations, accepted secrets, feeds, and what arrived."""

    def __init__(self, server_hosts: tuple[str, ...] = ()) -> None:
        self.accepted: dict[str, set[str]] = {}
        self.feeds: dict[tuple[str, str], FeedState] = {}
        self.requests: list[Recorded] = []
        self.uploads: list[tuple[str, str]] = []
        self.server_hosts = server_hosts
        self.lock = threading.Lock()
        self.public_orgs: set[str] = set()
        """Organisations whose feeds answer without credentials."""
        self.msa_orgs: set[str] = set()
        """Organisations backed by personal Microsoft accounts: bare Bearer, the all-zero tenant."""
        self.tenant_on_get_only: set[str] = set()
        """Organisations whose HEAD 401 names no tenant (only their GET does)."""
        self.entra: Any = None
        """The fake Entra ID (its tokens are judged by their signature and claims, not looked up)."""
        self.tenants: dict[str, str] = {}
        """Organisation -> the Entra tenant it is connected to (TENANT when not set)."""
        self.never_signed_in: set[str] = set()
        """Organisations the person has never opened in a browser: their Entra token gets TF401444."""
        self.other_hosts: dict[str, Any] = {}
        """Host -> an object with handle(method, host, target, headers, body) -> (status, headers, body)."""

    def accept(self, org: str, secret: str) -> None:
        """*secret* (a PAT, job or session token) opens *org*. A JWT is judged by its claims alone."""
        self.accepted.setdefault(org.lower(), set()).add(secret)

    def tenant_of(self, org: str) -> str:
        return self.tenants.get(org.lower(), TENANT)

    def add_feed(self, org: str, feed: str) -> FeedState:
        return self.feeds.setdefault((org.lower(), feed.lower()), FeedState(guid=str(uuid.uuid4())))

    def add_file(self, org: str, feed: str, name: str, filename: str, content: bytes) -> None:
        self.add_feed(org, feed).files.setdefault(normalize(name), {})[filename] = content

    def reset_log(self) -> None:
        with self.lock:
            self.requests.clear()

    def received(self, host: str | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if host is None or r.host == host]

    def feed_by_segment(self, org: str, segment: str) -> FeedState | None:
        for (o, name), state in self.feeds.items():
            if o == org.lower() and segment.lower() in (name, state.guid):
                return state
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TLSServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_HEAD(self) -> None:
        self._dispatch(body=False)

    def do_GET(self) -> None:
        self._dispatch(body=True)

    def do_POST(self) -> None:
        self._dispatch(body=True)

    # --- plumbing ---------------------------------------------------------------------------
    def _dispatch(self, *, body: bool) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else b""
        host = (self.headers.get("Host") or "").lower().removesuffix(":443")
        auth = self.headers.get("Authorization")
        record = Recorded(self.command, host, self.path, auth, _secret(auth))
        with state.lock:
            state.requests.append(record)
        app = state.other_hosts.get(host)
        if app is not None:
            status, headers, content = app.handle(self.command, host, self.path, self.headers, payload)
        else:
            status, headers, content = self._route(state, host, payload, record)
        record.status = status
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(content)

    def _route(
        self, state: FakeArtifacts, host: str, payload: bytes, record: Recorded
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        parsed = _parse_location(host, self.path.split("?", 1)[0], state.server_hosts)
        if parsed is None:
            return 401, [("WWW-Authenticate", 'Basic realm="fake"')], b"Unauthorized"
        org, rest = parsed
        public = org.lower() in state.public_orgs
        if record.secret is None and not public:
            return self._unauthenticated(state, host, org, rest)
        refused = None if public else _refused(state, host, org, record.secret or "")
        if refused is not None:
            return refused
        if len(rest) < 3 or rest[0] != "_packaging" or rest[2] != "pypi":
            return 404, [], b"Not Found"
        feed = state.feed_by_segment(org, rest[1])
        if feed is None:
            return 404, [("Content-Type", "application/json")], b'{"message":"TF400100: feed not found"}'
        base = self._base(host, org, rest, feed)
        action = rest[3:]
        if action[:1] == ["simple"]:
            return self._simple(feed, action[1:], base)
        if action[:1] == ["download"] and len(action) >= 4:
            files = feed.files.get(normalize(action[1]), {})
            if action[3] in files:
                return 200, [("Content-Type", "application/octet-stream")], files[action[3]]
            return 404, [], b"Not Found"
        if action[:1] == ["upload"] and self.command == "POST":
            vssps = state.other_hosts.get("vssps.dev.azure.com")
            scope = vssps.scopes.get(record.secret or "") if vssps is not None else None
            if scope is not None and "vso.packaging_write" not in scope.split():
                return 403, [], b"TF400813: the session token may not publish"
            return self._upload(state, org, rest[1], payload)
        if action[:1] == ["upload"]:
            return 404, [], b"Not Found"  # hatch probes .../upload/%2Bsimple/<name>/
        return 404, [], b"Not Found"

    def _unauthenticated(
        self, state: FakeArtifacts, host: str, org: str, rest: list[str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """What a request without credentials gets: the challenge of the host and organisation, or,
        for a GET of an organisation URL (anything but a feed's PyPI API) that does not say
        ``X-TFS-FedAuthRedirect: Suppress``, the browser's way: a redirect to the sign-in page."""
        if host in state.server_hosts:
            return _server_challenge(host)
        feed_api = len(rest) >= 3 and rest[0] == "_packaging" and rest[2] == "pypi"
        suppressed = (self.headers.get("X-TFS-FedAuthRedirect") or "").strip().lower() == "suppress"
        if self.command == "GET" and not feed_api and not suppressed:
            return _sign_in_redirect()
        if org.lower() in state.msa_orgs:
            return _msa_challenge()
        if org.lower() in state.tenant_on_get_only and self.command == "HEAD":
            return 401, [("WWW-Authenticate", "TFS-Federated")], b""
        return _challenge(org, state.tenant_of(org))

    def _base(self, host: str, org: str, rest: list[str], feed: FeedState) -> str:
        if host.endswith(LEGACY_SUFFIX):
            return f"https://{host}/_packaging/{feed.guid}/pypi/download"
        if host in self.server.state.server_hosts:
            return f"https://{host}/{org}/_packaging/{feed.guid}/pypi/download"
        return f"https://{HOSTED}/{org}/_packaging/{feed.guid}/pypi/download"

    def _simple(self, feed: FeedState, rest: list[str], base: str) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = [("Content-Type", "text/html; charset=utf-8")]
        if not rest:
            links = "".join(f'<a href="{html.escape(n)}/">{html.escape(n)}</a>\n' for n in sorted(feed.files))
            return 200, headers, f"<!DOCTYPE html><html><body>{links}</body></html>".encode()
        files = feed.files.get(normalize(rest[0]))
        if not files:
            return 404, [], b"Not Found"
        links = []
        for filename, content in sorted(files.items()):
            version = filename.split("-")[1]
            digest = hashlib.sha256(content).hexdigest()
            href = f"{base}/{normalize(rest[0])}/{version}/{filename}#sha256={digest}"
            links.append(f'<a href="{html.escape(href)}">{html.escape(filename)}</a><br/>\n')
        page = "<!DOCTYPE html><html><head><title>Links</title></head><body>" + "".join(links) + "</body></html>"
        return 200, headers, page.encode()

    def _upload(
        self, state: FakeArtifacts, org: str, feed: str, payload: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        raw = f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode() + payload
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        fields: dict[str, str] = {}
        content, filename = b"", ""
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                filename, content = part.get_filename(), part.get_payload(decode=True) or b""
            elif isinstance(name, str):
                fields[name] = str(part.get_content())
        if not filename or "name" not in fields:
            return 400, [], b"Bad Request"
        if filename in state.add_feed(org, feed).files.get(normalize(fields["name"]), {}):
            # Azure Artifacts keeps every file forever: a second upload of one is refused.
            body = f"The feed '{feed}' already contains file '{filename}' in package '{fields['name']}'."
            return 409, [("Content-Type", "text/plain")], body.encode()
        state.add_file(org, feed, fields["name"], filename, content)
        state.uploads.append((feed, filename))
        return 200, [], b""


def _refused(state: FakeArtifacts, host: str, org: str, secret: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """Why *secret* does not open *org* on *host*, as the answer the service gives; None when it does."""
    if _is_jwt(secret):  # an Entra ID token, judged by itself
        if host in state.server_hosts:
            return _server_rejected(host)  # Azure DevOps Server has no Entra ID
        if org.lower() in state.msa_orgs:
            return _sign_in_redirect()  # an organisation of personal accounts: az tokens get the sign-in page
        claims = verified_claims(secret)
        if not (
            claims is not None
            and claims.get("aud") == ADO_RESOURCE
            and claims.get("tid") == state.tenant_of(org)
            and within_time_range(claims)
        ):
            return _rejected(org, state.tenant_of(org))
        if org.lower() in state.never_signed_in and "scp" in claims:
            return _never_signed_in(org, claims)
        return None
    if secret in state.accepted.get(org.lower(), set()):
        return None
    return _server_rejected(host) if host in state.server_hosts else _rejected(org, state.tenant_of(org))


def _is_jwt(secret: str) -> bool:
    return secret.startswith("eyJ") and secret.count(".") == 2


#: Where the service sends a browser (or a client that did not ask it not to) to sign in.
SIGN_IN_PAGE = (
    "https://spsprodweu5.vssps.visualstudio.com/_signin?realm=dev.azure.com&reply_to=https%3A%2F%2Fdev.azure.com%2F"
)


def _sign_in_redirect() -> tuple[int, list[tuple[str, str]], bytes]:
    return 302, [("Location", SIGN_IN_PAGE), ("X-VSS-E2EID", str(uuid.uuid4())), ("Content-Type", "text/html")], b""


def _server_challenge(host: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """Azure DevOps Server's 401: Windows authentication, and Basic for PATs; no tenant, no Bearer."""
    return (
        401,
        [
            ("WWW-Authenticate", "Negotiate"),
            ("WWW-Authenticate", "NTLM"),
            ("WWW-Authenticate", f'Basic realm="https://{host}/"'),
            ("X-TFS-ProcessId", str(uuid.uuid4())),
            ("X-VSS-E2EID", str(uuid.uuid4())),
            ("X-FRAME-OPTIONS", "SAMEORIGIN"),
            ("Content-Type", "text/html"),
        ],
        b"<html><body>401 - Unauthorized: Access is denied due to invalid credentials.</body></html>",
    )


def _server_rejected(host: str) -> tuple[int, list[tuple[str, str]], bytes]:
    status, headers, body = _server_challenge(host)
    return status, [*headers, ("X-VSS-AuthenticateError", "InvalidToken")], body


def _never_signed_in(org: str, claims: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """TF401444: a person whose Entra token is good, who has never opened the organisation."""
    who = f"{claims.get('tid')}\\{claims.get('upn') or claims.get('preferred_username') or claims.get('oid')}"
    body = json.dumps(
        {
            "$id": "1",
            "innerException": None,
            "message": f"TF401444: Please sign-in at least once as {who} in a web browser to enable access to "
            "the service.",
            "typeName": "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, "
            "Microsoft.TeamFoundation.Framework.Server",
            "typeKey": "UnauthorizedRequestException",
            "errorCode": 0,
            "eventId": 3000,
        }
    ).encode()
    return 401, [("Content-Type", "application/json; charset=utf-8"), ("X-VSS-E2EID", str(uuid.uuid4()))], body


def _challenge(org: str, tenant: str = TENANT) -> tuple[int, list[tuple[str, str]], bytes]:
    realm = "https://pkgsprodsu3weu.pkgs.visualstudio.com/"
    return (
        401,
        [
            ("WWW-Authenticate", f"Bearer authorization_uri=https://login.microsoftonline.com/{tenant}"),
            ("WWW-Authenticate", f'Basic realm="{realm}"'),
            ("WWW-Authenticate", "TFS-Federated"),
            ("X-TFS-ProcessId", str(uuid.uuid4())),
            ("X-VSS-ResourceTenant", tenant),
            ("X-VSS-AuthorizationEndpoint", f"https://vssps.dev.azure.com/{org}/"),
            ("X-TFS-FedAuthRealm", realm),
            ("X-TFS-FedAuthIssuer", realm),
            ("X-VSS-E2EID", str(uuid.uuid4())),
            ("Content-Type", "text/plain"),
        ],
        b"",
    )


#: The only version of the session token API the fake (like keyring-ado) speaks.
SESSION_API_VERSION = "5.0-preview.1"


class FakeVssps:
    """``POST /{org}/_apis/Token/SessionTokens`` on vssps.dev.azure.com: a person's Entra token in,
    a scoped session token out, which the feed then accepts (uploads only with the write scope)."""

    def __init__(self, state: FakeArtifacts) -> None:
        self.state = state
        self.scopes: dict[str, str] = {}
        self.caps_lifetime = False
        self.lifetime = 3600  # what the service grants without validTo, in its format (7 fraction digits)
        self.forged: dict[str, Any] = {}  # fields a forged or broken answer carries instead
        self.requests: list[dict[str, Any]] = []

    def handle(
        self, method: str, host: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        segments = [s for s in target.partition("?")[0].split("/") if s]
        bearer = (headers.get("Authorization") or "").removeprefix("Bearer ")
        document = json.loads(body or b"{}")
        query = {k: v[0] for k, v in parse_qs(target.partition("?")[2]).items()}
        seen = {"accept": headers.get("Accept"), "suppress": headers.get("X-TFS-FedAuthRedirect")}
        self.requests.append({"path": target, "body": document, "bearer": bearer, "query": query, **seen})
        if method != "POST" or segments[1:] != ["_apis", "Token", "SessionTokens"]:
            return 404, [], b"Not Found"
        if headers.get("X-TFS-FedAuthRedirect") != "Suppress":  # as the feed: a browser's sign-in page
            return 302, [("Location", "https://spsprodweu5.vssps.visualstudio.com/_signin?realm=dev.azure.com")], b""
        if query.get("api-version") != SESSION_API_VERSION or query.get("tokenType") != "SelfDescribing":
            return 400, [("Content-Type", "application/json")], b'{"message":"VS800006: api-version or tokenType"}'
        if "application/json" not in (headers.get("Accept") or ""):
            return 203, [("Content-Type", "text/html")], b"<html>Azure DevOps Services | Sign In</html>"
        claims = verified_claims(bearer)
        valid = (
            claims is not None
            and claims.get("aud") == ADO_RESOURCE
            and claims.get("tid") == self.state.tenant_of(segments[0])
            and within_time_range(claims)
        )
        if claims is None or not valid or claims.get("idtyp") == "app":
            return 401, [("Content-Type", "application/json")], b'{"message":"TF400813: not authorized"}'
        if segments[0].lower() in self.state.never_signed_in:
            return _never_signed_in(segments[0], claims)
        if self.caps_lifetime and "validTo" in document:
            return 400, [("Content-Type", "application/json")], b'{"message":"VS403494: lifetime exceeds the maximum"}'
        token = "sess" + uuid.uuid4().hex + uuid.uuid4().hex
        self.scopes[token] = document.get("scope", "")
        self.state.accept(segments[0], token)
        granted = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + self.lifetime)) + ".1234567Z"
        answer = {"token": token, "scope": document.get("scope"), "validTo": granted,
                  "authorizationId": str(uuid.uuid4()), "displayName": document.get("displayName"),
                  **self.forged}  # fmt: skip
        return 200, [("Content-Type", "application/json")], json.dumps(answer).encode()


def _msa_challenge() -> tuple[int, list[tuple[str, str]], bytes]:
    return (
        401,
        [
            ("WWW-Authenticate", "Bearer"),
            ("WWW-Authenticate", 'Basic realm="https://pkgsprodsu3weu.pkgs.visualstudio.com/"'),
            ("WWW-Authenticate", "TFS-Federated"),
            ("X-VSS-ResourceTenant", "00000000-0000-0000-0000-000000000000"),
            ("X-VSS-E2EID", str(uuid.uuid4())),
        ],
        b"",
    )


def _rejected(org: str, tenant: str = TENANT) -> tuple[int, list[tuple[str, str]], bytes]:
    status, headers, _ = _challenge(org, tenant)
    body = json.dumps(
        {
            "$id": "1",
            "innerException": None,
            "message": "TF400813: The user '' is not authorized to access this resource.",
            "typeName": "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException",
            "errorCode": 0,
        }
    ).encode()
    headers = [*headers, ("X-VSS-AuthenticateError", "InvalidToken")]
    headers = [(n, "application/json" if n == "Content-Type" else v) for n, v in headers]
    return status, headers, body


def _parse_location(host: str, path: str, server_hosts: tuple[str, ...]) -> tuple[str, list[str]] | None:
    """``(org, segments after the org and optional project)`` for an Azure DevOps host."""
    segments = [s for s in path.split("/") if s]
    if host.endswith(LEGACY_SUFFIX) and "." not in host.removesuffix(LEGACY_SUFFIX):
        org = host.removesuffix(LEGACY_SUFFIX)
    elif (host == HOSTED or host in server_hosts) and segments:
        org, segments = segments[0], segments[1:]
    else:
        return None
    if segments and segments[0] != "_packaging" and len(segments) > 1 and segments[1] == "_packaging":
        segments = segments[1:]  # project-scoped feed
    return org, segments


def _secret(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip()).decode()
    except ValueError:
        return None
    return decoded.partition(":")[2] or None


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeArtifacts, context: ssl.SSLContext) -> None:
        self.state = state
        self.context = context
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()


def serve(state: FakeArtifacts, context: ssl.SSLContext) -> tuple[_TLSServer, int]:
    server = _TLSServer(state, context)
    threading.Thread(target=server.serve_forever, name="fake-artifacts", daemon=True).start()
    return server, server.server_address[1]
