"""A fake Microsoft Entra ID, and the two CI token issuers that federate with it.

Served by the same HTTPS server as the feed fake, on its own host names (the tests point
``AZURE_AUTHORITY_HOST`` at ``https://login.entra.test``), so the real msal and azure-identity code
talks to it as to the real service:

* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and ``GET /common/discovery/instance``;
* ``POST /{tenant}/oauth2/v2.0/token`` for ``client_credentials`` (a client secret, or a
  ``jwt-bearer`` client assertion issued by one of the fake issuers below), ``refresh_token`` and the
  ``device_code`` grant (``authorization_pending`` until the flow is approved);
* ``POST /{tenant}/oauth2/v2.0/devicecode``.

Access tokens are JWTs for the Azure DevOps resource, signed with this module's key, so that the
feed fake judges them as Azure DevOps does: signature, audience, tenant and time range. Entra's own
checks are made too: client assertions for their signature (a certificate registered for the app),
audience and time range; device-code polls for Entra's 5 s interval (``slow_down`` when sooner),
the code's lifetime (``expired_token``) and the person's answer (``authorization_declined``).

The issuers: GitHub Actions' ``ACTIONS_ID_TOKEN_REQUEST_URL`` (``GET``, bearer request token,
``audience`` parameter, answers ``{"value": jwt}``) and Azure Pipelines' ``SYSTEM_OIDCREQUESTURI``
(``POST ?serviceConnectionId=``, bearer job token, answers ``{"oidcToken": jwt}``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ENTRA_HOST = "login.entra.test"
GITHUB_HOST = "pipelines.actions.githubusercontent.com"  # the runner's ACTIONS_ID_TOKEN_REQUEST_URL host
PIPELINES_HOST = "dev.azure.com"  # SYSTEM_OIDCREQUESTURI: https://dev.azure.com/{org}/.../oidctoken
ADO_RESOURCE = "499b84ac-1321-427f-aa17-267ca6975798"
ASSERTION_AUDIENCE = "api://AzureADTokenExchange"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

Response = tuple[int, list[tuple[str, str]], bytes]


def _b64(data: dict[str, Any]) -> str:
    return _b64_bytes(json.dumps(data).encode())


def _b64_bytes(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.cache
def signing_key() -> rsa.RSAPrivateKey:
    """The fake Entra ID's token-signing key: one per test process, shared by every FakeEntra and by
    the fake az's tokens, so a resource (the feed fake) can check a token's signature as Azure
    DevOps checks Entra's, without a registry of what was handed out."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_jwt(claims: dict[str, Any]) -> str:
    """A JWT signed (RS256) with :func:`signing_key`: what the fake Entra ID issues."""
    signed = f"{_b64({'typ': 'JWT', 'alg': 'RS256', 'kid': 'fake'})}.{_b64(claims)}"
    signature = signing_key().sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{_b64_bytes(signature)}"


def claims_of(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(_unb64(token.split(".")[1]))
    return decoded


def verified_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT the fake Entra ID signed, or None (not a JWT, or another signature).
    Only the signature: the audience, tenant and times are the resource's to judge."""
    try:
        header, payload, signature = token.split(".")
        if json.loads(_unb64(header)).get("alg") != "RS256":
            return None
        signing_key().public_key().verify(
            _unb64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        claims = json.loads(_unb64(payload))
    except (ValueError, InvalidSignature, binascii.Error, AttributeError):
        return None
    return claims if isinstance(claims, dict) else None


def within_time_range(claims: dict[str, Any], now: float | None = None) -> bool:
    """``nbf`` (when present) has come and ``exp`` has not, as Entra ID and Azure DevOps judge a JWT."""
    now = time.time() if now is None else now
    expires, not_before = claims.get("exp"), claims.get("nbf", 0)
    if not (isinstance(expires, int | float) and isinstance(not_before, int | float)):
        return False
    return not_before <= now < expires


@dataclass
class DeviceFlow:
    client_id: str
    tenant: str
    scope: str
    polls_before_approval: int
    interval: int
    """Seconds the client must leave between polls; each ``slow_down`` adds five, as Entra does."""
    expires_at: float
    """``time.monotonic()`` after which the code has expired."""
    slow_downs: int = 0
    """``slow_down`` answers still to give, before anything else."""
    declined: bool = False
    polls: int = 0
    last_poll: float | None = None


@dataclass
class FakeEntra:
    """Tenants, applications, federated issuers, one user, and what was asked."""

    tenant: str
    secrets: dict[str, str] = field(default_factory=dict)  # client id -> client secret
    federated: set[str] = field(default_factory=set)  # client ids that accept our fake assertions
    certificate_clients: set[str] = field(default_factory=set)  # client ids that sign their own assertions
    issued: dict[str, dict[str, Any]] = field(default_factory=dict)  # access token -> claims
    assertions: set[str] = field(default_factory=set)  # assertions our fake issuers handed out
    flows: dict[str, DeviceFlow] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # auth code -> the authorize request
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # rt -> (client, tenant)
    log: list[dict[str, str]] = field(default_factory=list)
    github_request_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    pipelines_job_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token_lifetime: int = 3599
    #: Public client applications registered in the tenant: Azure Artifacts' (keyring-ado's default)
    #: and the Azure CLI's. A sign-in by any other client id is refused (AADSTS700016), as Entra does.
    public_clients: set[str] = field(
        default_factory=lambda: {"d5a56ea4-7369-46b8-a538-c370805301bf", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"}
    )
    polls_before_approval: int = 2
    #: ``(error, description)`` Entra answers a device-code poll with after the first pending one:
    #: a refusal (declined, Conditional Access) instead of the person completing the sign-in.
    device_refusal: tuple[str, str] | None = None
    #: The polling ``interval`` a device flow is started with, in seconds: Entra's 5. A poll sooner
    #: than that after the previous one is answered ``slow_down`` (and the interval grows by 5 s).
    #: Tests that need speed lower it where the fake is built (tests/conftest.py), nowhere else.
    device_interval: int = 5
    #: The device code's lifetime (``expires_in``); a poll after it gets ``expired_token``.
    device_expires_in: int = 900
    #: How many ``slow_down`` answers each new flow starts with (Entra under load): the client must
    #: then wait the longer interval (``device_interval`` + 5 s for each) before polling again.
    device_slow_down: int = 0
    #: The person declines the sign-in in the browser: the poll after the pending ones gets
    #: ``authorization_declined`` and the flow is over.
    device_declined: bool = False
    #: Every device-code poll: ``(device code, time.monotonic(), what was answered)``.
    device_polls: list[tuple[str, float, str]] = field(default_factory=list)
    #: Certificate clients' registered certificates: client id -> {thumbprint -> public key}, the
    #: thumbprint as an assertion's ``x5t`` (SHA-1) or ``x5t#S256`` header carries it.
    certificates: dict[str, dict[str, Any]] = field(default_factory=dict)
    failing: int = 0  # answer this many token requests with 500
    garbage: int = 0  # answer this many token requests with a 200 that is not JSON
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- set-up ---------------------------------------------------------------------------
    def add_secret_client(self) -> tuple[str, str]:
        client_id, secret = str(uuid.uuid4()), secrets.token_urlsafe(30)
        self.secrets[client_id] = secret
        return client_id, secret

    def add_federated_client(self) -> str:
        client_id = str(uuid.uuid4())
        self.federated.add(client_id)
        return client_id

    def add_certificate_client(self, certificate_pem: bytes) -> str:
        """An application whose credential is the certificate in *certificate_pem* (the app
        registration's "Certificates" list): its assertions must be signed with that key."""
        client_id = str(uuid.uuid4())
        self.register_certificate(client_id, certificate_pem)
        return client_id

    def register_certificate(self, client_id: str, certificate_pem: bytes) -> None:
        """Upload one more certificate to *client_id*'s registration (a rotation keeps both)."""
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        keys = self.certificates.setdefault(client_id, {})
        for algorithm in (hashes.SHA1(), hashes.SHA256()):  # noqa: S303 - x5t is SHA-1 by definition
            keys[_b64_bytes(certificate.fingerprint(algorithm))] = certificate.public_key()
        self.certificate_clients.add(client_id)

    def issue_assertion(
        self,
        subject: str,
        issuer: str = "https://token.actions.githubusercontent.com",
        *,
        audience: str = ASSERTION_AUDIENCE,
        lifetime: int = 600,
        not_before: int | None = None,
    ) -> str:
        """A federated assertion from one of the fake issuers (*lifetime* may be negative: expired)."""
        now = int(time.time())
        claims = {"iss": issuer, "sub": subject, "aud": audience, "iat": now,
                  "nbf": now if not_before is None else not_before, "exp": now + lifetime}  # fmt: skip
        token = make_jwt(claims)
        self.assertions.add(token)
        return token

    def user_access_token(self) -> str:
        """An access token for Alice, as az would hold after `az login` (a person, not an app)."""
        scope = f"{ADO_RESOURCE}/.default"
        token: str = self._user_tokens(self.tenant, "04b07795-8ddb-461a-bbee-02f9e1bf7b46", scope)["access_token"]
        return token

    def valid_for(self, token: str, tenant: str) -> bool:
        """True for an unexpired access token issued here for Azure DevOps in *tenant*."""
        claims = self.issued.get(token)
        return (
            bool(claims) and claims["aud"] == ADO_RESOURCE and claims["tid"] == tenant and claims["exp"] > time.time()
        )

    def grants(self, grant_type: str | None = None) -> list[dict[str, str]]:
        with self.lock:
            return [entry for entry in self.log if grant_type is None or entry.get("grant_type") == grant_type]

    # --- HTTP -----------------------------------------------------------------------------
    def handle(self, method: str, host: str, target: str, headers: Any, body: bytes) -> Response:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()} if body else {}
        if host == GITHUB_HOST:
            return self._github(method, query, headers)
        if host == PIPELINES_HOST:
            return self._pipelines(method, query, headers)
        segments = [s for s in parts.path.split("/") if s]
        with self.lock:
            self.log.append(
                {"method": method, "path": parts.path, **{k: form[k] for k in ("grant_type", "client_id") if k in form}}
            )
        if segments[-3:] == ["v2.0", ".well-known", "openid-configuration"]:
            return self._openid(host, segments[0])
        if segments[:3] == ["common", "discovery", "instance"]:
            return _json(200, {"tenant_discovery_endpoint": f"https://{host}/common/v2.0/.well-known/openid-configuration",
                               "api-version": "1.1", "metadata": []})  # fmt: skip
        if method == "GET" and segments[1:] == ["oauth2", "v2.0", "authorize"]:
            return self._authorize(query)
        if method == "POST" and segments[1:] == ["oauth2", "v2.0", "devicecode"]:
            return self._devicecode(segments[0], form)
        if method == "POST" and segments[1:] == ["oauth2", "v2.0", "token"]:
            if self.failing:
                self.failing -= 1
                return _json(500, {"error": "server_error", "error_description": "AADSTS90033: fake outage"})
            if self.garbage:
                self.garbage -= 1
                return (
                    200,
                    [("Content-Type", "text/html")],
                    b"<html><body>Sign-in is down for maintenance</body></html>",
                )
            return self._token(host, segments[0], form)
        return _json(404, {"error": "not_found"})

    def approve_all(self) -> None:
        for flow in self.flows.values():
            flow.polls_before_approval = 0

    def decline_all(self) -> None:
        """The person declines every sign-in waiting for them."""
        for flow in self.flows.values():
            flow.declined = True

    def _openid(self, host: str, tenant: str) -> Response:
        base = f"https://{host}/{tenant}"
        return _json(
            200,
            {
                "issuer": f"https://{host}/{self.tenant}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "tenant_region_scope": "WW",
            },
        )

    def _authorize(self, query: dict[str, str]) -> Response:
        """The browser's stop: Alice is signed in already, so a code comes straight back (as JSON;
        the tests' fake browser then posts it to the redirect URI, as Entra's form_post page would)."""
        if query.get("code_challenge_method") != "S256" or not query.get("redirect_uri", "").startswith(
            "http://localhost"
        ):
            return _error(400, "invalid_request", "AADSTS50011: The redirect URI or PKCE parameters are wrong.")
        code = secrets.token_urlsafe(24)
        self.codes[code] = query
        return _json(200, {"code": code, "state": query.get("state", ""), "redirect_uri": query["redirect_uri"]})

    def _devicecode(self, tenant: str, form: dict[str, str]) -> Response:
        unknown = self._unknown_public_client(form.get("client_id", ""))
        if unknown is not None:
            return unknown
        device_code = secrets.token_urlsafe(24)
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(9))
        self.flows[device_code] = DeviceFlow(
            form.get("client_id", ""),
            tenant,
            form.get("scope", ""),
            self.polls_before_approval,
            interval=self.device_interval,
            expires_at=time.monotonic() + self.device_expires_in,
            slow_downs=self.device_slow_down,
            declined=self.device_declined,
        )
        return _json(
            200,
            {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": self.device_expires_in,
                "interval": self.device_interval,
                "message": f"To sign in, use a web browser to open the page https://microsoft.com/devicelogin "
                f"and enter the code {user_code} to authenticate.",
            },
        )

    def _token(self, host: str, tenant: str, form: dict[str, str]) -> Response:
        grant = form.get("grant_type")
        client_id = form.get("client_id", "")
        scope = form.get("scope", "")
        if grant == DEVICE_CODE_GRANT and form.get("device_code") in self.flows:
            scope = scope or self.flows[form["device_code"]].scope
        asked = set(scope.split()) - {"offline_access", "openid", "profile"}
        if asked != {f"{ADO_RESOURCE}/.default"}:  # exactly Azure DevOps, not a scope that merely contains it
            return _error(
                400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid."
            )
        if grant == "client_credentials":
            return self._client_credentials(host, tenant, client_id, scope, form)
        if grant in {DEVICE_CODE_GRANT, "authorization_code", "refresh_token"}:
            unknown = self._unknown_public_client(client_id)
            if unknown is not None:
                return unknown
        if grant == DEVICE_CODE_GRANT:
            return self._device_code_grant(tenant, client_id, scope, form)
        if grant == "authorization_code":
            asked = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).decode().rstrip("=")
            if asked is None or asked.get("client_id") != client_id or asked.get("code_challenge") != challenge:
                return _error(400, "invalid_grant", "AADSTS70000: The authorization code is invalid.")
            granted = self._user_tokens(tenant, client_id, scope or asked.get("scope", ""), nonce=asked.get("nonce"))
            return _json(200, granted)
        if grant == "refresh_token":
            known = self.refresh_tokens.get(form.get("refresh_token", ""))
            if known is None or known[0] != client_id:
                return _error(400, "invalid_grant", "AADSTS700082: The refresh token has expired.")
            return _json(200, self._user_tokens(tenant, client_id, scope))
        return _error(400, "unsupported_grant_type", f"AADSTS70003: grant type {grant} is not supported.")

    def _device_code_grant(self, tenant: str, client_id: str, scope: str, form: dict[str, str]) -> Response:
        code = form.get("device_code", "")
        answer = self._device_poll(code, client_id)
        with self.lock:
            self.device_polls.append((code, time.monotonic(), answer[0] if answer else "granted"))
        if answer is not None:
            return _error(400, *answer)
        del self.flows[code]
        return _json(200, self._user_tokens(tenant, client_id, scope))

    def _device_poll(self, code: str, client_id: str) -> tuple[str, str] | None:
        """Entra's answer to one device-code poll: ``(error, description)``, or None to grant it."""
        flow = self.flows.get(code)
        now = time.monotonic()
        if flow is None:
            return "expired_token", "AADSTS70019: Verification code expired."
        if flow.client_id != client_id:  # a device code is bound to the application that started it
            return "invalid_grant", "AADSTS70000: The device code was issued to another application."
        if now >= flow.expires_at:  # the code's expires_in has passed, whatever the person did
            del self.flows[code]
            return "expired_token", "AADSTS70019: Verification code expired."
        too_soon = flow.last_poll is not None and now - flow.last_poll < flow.interval
        flow.last_poll = now
        if not too_soon and flow.slow_downs > 0:
            flow.slow_downs -= 1  # the knob: Entra asks for patience whatever the client did
            too_soon = True
        if too_soon:
            flow.interval += 5  # RFC 8628 3.5: every slow_down adds five seconds to the interval
            return "slow_down", f"Poll no more often than every {flow.interval} seconds."
        flow.polls += 1
        if self.device_refusal is not None and flow.polls > 1:
            del self.flows[code]
            return self.device_refusal
        if flow.polls <= flow.polls_before_approval:
            return "authorization_pending", "AADSTS70016: Pending end-user authorization."
        if flow.declined:
            del self.flows[code]
            return "authorization_declined", "AADSTS70000: The user declined to authorize the sign-in."
        return None

    def _client_credentials(self, host: str, tenant: str, client_id: str, scope: str, form: dict[str, str]) -> Response:
        if tenant in {"organizations", "common", "consumers"}:
            return _error(
                400,
                "invalid_request",
                f"AADSTS90002: Tenant '{tenant}' not found; an application signs in to its own tenant.",
            )
        if scope.strip() != f"{ADO_RESOURCE}/.default":
            return _error(400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid.")
        refused = self._client_refused(f"https://{host}/{tenant}/oauth2", client_id, form)
        return refused or _json(200, self._access(tenant, client_id, app=True))

    def _unknown_public_client(self, client_id: str) -> Response | None:
        if client_id in self.public_clients:
            return None
        return _error(
            400,
            "unauthorized_client",
            f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory 'Contoso'.",
        )

    def _client_refused(self, endpoint: str, client_id: str, form: dict[str, str]) -> Response | None:
        """Why Entra refuses the client's proof (*endpoint*: the tenant's ``…/oauth2``), or None."""
        assertion = form.get("client_assertion", "")
        if form.get("client_assertion_type") == JWT_BEARER and client_id in self.certificate_clients:
            return self._certificate_refused(endpoint, client_id, assertion)
        if form.get("client_assertion_type") == JWT_BEARER:
            if client_id not in self.federated or assertion not in self.assertions:
                return _error(401, "invalid_client", "AADSTS700213: No matching federated identity record found.")
            claims = claims_of(assertion)
            if claims.get("aud") != ASSERTION_AUDIENCE:
                return _error(
                    401,
                    "invalid_client",
                    f"AADSTS700212: No matching federated identity record found for presented assertion audience "
                    f"'{claims.get('aud')}'.",
                )
            if not within_time_range(claims):
                return _error(
                    401, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range."
                )
            return None
        if self.secrets.get(client_id) != form.get("client_secret"):
            return _error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        return None

    def _certificate_refused(self, endpoint: str, client_id: str, assertion: str) -> Response | None:
        """A certificate assertion (RFC 7523, as msal builds it): signed RS256 or PS256 with a key
        registered for the app (found by its ``x5t#S256`` or ``x5t`` thumbprint), ``iss`` and ``sub``
        both the app, ``aud`` the tenant's token endpoint, and within its time range."""
        try:
            header_part, payload_part, signature_part = assertion.split(".")
            header, claims = json.loads(_unb64(header_part)), json.loads(_unb64(payload_part))
            signature = _unb64(signature_part)
        except (ValueError, binascii.Error):
            header = claims = None
        if not (isinstance(header, dict) and isinstance(claims, dict)):
            return _error(401, "invalid_client", "AADSTS50027: JWT token is invalid or malformed.")
        registered = self.certificates.get(client_id, {})
        thumbprints = [str(header.get(name, "")).rstrip("=") for name in ("x5t#S256", "x5t")]  # msal pads them
        key = next((registered[t] for t in thumbprints if t in registered), None)
        if key is None:
            return _error(
                401,
                "invalid_client",
                "AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was not found.]",
            )
        algorithm = str(header.get("alg"))
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size)
        scheme = {"RS256": padding.PKCS1v15(), "PS256": pss}.get(algorithm)
        try:
            verified = (
                scheme is not None
                and key.verify(signature, f"{header_part}.{payload_part}".encode(), scheme, hashes.SHA256()) is None
            )
        except InvalidSignature:
            verified = False
        if not verified:
            return _error(401, "invalid_client", "AADSTS700027: Client assertion failed signature validation.")
        if not claims.get("iss") == claims.get("sub") == client_id:  # a certificate assertion names the app twice
            return _error(
                401,
                "invalid_client",
                "AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter.",
            )
        if claims.get("aud") not in {f"{endpoint}/v2.0/token", f"{endpoint}/token"}:
            return _error(
                401, "invalid_client", "AADSTS700023: Client assertion audience claim does not match Realm issuer."
            )
        if not within_time_range(claims):
            return _error(401, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range.")
        return None

    def _access(self, tenant: str, client_id: str, *, app: bool) -> dict[str, Any]:
        tid = self.tenant if tenant in {"organizations", "common"} else tenant
        now = int(time.time())
        claims = {
            "aud": ADO_RESOURCE,
            "iss": f"https://sts.windows.net/{tid}/",
            "tid": tid,
            "appid": client_id,
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id if app else "alice")),
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "uti": secrets.token_urlsafe(16),  # Entra's unique token identifier: no two tokens alike
            **({"idtyp": "app", "roles": []} if app else {"scp": "user_impersonation", "upn": "alice@contoso.test"}),
        }
        token = make_jwt(claims)
        with self.lock:
            self.issued[token] = claims
        return {"token_type": "Bearer", "expires_in": self.token_lifetime, "ext_expires_in": self.token_lifetime,
                "access_token": token}  # fmt: skip

    def _user_tokens(self, tenant: str, client_id: str, scope: str, nonce: str | None = None) -> dict[str, Any]:
        tid = self.tenant if tenant in {"organizations", "common"} else tenant
        response = self._access(tenant, client_id, app=False)
        refresh = secrets.token_urlsafe(40)
        self.refresh_tokens[refresh] = (client_id, tid)
        now = int(time.time())
        id_claims = {"aud": client_id, "iss": f"https://{ENTRA_HOST}/{tid}/v2.0", "tid": tid, "oid": "alice-oid",
                     "sub": "alice-sub", "preferred_username": "alice@contoso.test", "name": "Alice",
                     "iat": now, "exp": now + 3600}  # fmt: skip
        if nonce:
            id_claims["nonce"] = nonce  # msal checks it against the one it sent to /authorize
        id_token = make_jwt(id_claims)
        granted = " ".join(s for s in scope.split() if s not in {"offline_access", "openid", "profile"})
        response.update(
            {
                "scope": granted,
                "refresh_token": refresh,
                "id_token": id_token,
                "client_info": _b64({"uid": "alice-oid", "utid": tid}),
            }
        )
        return response

    def _github(self, method: str, query: dict[str, str], headers: Any) -> Response:
        if method != "GET" or headers.get("Authorization") != f"Bearer {self.github_request_token}":
            return _json(401, {"message": "Unauthorized"})
        if query.get("audience") != ASSERTION_AUDIENCE:
            return _json(400, {"message": "audience must be api://AzureADTokenExchange"})
        return _json(200, {"value": self.issue_assertion("repo:contoso/app:ref:refs/heads/main")})

    def _pipelines(self, method: str, query: dict[str, str], headers: Any) -> Response:
        authorization = headers.get("Authorization") or ""
        if (
            method != "POST"
            or authorization != f"Bearer {self.pipelines_job_token}"
            or not query.get("serviceConnectionId")
        ):
            return _json(401, {"message": "TF400813: Unauthorized"})
        subject = f"sc://contoso/app/{query['serviceConnectionId']}"
        return _json(200, {"oidcToken": self.issue_assertion(subject, "https://vstoken.dev.azure.com/fake")})


def _json(status: int, document: dict[str, Any]) -> Response:
    return status, [("Content-Type", "application/json; charset=utf-8")], json.dumps(document).encode()


def _error(status: int, error: str, description: str) -> Response:
    codes = [int(description.removeprefix("AADSTS").partition(":")[0])] if description.startswith("AADSTS") else []
    return _json(status, {"error": error, "error_description": description, "error_codes": codes,
                          "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ"), "trace_id": str(uuid.uuid4()),
                          "correlation_id": str(uuid.uuid4())})  # fmt: skip
