"""Managed identity: asked only when announced, bounded in time, never through a proxy."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from keyring_ado.errors import SourceFailed, SourceUnavailable
from keyring_ado.settings import Settings
from keyring_ado.sources.managed_identity import ManagedIdentitySource
from tests.conftest import AdoWorld
from tests.fakes import imds
from tests.fakes.artifacts import TENANT
from tests.helpers import configured, request


@pytest.fixture
def fake_imds(ado_world: AdoWorld) -> Iterator[imds._Server]:
    server = imds.serve(ado_world.entra)
    yield server
    server.shutdown()
    server.server_close()


def test_not_asked_unless_announced() -> None:
    """No hosting variables and no opt-in: unavailable, and no request anywhere."""
    with pytest.raises(SourceUnavailable, match="KEYRING_ADO_MANAGED_IDENTITY=1"):
        configured(ManagedIdentitySource, Settings.from_environ({})).identity(request())


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"KEYRING_ADO_MANAGED_IDENTITY": "1"}, "system"),
        (
            {"KEYRING_ADO_MANAGED_IDENTITY": "5F1A8C2E-0000-4000-8000-000000000002"},
            "5f1a8c2e-0000-4000-8000-000000000002",
        ),
        ({"IDENTITY_ENDPOINT": "http://127.0.0.1:41000/msi/token", "IDENTITY_HEADER": "h"}, "system"),
        ({"MSI_ENDPOINT": "http://localhost:50342/oauth2/token"}, "system"),
        ({"KEYRING_ADO_MANAGED_IDENTITY": "0", "MSI_ENDPOINT": "http://x"}, None),
    ],
)
def test_detection(environ: dict[str, str], expected: str | None) -> None:
    """Hosting environments announce themselves; the switch can name a user-assigned identity."""
    assert Settings.from_environ(environ).managed_identity.identity == expected


def test_imds_token_through_no_proxy(
    routed: AdoWorld, fake_imds: imds._Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An opted-in VM: IMDS answers a token for Azure DevOps; the (closed) proxy is not used."""
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{fake_imds.server_address[1]}")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("KEYRING_ADO_MANAGED_IDENTITY", "5f1a8c2e-0000-4000-8000-000000000002")
    token = configured(ManagedIdentitySource).get_token(request())
    assert routed.entra.valid_for(token.secret, TENANT)
    call = fake_imds.calls[-1]
    assert call["resource"] == "499b84ac-1321-427f-aa17-267ca6975798"
    assert call["client_id"] == "5f1a8c2e-0000-4000-8000-000000000002"
    assert call["metadata"] == "true"


def test_silent_endpoint_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint that accepts and never answers: a failure within seconds, not the 300 s stall."""
    listener = socket.create_server(("127.0.0.1", 0))
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{listener.getsockname()[1]}")
    monkeypatch.setenv("KEYRING_ADO_MANAGED_IDENTITY", "1")
    started = time.monotonic()
    try:
        with pytest.raises((SourceFailed, SourceUnavailable)):
            configured(ManagedIdentitySource).get_token(request())
    finally:
        listener.close()
    assert time.monotonic() - started < 10


def test_app_service_identity(routed: AdoWorld, fake_imds: imds._Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """App Service / Functions announce IDENTITY_ENDPOINT + IDENTITY_HEADER: used with no opt-in."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{fake_imds.server_address[1]}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "app-service-header")
    token = configured(ManagedIdentitySource).get_token(request())
    assert routed.entra.valid_for(token.secret, TENANT)
    assert fake_imds.calls[-1]["path"] == "/msi/token"


def test_the_fake_app_service_refuses_a_wrong_header(
    routed: AdoWorld, fake_imds: imds._Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The App Service endpoint checks the header's value, not only that one was sent (issue 15, item 10)."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{fake_imds.server_address[1]}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "wrong-header")
    with pytest.raises((SourceFailed, SourceUnavailable)):
        configured(ManagedIdentitySource).get_token(request())
    assert fake_imds.calls, "the endpoint was asked"
    assert fake_imds.calls[-1]["api-version"] == imds.APP_SERVICE_API_VERSION
    assert fake_imds.calls[-1]["resource"] == "499b84ac-1321-427f-aa17-267ca6975798"


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every name lookup and connection this process tries, refused and recorded: a test that
    must send nothing can prove it, and never reaches the address it names."""
    tried: list[object] = []

    def lookup(host: object, *args: object, **kwargs: object) -> list[object]:
        tried.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "the test allows no lookup")

    def connect(self: socket.socket, address: object) -> None:
        tried.append(address)
        raise ConnectionRefusedError("the test allows no connection")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    return tried


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IDENTITY_ENDPOINT", "http://192.0.2.1:8081/msi/token"),  # TEST-NET-1: never reachable
        ("IDENTITY_ENDPOINT", "http://127.0.0.1.nip.io:41000/msi/token"),  # a name, not a loopback address
        ("IDENTITY_ENDPOINT", "http://localhost.evil.example/msi/token"),
        ("IDENTITY_ENDPOINT", "http://2130706433/msi/token"),  # 127.0.0.1 to getaddrinfo, a name to urllib
        ("IDENTITY_ENDPOINT", "http://[2001:db8::1]/msi/token"),
        ("IDENTITY_ENDPOINT", "http://[::ffff:192.0.2.1]/msi/token"),
        ("MSI_ENDPOINT", "http://192.0.2.1:46808/MSI/auth"),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://192.0.2.1"),
    ],
)
def test_the_identity_secret_never_goes_over_plain_http_off_the_machine(
    name: str, value: str, no_connections: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """IDENTITY_HEADER went over plain http to whatever IDENTITY_ENDPOINT named: now plain http goes
    only to a loopback or link-local address; anything else is one line, before any lookup or
    connection (issue 14, item 7)."""
    canary = "identity-header-canary-0123456789"
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("IDENTITY_HEADER", canary)
    monkeypatch.setenv("MSI_SECRET", canary)
    monkeypatch.setenv("KEYRING_ADO_MANAGED_IDENTITY", "1")
    with pytest.raises(SourceFailed) as caught:
        configured(ManagedIdentitySource).get_token(request())
    assert no_connections == []
    said = str(caught.value)
    assert said.startswith(f"{name} is plain http to ")
    assert "which is neither a loopback nor a link-local address, so no managed identity request was sent" in said
    assert canary not in said


@pytest.mark.parametrize(
    "value",
    [
        "http://192.0.2.1\\@127.0.0.1/msi/token",  # urllib3 reads 192.0.2.1, urllib 127.0.0.1
        "http://192.0.2.1@127.0.0.1/msi/token",
        "http://127.0.0.1 /msi/token",
        "ftp://127.0.0.1/msi/token",
        "127.0.0.1:41000/msi/token",
        "http://127.0.0.1:99999/msi/token",
    ],
)
def test_an_endpoint_read_two_ways_is_refused(
    value: str, no_connections: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint that clients could read differently, or that is not http(s) at all: refused,
    with nothing sent (issue 14, item 7)."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", value)
    monkeypatch.setenv("IDENTITY_HEADER", "h")
    with pytest.raises(SourceFailed, match=r"^IDENTITY_ENDPOINT is not an http or https URL that keyring-ado can read"):
        configured(ManagedIdentitySource).get_token(request())
    assert no_connections == []


@pytest.mark.parametrize(
    "value",
    [
        "http://127.0.0.1:41693/msi/token/",  # App Service on Windows
        "http://169.254.129.2:8081/msi/token",  # App Service on Linux
        "http://localhost:40342/metadata/identity/oauth2/token",  # Arc, Container Apps, Cloud Shell
        "http://LOCALHOST:12356/msi/token",
        "http://[::1]:41000/msi/token",
        "http://[fe80::1]/msi/token",
        "https://10.0.0.4:2377/metadata/identity/oauth2/token",  # Service Fabric: https, azure-identity's rules
        "https://identity.contoso.example/msi/token",
    ],
)
def test_the_platforms_endpoints_are_accepted(value: str) -> None:
    """Where the platforms put their endpoints (loopback, link-local, localhost, or https) passes."""
    settings = Settings.from_environ({"IDENTITY_ENDPOINT": value, "IDENTITY_HEADER": "h", "IMDS_ENDPOINT": value})
    assert configured(ManagedIdentitySource, settings).identity(request()).source == "mi"


def test_a_refused_endpoint_is_one_warning_and_no_request(
    no_connections: list[object], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Through the backend: no credential, one warning naming the variable, no lookup or
    connection anywhere, and the secret nowhere (issue 14, item 7)."""
    import logging

    from keyring_ado.backend import AdoKeyring

    canary = "identity-header-canary-0123456789"
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://192.0.2.1:8081/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", canary)
    caplog.set_level(logging.DEBUG)
    assert AdoKeyring().get_credential("https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/", None) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "managed identity failed: IDENTITY_ENDPOINT is plain http to 192.0.2.1" in warnings[0]
    assert no_connections == []
    assert canary not in caplog.text
