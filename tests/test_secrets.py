"""Secret canaries: every failure path, and no canary in logs, exceptions, reprs or output."""

from __future__ import annotations

import json
import logging

import pytest

from keyring_ado.backend import AdoKeyring
from keyring_ado.settings import Settings
from keyring_ado.token import Kind, Token
from tests.fakes.az import FakeAz, jwt
from tests.helpers import leaked, new_process

URL = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"
SERVER_URL = "https://tfs.contoso.test/c/_packaging/f/pypi/simple/"
CANARY_JWT = jwt()
CANARY_PAT = "canarypat" + "x" * 43
CANARY_EXPIRED = jwt(lifetime=-30)


def failing_environments() -> list[tuple[str, dict[str, str], str]]:
    endpoints = {"endpointCredentials": [{"endpoint": "https://evil.example/", "password": CANARY_PAT}]}
    return [
        ("expired token", {"KEYRING_ADO_TOKEN": CANARY_EXPIRED}, "not_logged_in"),
        (
            "server with entra token",
            {"KEYRING_ADO_TOKEN": CANARY_JWT, "KEYRING_ADO_HOSTS": "tfs.contoso.test"},
            "token",
        ),
        ("endpoint for another host", {"VSS_NUGET_EXTERNAL_FEED_ENDPOINTS": json.dumps(endpoints)}, "not_logged_in"),
        ("broken endpoints json", {"VSS_NUGET_EXTERNAL_FEED_ENDPOINTS": '{"x": "' + CANARY_PAT}, "not_logged_in"),
        ("access token without prefixes", {"VSS_NUGET_ACCESSTOKEN": CANARY_PAT}, "not_logged_in"),
        (
            "job token for another org",
            {
                "TF_BUILD": "True",
                "SYSTEM_ACCESSTOKEN": CANARY_PAT,
                "SYSTEM_COLLECTIONURI": "https://dev.azure.com/fabrikam/",
            },
            "not_logged_in",
        ),
        ("token with whitespace", {"KEYRING_ADO_PAT": CANARY_PAT + " " + CANARY_PAT}, "not_logged_in"),
        ("az entra error", {}, "aadsts"),
        ("az garbage", {}, "garbage"),
        ("az expired token", {}, "expired"),
    ]


@pytest.mark.parametrize(
    ("label", "environ", "az_mode"), failing_environments(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_no_canary_anywhere(  # noqa: PLR0917 - parameters and fixtures
    label: str,
    environ: dict[str, str],
    az_mode: str,
    fake_az: FakeAz,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each failing lookup returns None and leaves no canary in records, output or reprs."""
    caplog.set_level(logging.DEBUG)
    fake_az.configure(az_mode, CANARY_JWT if az_mode != "garbage" else CANARY_PAT)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    url = SERVER_URL if "KEYRING_ADO_HOSTS" in environ else URL
    ring = AdoKeyring()
    assert ring.get_credential(url, None) is None, label
    assert ring.get_password(url, "u") is None
    output = capsys.readouterr()
    settings = Settings.from_environ(dict(environ))
    seen = "\n".join(
        [output.out, output.err, caplog.text, repr(settings), repr(ring)]
        + [str(r.args) for r in caplog.records]
        + [r.exc_text or "" for r in caplog.records]
    )
    assert output.out == ""
    assert not leaked(CANARY_JWT, seen)
    assert not leaked(CANARY_PAT, seen)
    assert not leaked(CANARY_EXPIRED, seen)
    assert caplog.records, "a failing lookup says why"


def test_token_repr_hides_the_secret() -> None:
    """repr(Token) names the kind and source, never the secret."""
    token = Token(CANARY_PAT, Kind.PAT, source="KEYRING_ADO_PAT")
    assert not leaked(CANARY_PAT, repr(token))
    assert "KEYRING_ADO_PAT" in repr(token)


def test_success_logs_no_secret(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A successful lookup logs where the token came from, not the token."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("KEYRING_ADO_PAT", CANARY_PAT)
    assert AdoKeyring().get_password(URL, "u") == CANARY_PAT
    assert not leaked(CANARY_PAT, caplog.text)
    assert "using a PAT from KEYRING_ADO_PAT" in caplog.text
    new_process()


def identity_failures(world: object) -> list[tuple[str, dict[str, str]]]:
    from tests.conftest import AdoWorld
    from tests.fakes import entra
    from tests.fakes.artifacts import TENANT

    assert isinstance(world, AdoWorld)
    client_id, _ = world.entra.add_secret_client()
    federated = world.entra.add_federated_client()
    return [
        ("service principal, wrong secret",
         {"AZURE_CLIENT_ID": client_id, "AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_SECRET": CANARY_PAT}),
        ("GitHub OIDC, wrong request token",
         {"AZURE_CLIENT_ID": federated, "AZURE_TENANT_ID": TENANT, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": CANARY_PAT,
          "ACTIONS_ID_TOKEN_REQUEST_URL": f"https://{entra.GITHUB_HOST}/_apis/oidctoken?api-version=2.0"}),
        ("workload identity, rejected assertion",
         {"AZURE_CLIENT_ID": federated, "AZURE_TENANT_ID": TENANT, "AZURE_FEDERATED_TOKEN_FILE": "CANARY_FILE"}),
        ("Pipelines OIDC, refused job token",
         {"SYSTEM_OIDCREQUESTURI": f"https://{entra.PIPELINES_HOST}/x/oidctoken", "SYSTEM_ACCESSTOKEN": "",
          "SYSTEM_COLLECTIONURI": "https://dev.azure.com/x/",
          "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "sc", "AZURE_CLIENT_ID": federated, "AZURE_TENANT_ID": TENANT}),
        ("GitHub OIDC, request token for another host",
         {"AZURE_CLIENT_ID": federated, "AZURE_TENANT_ID": TENANT, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": CANARY_PAT,
          "ACTIONS_ID_TOKEN_REQUEST_URL": f"https://{entra.GITHUB_HOST}.evil.example/_apis/oidctoken?x={CANARY_PAT}"}),
        ("Pipelines OIDC, job token for another organisation",
         {"SYSTEM_OIDCREQUESTURI": f"https://{entra.PIPELINES_HOST}/{CANARY_PAT}/oidctoken", "SYSTEM_ACCESSTOKEN": "",
          "SYSTEM_COLLECTIONURI": "https://dev.azure.com/x/",
          "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "sc", "AZURE_CLIENT_ID": federated, "AZURE_TENANT_ID": TENANT}),
    ]  # fmt: skip


def test_identity_failures_leak_nothing(
    routed: object,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: object,
) -> None:
    """Entra ID and the CI issuers refusing canary secrets: None, and no canary anywhere."""
    from pathlib import Path

    caplog.set_level(logging.DEBUG)
    assertion_file = Path(str(tmp_path)) / "assertion"
    assertion_file.write_text(CANARY_JWT)
    expected = {
        "service principal, wrong secret": "service principal failed: Entra ID refused the token request: "
        "Authentication failed: AADSTS7000215",
        "GitHub OIDC, wrong request token": "GitHub Actions OIDC failed: the ID token issuer",
        "workload identity, rejected assertion": "workload identity failed: Entra ID refused the token request",
        "Pipelines OIDC, refused job token": "Azure Pipelines service connection failed: the ID token issuer",
        "GitHub OIDC, request token for another host": "GitHub Actions OIDC failed: ACTIONS_ID_TOKEN_REQUEST_URL "
        "(https://pipelines.actions.githubusercontent.com.evil.example) is not an https URL on GitHub's token service",
        "Pipelines OIDC, job token for another organisation": "is not an https URL of the organisation x "
        "(dev.azure.com/x/ or x.visualstudio.com, from SYSTEM_COLLECTIONURI), so SYSTEM_ACCESSTOKEN was not sent",
    }
    for label, environ in identity_failures(routed):
        new_process()
        before = len(caplog.records)
        for name, value in environ.items():
            monkeypatch.setenv(name, str(assertion_file) if value == "CANARY_FILE" else value)
        if "SYSTEM_ACCESSTOKEN" in environ:
            monkeypatch.setenv("SYSTEM_ACCESSTOKEN", CANARY_JWT)
        assert AdoKeyring().get_credential(URL, None) is None, label
        warnings = [r.getMessage() for r in caplog.records[before:] if r.levelno >= logging.WARNING]
        assert len(warnings) == 1, (label, warnings)
        assert expected[label] in warnings[0], (label, warnings[0])
        for name in environ:
            monkeypatch.delenv(name)
    output = capsys.readouterr()
    seen = "\n".join([output.out, output.err, caplog.text, *(str(r.args) for r in caplog.records)])
    assert output.out == ""
    assert not leaked(CANARY_PAT, seen)
    assert not leaked(CANARY_JWT, seen)
