"""Managed identity: asked only when announced, bounded in time, never through a proxy."""

from __future__ import annotations

import os
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
from tests.helpers import feed


@pytest.fixture
def fake_imds(ado_world: AdoWorld) -> Iterator[imds._Server]:
    server = imds.serve(ado_world.entra)
    yield server
    server.shutdown()
    server.server_close()


def test_not_asked_unless_announced() -> None:
    """No hosting variables and no opt-in: unavailable, and no request anywhere."""
    with pytest.raises(SourceUnavailable, match="KEYRING_ADO_MANAGED_IDENTITY=1"):
        ManagedIdentitySource().identity(feed(), Settings.from_environ({}))


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
    assert Settings.from_environ(environ).managed_identity == expected


def test_imds_token_through_no_proxy(
    routed: AdoWorld, fake_imds: imds._Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An opted-in VM: IMDS answers a token for Azure DevOps; the (closed) proxy is not used."""
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{fake_imds.server_address[1]}")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("KEYRING_ADO_MANAGED_IDENTITY", "5f1a8c2e-0000-4000-8000-000000000002")
    token = ManagedIdentitySource().get_token(feed(), Settings.from_environ(os.environ))
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
            ManagedIdentitySource().get_token(feed(), Settings.from_environ(os.environ))
    finally:
        listener.close()
    assert time.monotonic() - started < 10


def test_app_service_identity(routed: AdoWorld, fake_imds: imds._Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """App Service / Functions announce IDENTITY_ENDPOINT + IDENTITY_HEADER: used with no opt-in."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{fake_imds.server_address[1]}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "app-service-header")
    token = ManagedIdentitySource().get_token(feed(), Settings.from_environ(os.environ))
    assert routed.entra.valid_for(token.secret, TENANT)
    assert fake_imds.calls[-1]["path"] == "/msi/token"


def test_the_fake_app_service_refuses_a_wrong_header(
    routed: AdoWorld, fake_imds: imds._Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The App Service endpoint checks the header's value, not only that one was sent (issue 15, item 10)."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{fake_imds.server_address[1]}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "wrong-header")
    with pytest.raises((SourceFailed, SourceUnavailable)):
        ManagedIdentitySource().get_token(feed(), Settings.from_environ(os.environ))
    assert fake_imds.calls, "the endpoint was asked"
    assert fake_imds.calls[-1]["api-version"] == imds.APP_SERVICE_API_VERSION
    assert fake_imds.calls[-1]["resource"] == "499b84ac-1321-427f-aa17-267ca6975798"
