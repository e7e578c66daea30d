"""Exchanging a person's Entra ID token for an Azure DevOps session token (``KEYRING_ADO_SESSION_TOKEN=1``).

A SelfDescribing session token carries only ``vso.packaging`` (``vso.packaging_write`` for upload
URLs) and lives four hours, so a token that leaks from a build log opens the feeds and nothing else.
It is requested from the organisation's ``X-VSS-AuthorizationEndpoint``, only when that is an https
URL on an allowlisted vssps host. Service principals and managed identities are not exchanged. Any
failure (a 400 is first retried without ``validTo``, for organisations that cap token lifetimes)
falls back to the Entra token itself, which the feeds accept too.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from . import _http
from .sources.base import Identity, Request, Source
from .token import Kind, Token, jwt_claims

if TYPE_CHECKING:
    from .feeds import Feed

_log = logging.getLogger(__name__)
LIFETIME = 4 * 3600
API = "_apis/Token/SessionTokens?tokenType=SelfDescribing&api-version=5.0-preview.1"


def scope_for(feed: Feed) -> str:
    return "vso.packaging_write" if feed.upload else "vso.packaging"


class SessionExchange(Source):
    """*source*, whose tokens for a person are exchanged for session tokens scoped to the feeds.

    Its identity is the wrapped source's with the scope added, so that a session token is
    remembered apart from the Entra token it was bought with (which, remembered under the plain
    identity, buys the other scope's without a second sign-in)."""

    def __init__(self, source: Source, *, hostname: bool = False, ca_bundle: str | None = None) -> None:
        self.source = source
        self.name, self.server_capable = source.name, source.server_capable
        self.signs_in, self.scope = source.signs_in, source.scope
        self.hostname, self.ca_bundle = hostname, ca_bundle

    def identity(self, request: Request) -> Identity | None:
        found = self.source.identity(request)
        if found is None:
            return None
        return found._replace(parts=(*found.parts, "session token", scope_for(request.feed)))

    def get_token(self, request: Request) -> Token:
        token = self.source.get_token(request)
        if not wanted(request.feed, token):
            return token
        endpoint = request.authority().session_endpoint
        return exchange(request.feed, token, endpoint, hostname=self.hostname, ca_bundle=self.ca_bundle)


def wanted(feed: Feed, token: Token) -> bool:
    """Only a person's Entra token, for a hosted organisation."""
    if feed.server or not feed.organization or token.kind is not Kind.ENTRA:
        return False
    claims = jwt_claims(token.secret)
    return not (claims.get("idtyp") == "app" or ("roles" in claims and "scp" not in claims))


def exchange(
    feed: Feed, token: Token, endpoint: str | None, *, hostname: bool = False, ca_bundle: str | None = None
) -> Token:
    """A session token for *feed* bought with *token*, or *token* itself when that does not work;
    named after this machine when *hostname*."""
    endpoint = endpoint or f"https://vssps.dev.azure.com/{feed.organization}"
    scope = scope_for(feed)
    name = f"keyring-ado on {socket.gethostname()}"[:128] if hostname else "keyring-ado"
    body: dict[str, str] = {
        "displayName": name,
        "scope": scope,
        "validTo": datetime.fromtimestamp(time.time() + LIFETIME, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for attempt in ("with validTo", "without validTo"):
        try:
            answer = _http.request(
                f"{endpoint}/{API}",
                ca_bundle,
                method="POST",
                headers={
                    "Authorization": f"Bearer {token.secret}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "X-TFS-FedAuthRedirect": "Suppress",
                },
                data=json.dumps(body).encode(),
            )
        except (OSError, ValueError) as exc:
            _log.info("keyring-ado: no session token (%s); using the Entra ID token", _http.reason(exc))
            return token
        if answer.status == 400 and attempt == "with validTo":
            body.pop("validTo")  # the organisation caps token lifetimes: let the server choose
            continue
        break
    if answer.status in {401, 403} and b"TF401444" in answer.body:
        # The person's Entra token is good, but they have never opened the organisation: Azure DevOps
        # has no profile for them there yet, and every call (the feeds too) is refused until they do.
        _log.warning(
            "keyring-ado: %s refused a session token: this account has never signed in to the organisation "
            "(TF401444); open https://dev.azure.com/%s in a browser once, signed in as the same account, then try "
            "again",
            endpoint,
            feed.organization,
        )
        return token
    session = _parse(answer.body, scope) if answer.status == 200 else None
    if session is None:
        _log.info(
            "keyring-ado: no session token (%s answered %s, or not with the %s scope asked for); "
            "using the Entra ID token",
            endpoint,
            answer.status,
            scope,
        )
        return token
    secret, expires_on = session
    _log.debug("keyring-ado: exchanged the Entra ID token for a %s session token", scope)
    return Token(secret, Kind.SESSION, source=f"{token.source}, as a {scope} session token", expires_on=expires_on)


def _parse(body: bytes, scope: str) -> tuple[str, float] | None:
    """The session token and when it expires, from vssps' answer; None unless the answer carries a
    token with exactly the scope asked for. The expiry is capped at :data:`LIFETIME` from now: a
    forged or mistaken ``validTo`` (the year 2999) must not keep a token in the caches for ever."""
    try:
        document = json.loads(body)
        secret, valid_to, granted = document["token"], document.get("validTo"), document.get("scope")
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    if not isinstance(secret, str) or not secret or not isinstance(granted, str):
        return None
    if set(granted.split()) != set(scope.split()):
        return None  # more than asked (a write scope for a read) or something else: not ours to use
    now = time.time()
    expires_on = now + 3600.0
    parsed = _timestamp(valid_to) if isinstance(valid_to, str) else None
    if parsed is not None:
        expires_on = parsed
    return secret, min(expires_on, now + LIFETIME)


_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?")


def _timestamp(text: str) -> float | None:
    """An ISO 8601 time as vssps writes it (``2026-12-03T18:40:35.1234567Z``: seven fractional
    digits, which Python 3.10's fromisoformat refuses), as seconds since the epoch."""
    match = _ISO.fullmatch(text.strip())
    if match is None:
        return None
    base, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(base + (zone or "+00:00").replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() + float(f"0.{fraction or 0}")
