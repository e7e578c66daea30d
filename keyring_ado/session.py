"""Exchanging a person's Entra ID token for an Azure DevOps session token (``KEYRING_ADO_SESSION_TOKEN=1``).

A SelfDescribing session token carries only ``vso.packaging`` (``vso.packaging_write`` for upload
URLs) and lives four hours, so a token that leaks from a build log opens the feeds and nothing else.
It is requested from the organisation's ``X-VSS-AuthorizationEndpoint``, only when that is an https
URL on an allowlisted vssps host. Service principals and managed identities are not exchanged. Any
failure (a 400 is first retried without ``validTo``, for organisations that cap token lifetimes)
falls back to the Entra token itself, which the feeds accept too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from . import _http
from .credential import Kind, Token, jwt_claims

if TYPE_CHECKING:
    from .feeds import Feed
    from .settings import Settings

_log = logging.getLogger(__name__)
LIFETIME = 4 * 3600
API = "_apis/Token/SessionTokens?tokenType=SelfDescribing&api-version=5.0-preview.1"


def scope_for(feed: Feed) -> str:
    return "vso.packaging_write" if feed.upload else "vso.packaging"


def wanted(feed: Feed, token: Token, settings: Settings) -> bool:
    """Only a person's Entra token, for a hosted organisation, when the user asked for it."""
    if not settings.session_token or feed.server or not feed.organization or token.kind is not Kind.ENTRA:
        return False
    claims = jwt_claims(token.secret)
    return not (claims.get("idtyp") == "app" or ("roles" in claims and "scp" not in claims))


def exchange(feed: Feed, token: Token, settings: Settings, endpoint: str | None) -> Token:
    """A session token for *feed* bought with *token*, or *token* itself when that does not work."""
    endpoint = endpoint or f"https://vssps.dev.azure.com/{feed.organization}"
    scope = scope_for(feed)
    body: dict[str, str] = {
        "displayName": f"keyring-ado on {socket.gethostname()}"[:128],
        "scope": scope,
        "validTo": datetime.fromtimestamp(time.time() + LIFETIME, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for attempt in ("with validTo", "without validTo"):
        try:
            answer = _http.request(
                f"{endpoint}/{API}",
                settings,
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
    session = _parse(answer.body) if answer.status == 200 else None
    if session is None:
        _log.info("keyring-ado: no session token (%s answered %s); using the Entra ID token", endpoint, answer.status)
        return token
    secret, expires_on = session
    _log.debug("keyring-ado: exchanged the Entra ID token for a %s session token", scope)
    return Token(secret, Kind.SESSION, source=f"{token.source}, as a {scope} session token", expires_on=expires_on)


def _parse(body: bytes) -> tuple[str, float] | None:
    try:
        document = json.loads(body)
        secret, valid_to = document["token"], document.get("validTo")
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(secret, str) or not secret:
        return None
    expires_on = time.time() + 3600.0
    if isinstance(valid_to, str):
        with contextlib.suppress(ValueError):
            expires_on = datetime.fromisoformat(valid_to.replace("Z", "+00:00")).timestamp()
    return secret, expires_on
