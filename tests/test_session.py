"""KEYRING_ADO_SESSION_TOKEN=1: a person's Entra token exchanged for a scoped session token."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from keyring_ado import discovery
from keyring_ado.settings import Settings
from keyring_ado.token import Kind
from tests.conftest import AdoWorld
from tests.fakes import entra
from tests.fakes.artifacts import TENANT, FakeVssps
from tests.fakes.az import FakeAz
from tests.helpers import feed, lookup, new_process


def vssps(world: AdoWorld) -> FakeVssps:
    fake = world.state.other_hosts["vssps.dev.azure.com"]
    assert isinstance(fake, FakeVssps)
    return fake


def org_urls(world: AdoWorld) -> tuple[str, str, str]:
    org = f"org{uuid.uuid4().hex[:8]}"
    world.state.add_feed(org, "feed")
    base = f"https://pkgs.dev.azure.com/{org}/_packaging/feed/pypi"
    return org, f"{base}/simple/", f"{base}/upload/"


@pytest.fixture
def session_on(routed: AdoWorld, fake_az: FakeAz, monkeypatch: pytest.MonkeyPatch) -> FakeAz:
    monkeypatch.setenv("KEYRING_ADO_SESSION_TOKEN", "1")
    fake_az.configure("token", routed.entra.user_access_token())
    return fake_az


def test_read_and_write_scopes(routed: AdoWorld, session_on: FakeAz) -> None:
    """Reads get vso.packaging, uploads vso.packaging_write; both from the discovered vssps endpoint."""
    org, simple, upload = org_urls(routed)
    settings = Settings.from_environ(os.environ)
    read = lookup(feed(simple), settings)
    write = lookup(feed(upload), settings)
    assert read is not None
    assert write is not None
    assert (read.kind, write.kind) == (Kind.SESSION, Kind.SESSION)
    fake = vssps(routed)
    assert (fake.scopes[read.secret], fake.scopes[write.secret]) == ("vso.packaging", "vso.packaging_write")
    assert all(r["path"].startswith(f"/{org}/_apis/Token/SessionTokens") for r in fake.requests[-2:])
    assert len(session_on.calls) == 1, "one az token, two exchanges"


def test_lifetime_cap_retries_without_valid_to(
    routed: AdoWorld, session_on: FakeAz, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An organisation that caps lifetimes answers 400: asked again without validTo."""
    _, simple, _ = org_urls(routed)
    fake = vssps(routed)
    monkeypatch.setattr(fake, "caps_lifetime", True)  # the fake is the session's: restored after
    token = lookup(feed(simple), Settings.from_environ(os.environ))
    assert token is not None
    assert token.kind is Kind.SESSION
    assert ["validTo" in r["body"] for r in fake.requests[-2:]] == [True, False]


def test_failure_falls_back_to_the_entra_token(
    routed: AdoWorld, session_on: FakeAz, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exchange refused (here: an unknown token): the Entra token itself is used."""
    monkeypatch.setenv("KEYRING_ADO_CACHE", "off")
    _, simple, _ = org_urls(routed)
    session_on.configure("token", "eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTl9.x")
    token = lookup(feed(simple), Settings.from_environ(os.environ))
    assert token is not None
    assert token.kind is Kind.ENTRA


def test_off_by_default(routed: AdoWorld, fake_az: FakeAz) -> None:
    """Without the switch the Entra token is returned directly, and vssps is not asked."""
    _, simple, _ = org_urls(routed)
    fake_az.configure("token", routed.entra.user_access_token())
    before = len(vssps(routed).requests)
    token = lookup(feed(simple), Settings.from_environ(os.environ))
    assert token is not None
    assert token.kind is Kind.ENTRA
    assert len(vssps(routed).requests) == before


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("https://vssps.dev.azure.com/contoso/", "https://vssps.dev.azure.com/contoso"),
        ("https://app.vssps.visualstudio.com", "https://app.vssps.visualstudio.com"),
        ("https://spsprodweu5.vssps.visualstudio.com/A1b2/", "https://spsprodweu5.vssps.visualstudio.com/A1b2"),
        ("http://vssps.dev.azure.com/contoso/", None),
        ("https://vssps.dev.azure.com.evil.example/contoso/", None),
        ("https://evilvssps.dev.azure.com/contoso/", None),
        ("https://vssps.dev.azure.com:8443/contoso/", None),
        ("https://x@vssps.dev.azure.com/contoso/", None),
        ("https://vssps.dev.azure.com/contoso/extra/", None),
        ("", None),
    ],
)
def test_session_endpoint_allowlist(header: str, expected: str | None) -> None:
    """Only https on an allowlisted vssps host, one path segment at most, gets a bearer token."""
    assert discovery.session_endpoint(header) == expected


@pytest.mark.parametrize(
    "forged",
    [
        {"scope": "vso.packaging_write vso.code_write"},
        {"scope": "vso.packaging_write"},
        {"scope": None},
    ],
)
def test_a_session_token_with_another_scope_is_not_used(
    routed: AdoWorld, session_on: FakeAz, forged: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """vssps answering with a scope other than the one asked for (a write scope for a read, or
    more): the Entra token is used instead (issue 14, item 9)."""
    _, simple, _ = org_urls(routed)
    monkeypatch.setattr(vssps(routed), "forged", forged)
    token = lookup(feed(simple), Settings.from_environ(os.environ))
    assert token is not None
    assert token.kind is Kind.ENTRA


def test_a_session_tokens_expiry_is_capped_and_read_in_the_services_format(
    routed: AdoWorld, session_on: FakeAz, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validTo in the year 2999 is believed for four hours at most; a real one (seven fraction
    digits, which Python 3.10 cannot parse with fromisoformat) is read exactly."""
    import time

    _, simple, _ = org_urls(routed)
    fake = vssps(routed)
    monkeypatch.setattr(fake, "forged", {"validTo": "2999-01-01T00:00:00Z"})
    forged = lookup(feed(simple), Settings.from_environ(os.environ))
    monkeypatch.setattr(fake, "forged", {})
    assert forged is not None
    assert forged.kind is Kind.SESSION
    assert forged.expires_on is not None
    assert forged.expires_on <= time.time() + 4 * 3600 + 5
    new_process()
    _, other, _ = org_urls(routed)
    monkeypatch.setattr(fake, "lifetime", 5400)
    real = lookup(feed(other), Settings.from_environ(os.environ))
    assert real is not None
    assert real.expires_on is not None
    assert abs(real.expires_on - (time.time() + 5400)) < 30


def test_session_tokens_are_named_without_the_machine_unless_asked(
    routed: AdoWorld, session_on: FakeAz, monkeypatch: pytest.MonkeyPatch
) -> None:
    """displayName is "keyring-ado"; KEYRING_ADO_SESSION_TOKEN_HOSTNAME=1 adds this machine's name."""
    import socket

    _, simple, _ = org_urls(routed)
    fake = vssps(routed)
    assert lookup(feed(simple), Settings.from_environ(os.environ)) is not None
    assert fake.requests[-1]["body"]["displayName"] == "keyring-ado"
    assert socket.gethostname() not in json.dumps(fake.requests[-1]["body"])
    new_process()
    monkeypatch.setenv("KEYRING_ADO_SESSION_TOKEN_HOSTNAME", "1")
    _, other, _ = org_urls(routed)
    assert lookup(feed(other), Settings.from_environ(os.environ)) is not None
    assert fake.requests[-1]["body"]["displayName"] == f"keyring-ado on {socket.gethostname()}"


def test_what_is_asked_of_vssps_and_what_comes_back(routed: AdoWorld, session_on: FakeAz) -> None:
    """The exchange is one POST to the organisation's SessionTokens API at api-version
    5.0-preview.1, JSON in and out, the redirect suppressed, the person's Entra token as bearer;
    what comes back is the session token the feed accepts, scoped as asked (issue 15, item 3)."""
    org, simple, _ = org_urls(routed)
    fake = vssps(routed)
    fake.requests.clear()
    token = lookup(feed(simple), Settings.from_environ(os.environ))
    assert token is not None
    [asked] = fake.requests
    assert asked["path"].startswith(f"/{org}/_apis/Token/SessionTokens?")
    assert asked["query"] == {"tokenType": "SelfDescribing", "api-version": "5.0-preview.1"}
    assert asked["accept"] == "application/json"
    assert asked["suppress"] == "Suppress"
    assert routed.entra.valid_for(asked["bearer"], TENANT)
    assert entra.claims_of(asked["bearer"]).get("idtyp") != "app"
    assert asked["body"]["scope"] == "vso.packaging"
    assert token.kind is Kind.SESSION
    assert fake.scopes[token.secret] == "vso.packaging"
    assert token.secret in routed.state.accepted[org]


@pytest.mark.parametrize("kind", ["service principal", "managed identity"])
def test_application_tokens_are_never_exchanged(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """With KEYRING_ADO_SESSION_TOKEN=1, a service principal's or managed identity's token is used
    as it is: vssps is not asked."""
    from tests.fakes import imds

    monkeypatch.setenv("KEYRING_ADO_SESSION_TOKEN", "1")
    _, simple, _ = org_urls(routed)
    fake = vssps(routed)
    fake.requests.clear()
    if kind == "service principal":
        client_id, secret = routed.entra.add_secret_client()
        for name, value in {
            "AZURE_CLIENT_ID": client_id,
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_SECRET": secret,
        }.items():
            monkeypatch.setenv(name, value)
        token = lookup(feed(simple), Settings.from_environ(os.environ))
    else:
        server = imds.serve(routed.entra)
        try:
            port = server.server_address[1]
            monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{port}/msi/token")
            monkeypatch.setenv("IDENTITY_HEADER", imds.IDENTITY_HEADER)
            token = lookup(feed(simple), Settings.from_environ(os.environ))
        finally:
            server.shutdown()
            server.server_close()
    assert token is not None
    assert token.kind is Kind.ENTRA
    assert fake.requests == []


def test_never_signed_in_to_the_organisation_says_to_open_it_once(
    routed: AdoWorld, session_on: FakeAz, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """TF401444 (the person has never opened the organisation): one warning saying to open it in a
    browser once, naming neither the account nor the token; the Entra token is still returned."""
    import logging

    org, simple, _ = org_urls(routed)
    monkeypatch.setattr(routed.state, "never_signed_in", {org})  # the session-wide fake's: restored after
    with caplog.at_level(logging.WARNING, logger="keyring_ado"):
        token = lookup(feed(simple), Settings.from_environ(os.environ))
    assert token is not None
    assert token.kind is Kind.ENTRA
    assert vssps(routed).requests[-1]["path"].startswith(f"/{org}/_apis/Token/SessionTokens")
    [said] = [r.getMessage() for r in caplog.records if "TF401444" in r.getMessage()]
    assert f"open https://dev.azure.com/{org} in a browser once, signed in as the same account" in said
    assert "alice" not in said
    assert token.secret not in said
