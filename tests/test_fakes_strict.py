"""The fakes are as strict as the services they stand for (issue 15, items 7 and 8).

Fake Entra ID: client assertions are checked for signature (certificates), audience and time range;
a device-code flow has Entra's 5 s polling interval, answers a poll that comes too soon with
``slow_down``, expires, and can be declined. Fake feed: an Entra token is judged by its signature
and claims (audience, the organisation's tenant, time range); organisations of personal accounts,
Azure DevOps Server, the sign-in redirect and TF401444 answer as the real service does.

Each test drives our code where our code is involved, so the fake's strictness is what catches a
change in ours (the mutation each one catches is named in its docstring).
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from keyring_ado import _http, discovery
from keyring_ado.errors import SourceFailed
from keyring_ado.settings import Settings
from keyring_ado.sources.service_principal import ServicePrincipalSource
from keyring_ado.sources.signin import SignInSource
from keyring_ado.sources.workload_identity import WorkloadIdentitySource
from tests.conftest import SERVER_HOST, AdoWorld
from tests.fakes import entra
from tests.fakes.artifacts import SIGN_IN_PAGE, TENANT
from tests.fakes.az import FakeAz, jwt
from tests.helpers import configured, feed, lookup, request

OTHER_TENANT = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
ZERO_TENANT = "00000000-0000-0000-0000-000000000000"


def current(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return Settings.from_environ(os.environ)


def new_org(world: AdoWorld) -> tuple[str, str]:
    """A fresh organisation with one feed, and the feed's index URL."""
    org = f"org{uuid.uuid4().hex[:8]}"
    world.state.add_feed(org, "feed")
    return org, f"https://pkgs.dev.azure.com/{org}/_packaging/feed/pypi/simple/"


def get(url: str, settings: Settings, secret: str | None = None, **headers: str) -> _http.Answer:
    """One GET, with *secret* as the Basic password when given (as pip sends it)."""
    if secret is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"VssSessionToken:{secret}".encode()).decode()
    return _http.request(url, settings.network.ca_bundle, headers=headers, timeout=10)


def token_request(world: AdoWorld, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """A POST to the fake Entra ID's token endpoint for the tests' tenant, in process."""
    body = urlencode(form).encode()
    status, _, answer = world.entra.handle("POST", entra.ENTRA_HOST, f"/{TENANT}/oauth2/v2.0/token", {}, body)
    document: dict[str, Any] = json.loads(answer)
    return status, document


# --- Entra ID: client assertions --------------------------------------------------------------


def test_a_certificate_assertion_needs_a_certificate_registered_for_the_app(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The assertion azure-identity signs is verified with the app's registered certificate: another
    key pair is refused with AADSTS700027, until it is uploaded too (a rotation). Catches our source
    signing with a certificate other than the configured one (a stale file or path)."""
    import trustme

    rsa = trustme.KeyType.RSA
    registered, other = (trustme.CA(key_type=rsa).issue_cert("sp.contoso.test", key_type=rsa) for _ in range(2))
    client_id = routed.entra.add_certificate_client(registered.cert_chain_pems[0].bytes())
    pem = tmp_path / "sp.pem"
    settings = current(
        monkeypatch, AZURE_CLIENT_ID=client_id, AZURE_TENANT_ID=TENANT, AZURE_CLIENT_CERTIFICATE_PATH=str(pem)
    )
    pem.write_bytes(other.private_key_and_cert_chain_pem.bytes())
    with pytest.raises(SourceFailed, match=r"AADSTS700027: .*The key was not found"):
        configured(ServicePrincipalSource, settings).get_token(request(feed(), settings))
    pem.write_bytes(registered.private_key_and_cert_chain_pem.bytes())
    assert routed.entra.valid_for(
        configured(ServicePrincipalSource, settings).get_token(request(feed(), settings)).secret, TENANT
    )
    routed.entra.register_certificate(client_id, other.cert_chain_pems[0].bytes())
    pem.write_bytes(other.private_key_and_cert_chain_pem.bytes())
    assert routed.entra.valid_for(
        configured(ServicePrincipalSource, settings).get_token(request(feed(), settings)).secret, TENANT
    )


def _certificate_assertion(key_pem: bytes, certificate_pem: bytes, algorithm: str, **claims: object) -> str:
    """A client assertion signed as msal signs one (RS256 with ``x5t``, or PS256 with ``x5t#S256``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    key = serialization.load_pem_private_key(key_pem, password=None)
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    if algorithm == "PS256":
        header = {"alg": "PS256", "typ": "JWT", "x5t#S256": b64(certificate.fingerprint(hashes.SHA256()))}
        scheme: Any = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size)
    else:
        header = {"alg": "RS256", "typ": "JWT", "x5t": b64(certificate.fingerprint(hashes.SHA1()))}  # noqa: S303
        scheme = padding.PKCS1v15()
    signed = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signed}.{b64(key.sign(signed.encode(), scheme, hashes.SHA256()))}"  # type: ignore[union-attr,call-arg]


@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
def test_certificate_assertions_are_checked_for_signature_audience_and_time(routed: AdoWorld, algorithm: str) -> None:
    """The fake checks what Entra checks in a certificate assertion: the signature (AADSTS700027),
    the audience, which must be the tenant's token endpoint (AADSTS700023), and the time range
    (AADSTS700024). Catches an assertion built for another authority or tenant than the one asked."""
    import trustme

    rsa = trustme.KeyType.RSA
    issued = trustme.CA(key_type=rsa).issue_cert("sp.contoso.test", key_type=rsa)
    certificate, key = issued.cert_chain_pems[0].bytes(), issued.private_key_pem.bytes()
    client_id = routed.entra.add_certificate_client(certificate)
    endpoint = f"https://{entra.ENTRA_HOST}/{TENANT}/oauth2/v2.0/token"
    now = int(time.time())
    good = {"iss": client_id, "sub": client_id, "aud": endpoint, "iat": now, "exp": now + 600, "jti": "1"}

    def answer(assertion: str) -> tuple[int, str]:
        status, document = token_request(
            routed,
            {"grant_type": "client_credentials", "client_id": client_id, "scope": f"{entra.ADO_RESOURCE}/.default",
             "client_assertion_type": entra.JWT_BEARER, "client_assertion": assertion},
        )  # fmt: skip
        return status, str(document.get("error_description", ""))

    assert answer(_certificate_assertion(key, certificate, algorithm, **good))[0] == 200
    other_tenant = {**good, "aud": f"https://{entra.ENTRA_HOST}/{OTHER_TENANT}/oauth2/v2.0/token"}
    assert answer(_certificate_assertion(key, certificate, algorithm, **other_tenant))[1].startswith("AADSTS700023")
    expired = {**good, "exp": now - 1}
    assert answer(_certificate_assertion(key, certificate, algorithm, **expired))[1].startswith("AADSTS700024")
    early = {**good, "nbf": now + 600}
    assert answer(_certificate_assertion(key, certificate, algorithm, **early))[1].startswith("AADSTS700024")
    signed = _certificate_assertion(key, certificate, algorithm, **good)
    forged = signed[: signed.rindex(".") + 1] + _certificate_assertion(key, certificate, algorithm, jti="2")[-20:]
    assert answer(forged)[1].startswith("AADSTS700027")
    assert answer(_certificate_assertion(key, certificate, algorithm, **{**good, "sub": "another-app"}))[0] == 401


@pytest.mark.parametrize(
    ("made", "code"),
    [
        ({"audience": "https://github.com/contoso"}, "AADSTS700212"),
        ({"lifetime": -60}, "AADSTS700024"),
        ({"not_before": int(time.time()) + 3600}, "AADSTS700024"),
    ],
)
def test_a_federated_assertion_is_checked_for_audience_and_time_and_the_file_is_read_again(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, made: dict[str, Any], code: str
) -> None:
    """A federated assertion for another audience (AADSTS700212) or outside its time range
    (AADSTS700024) is refused, Entra's code quoted; once the platform writes a fresh one, the same
    source uses it. Catches the assertion file being read once and kept (an expired assertion
    would then be sent for ever, as ``azure/login`` users see)."""
    client_id = routed.entra.add_federated_client()
    token_file = tmp_path / "token"
    token_file.write_text(routed.entra.issue_assertion("system:serviceaccount:build:pip", **made))
    settings = current(
        monkeypatch, AZURE_CLIENT_ID=client_id, AZURE_TENANT_ID=TENANT, AZURE_FEDERATED_TOKEN_FILE=str(token_file)
    )
    source = configured(WorkloadIdentitySource, settings)
    with pytest.raises(SourceFailed, match=code):
        source.get_token(request(feed(), settings))
    token_file.write_text(routed.entra.issue_assertion("system:serviceaccount:build:pip"))
    assert routed.entra.valid_for(source.get_token(request(feed(), settings)).secret, TENANT)


# --- Entra ID: device code --------------------------------------------------------------------


def sign_in_settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    return current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", KEYRING_ADO_TENANT=TENANT, **values)


def polls(world: AdoWorld) -> list[tuple[float, str]]:
    """The device-code polls the fake saw: when, and what it answered."""
    return [(at, answer) for _, at, answer in world.entra.device_polls]


def gaps(seen: list[tuple[float, str]]) -> list[float]:
    return [later[0] - earlier[0] for earlier, later in itertools.pairwise(seen)]


def test_our_sign_in_honours_entras_default_polling_interval(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Entra's own interval (the fake's default, 5 s) msal, as our sign-in drives it, never
    polls sooner: no ``slow_down`` is answered. Catches our sign-in shortening the interval (a poll
    loop of our own, or a flow's ``interval`` lowered before polling)."""
    default = entra.FakeEntra(tenant=TENANT).device_interval
    assert default == 5
    monkeypatch.setattr(routed.entra, "device_interval", default)
    monkeypatch.setattr(routed.entra, "polls_before_approval", 1)
    monkeypatch.setattr(routed.entra, "device_polls", [])
    token = configured(SignInSource, sign_in_settings(monkeypatch, KEYRING_ADO_SIGNIN_TIMEOUT="30")).get_token(
        request(feed(), sign_in_settings(monkeypatch, KEYRING_ADO_SIGNIN_TIMEOUT="30"))
    )
    assert routed.entra.valid_for(token.secret, TENANT)
    seen = polls(routed)
    assert [answer for _, answer in seen] == ["authorization_pending", "granted"]
    assert all(gap >= default for gap in gaps(seen)), gaps(seen)


def test_slow_down_makes_our_sign_in_wait_the_longer_interval(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entra answering ``slow_down`` once: the next poll waits the interval plus 5 s, and the sign-in
    completes. Catches a poll loop that ignores ``slow_down`` (the fake answers every early poll
    with another one, so the sign-in would never see its token)."""
    monkeypatch.setattr(routed.entra, "device_slow_down", 1)
    monkeypatch.setattr(routed.entra, "polls_before_approval", 0)
    monkeypatch.setattr(routed.entra, "device_polls", [])
    token = configured(SignInSource, sign_in_settings(monkeypatch, KEYRING_ADO_SIGNIN_TIMEOUT="30")).get_token(
        request(feed(), sign_in_settings(monkeypatch, KEYRING_ADO_SIGNIN_TIMEOUT="30"))
    )
    assert routed.entra.valid_for(token.secret, TENANT)
    seen = polls(routed)
    assert [answer for _, answer in seen] == ["slow_down", "granted"]
    assert gaps(seen)[0] >= routed.entra.device_interval + 5


def test_a_poll_sooner_than_the_interval_is_answered_slow_down(routed: AdoWorld) -> None:
    """The fake itself: two polls back to back; the second gets ``slow_down``, and the interval
    the client must keep grows by 5 s each time."""
    client = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
    form = {"client_id": client, "scope": f"{entra.ADO_RESOURCE}/.default offline_access openid profile"}
    _, _, started = routed.entra.handle(
        "POST", entra.ENTRA_HOST, f"/{TENANT}/oauth2/v2.0/devicecode", {}, urlencode(form).encode()
    )
    flow = json.loads(started)
    assert flow["interval"] == routed.entra.device_interval
    poll = {"grant_type": entra.DEVICE_CODE_GRANT, "client_id": client, "device_code": flow["device_code"]}
    answers = [token_request(routed, poll)[1]["error"] for _ in range(3)]
    assert answers == ["authorization_pending", "slow_down", "slow_down"]
    assert routed.entra.flows[flow["device_code"]].interval == flow["interval"] + 10


def test_a_device_code_expires_when_its_time_is_up(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody enters the code and its ``expires_in`` passes: Entra answers ``expired_token`` and the
    sign-in ends at once saying so, long before our own timeout. Catches ``expired_token`` being
    treated as a generic refusal or as still waiting."""
    monkeypatch.setattr(routed.entra, "device_expires_in", 2)
    monkeypatch.setattr(routed.entra, "polls_before_approval", 1000)
    started = time.monotonic()
    with pytest.raises(SourceFailed, match="code expired before it was used") as failure:
        configured(SignInSource, sign_in_settings(monkeypatch, KEYRING_ADO_SIGNIN_TIMEOUT="60")).get_token(
            request(feed(), sign_in_settings(monkeypatch, KEYRING_ADO_SIGNIN_TIMEOUT="60"))
        )
    assert 2 <= time.monotonic() - started < 10
    assert "AADSTS70019" in str(failure.value)


def test_a_declined_sign_in_says_so(routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    """The person declines in the browser: ``authorization_declined``, and our message says it was
    declined. Catches ``authorization_declined`` being reported as a generic refusal."""
    monkeypatch.setattr(routed.entra, "device_declined", True)
    monkeypatch.setattr(routed.entra, "polls_before_approval", 1)
    with pytest.raises(SourceFailed, match="was declined"):
        configured(SignInSource, sign_in_settings(monkeypatch)).get_token(
            request(feed(), sign_in_settings(monkeypatch))
        )


# --- The feed: Entra tokens -------------------------------------------------------------------


def test_the_feed_judges_an_entra_token_by_its_signature_and_claims(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audience Azure DevOps, the organisation's tenant, within its time range, signed by Entra:
    anything else is refused, and registering it for the organisation changes nothing."""
    org, url = new_org(routed)
    settings = current(monkeypatch)
    assert get(url, settings, routed.entra.user_access_token()).status == 200
    assert get(url, settings, jwt()).status == 200, "the fake az's tokens are Entra's too"
    header, payload, _ = jwt().split(".")
    refused = {
        "another resource": jwt(aud="https://management.azure.com/"),
        "another tenant": jwt(tid=OTHER_TENANT),
        "expired": jwt(lifetime=-60),
        "not yet valid": jwt(nbf=int(time.time()) + 3600),
        "not signed by Entra": f"{header}.{payload}.{base64.urlsafe_b64encode(os.urandom(256)).decode()}",
    }
    for why, token in refused.items():
        routed.state.accept(org, token)
        answer = get(url, settings, token)
        assert answer.status == 401, why
        assert answer.headers["X-VSS-AuthenticateError"] == "InvalidToken", why
    monkeypatch.setitem(routed.state.tenants, org, OTHER_TENANT)  # the organisation moves tenant
    assert get(url, settings, jwt()).status == 401
    assert get(url, settings, jwt(tid=OTHER_TENANT)).status == 200


def test_az_is_asked_for_the_organisations_tenant(
    routed: AdoWorld, fake_az: FakeAz, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An organisation in another tenant than az's account (a guest): our az source asks for that
    tenant, az signs a token for it, and the feed takes it. Catches dropping ``--tenant`` (az then
    hands out its home tenant's token) and asking for another ``--resource``: the feed refuses both."""
    org, url = new_org(routed)
    monkeypatch.setitem(routed.state.tenants, org, OTHER_TENANT)
    fake_az.configure("token", jwt())  # signed in at home, in TENANT
    settings = current(monkeypatch)
    token = lookup(feed(url), settings)
    assert token is not None
    assert get(url, settings, token.secret).status == 200
    assert entra.claims_of(token.secret)["tid"] == OTHER_TENANT
    assert fake_az.calls[0][-2:] == ["--tenant", OTHER_TENANT]


# --- The feed: the service's other faces -------------------------------------------------------


def test_an_organisation_url_sends_a_get_without_suppress_to_sign_in(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Organisation URLs answer a GET without ``X-TFS-FedAuthRedirect: Suppress`` with a 302 to
    the sign-in page; with it, or with HEAD, the 401 that names the tenant. A feed's PyPI API
    answers 401 either way (what pip sees)."""
    settings = current(monkeypatch)
    root = "https://contoso.pkgs.visualstudio.com/"
    redirected = get(root, settings)
    assert (redirected.status, redirected.headers["Location"]) == (302, SIGN_IN_PAGE)
    suppressed = get(root, settings, **{"X-TFS-FedAuthRedirect": "Suppress"})
    assert (suppressed.status, suppressed.headers["X-VSS-ResourceTenant"]) == (401, TENANT)
    assert _http.request(root, settings.network.ca_bundle, method="HEAD", timeout=10, read_body=False).status == 401
    _, url = new_org(routed)
    assert get(url, settings).status == 401


def test_an_organisation_of_personal_accounts_sends_an_entra_token_to_sign_in(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An MSA-backed organisation: a bare Bearer challenge and the all-zero tenant; an Entra token
    (as az gives) is answered with the sign-in page, a PAT opens the feed."""
    org, url = new_org(routed)
    monkeypatch.setattr(routed.state, "msa_orgs", {*routed.state.msa_orgs, org})
    settings = current(monkeypatch)
    challenge = get(url, settings)
    assert challenge.status == 401
    schemes = challenge.headers.get_all("WWW-Authenticate") or []
    assert "Bearer" in schemes
    assert not [v for v in schemes if "authorization_uri" in v]
    assert challenge.headers["X-VSS-ResourceTenant"] == ZERO_TENANT
    redirected = get(url, settings, jwt())
    assert (redirected.status, redirected.headers["Location"]) == (302, SIGN_IN_PAGE)
    routed.state.accept(org, "a-personal-access-token-0123456789")
    assert get(url, settings, "a-personal-access-token-0123456789").status == 200


def test_azure_devops_server_challenges_as_server_and_refuses_entra_tokens(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Azure DevOps Server: Negotiate, NTLM and Basic, no tenant and no Bearer in its 401; an Entra
    token is refused, a PAT opens the feed. Catches an Entra token sent to a Server host (the
    install fails) and tenant discovery reading a tenant there."""
    collection = f"col{uuid.uuid4().hex[:8]}"
    routed.state.add_feed(collection, "feed")
    url = f"https://{SERVER_HOST}/{collection}/_packaging/feed/pypi/simple/"
    settings = current(monkeypatch)
    challenge = get(url, settings)
    schemes = challenge.headers.get_all("WWW-Authenticate") or []
    assert challenge.status == 401
    assert {"Negotiate", "NTLM", f'Basic realm="https://{SERVER_HOST}/"'} <= set(schemes)
    assert not [s for s in schemes if s.startswith("Bearer")]
    assert "X-VSS-ResourceTenant" not in challenge.headers
    assert challenge.headers["X-VSS-E2EID"]
    assert discovery.parse_challenge(challenge.headers, discovery.TRUSTED_AUTHORITY_HOSTS) is None
    assert get(url, settings, routed.entra.user_access_token()).status == 401
    routed.state.accept(collection, "a-server-pat-0123456789")
    assert get(url, settings, "a-server-pat-0123456789").status == 200


def test_a_person_who_never_opened_the_organisation_gets_tf401444(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TF401444: the person's good Entra token is refused by the feed and by the session-token
    service until they open the organisation once; an application's token is not affected."""
    org, url = new_org(routed)
    monkeypatch.setattr(routed.state, "never_signed_in", {org})
    settings = current(monkeypatch)
    refused = get(url, settings, routed.entra.user_access_token())
    assert refused.status == 401
    assert b"TF401444: Please sign-in at least once as" in refused.body
    app_claims = {**entra.claims_of(jwt()), "idtyp": "app", "roles": []}
    del app_claims["scp"]
    assert get(url, settings, entra.make_jwt(app_claims)).status == 200
