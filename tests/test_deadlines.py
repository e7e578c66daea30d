"""Every request has a total deadline: a proxy that drips a header line a second cannot hold a
lookup (review item 9; a CI lookup was held past 45 s)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from keyring_ado import _http, discovery
from keyring_ado.backend import AdoKeyring
from keyring_ado.errors import SourceFailed
from keyring_ado.sources import _entra
from keyring_ado.sources.service_principal import ServicePrincipalSource
from tests.fakes import proxy
from tests.helpers import FEED_URL, config, configured, feed, request

SP = {
    "AZURE_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
    "AZURE_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "AZURE_CLIENT_SECRET": "sp-secret-value",
}


@pytest.fixture
def dripping(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server, port = proxy.serve_dripping(interval=0.3)
    url = f"http://127.0.0.1:{port}"
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, url)
    yield url
    server.stopped.set()
    server.shutdown()
    server.server_close()


def test_one_request_ends_at_its_deadline(dripping: str) -> None:
    """urllib's timeout bounds each read; ours bounds the request."""
    started = time.monotonic()
    with pytest.raises(OSError, match="no complete answer within 2 s"):
        _http.request(FEED_URL, config().network.ca_bundle, timeout=2)
    assert time.monotonic() - started < 3.5


def test_tenant_discovery_gives_up_at_its_deadline(dripping: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The anonymous probe through such a proxy falls back to ``organizations`` in time."""
    monkeypatch.setattr(discovery, "PROBE_TIMEOUT", 1.5)
    started = time.monotonic()
    found = discovery.probe(feed(), config())
    assert found.tenant == discovery.ORGANIZATIONS
    assert time.monotonic() - started < 3


def test_a_service_principal_gives_up_at_its_deadline(dripping: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-identity's connection and read timeouts do not bound a drip; the total deadline does,
    and the message says Entra ID could not be reached."""
    monkeypatch.setattr(_entra, "TOTAL_TIMEOUT", 2.0)
    source = configured(ServicePrincipalSource, config(**SP))
    started = time.monotonic()
    with pytest.raises(SourceFailed, match="could not reach Entra ID") as failure:
        source.get_token(request())
    assert time.monotonic() - started < 3.5
    assert "sp-secret-value" not in str(failure.value)


def test_a_ci_lookup_through_the_drip_is_bounded(
    dripping: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The whole lookup (probe, then the service principal) ends with None and one line."""
    monkeypatch.setattr(_entra, "TOTAL_TIMEOUT", 2.0)
    monkeypatch.setattr(discovery, "PROBE_TIMEOUT", 1.0)
    for name, value in {**SP, "CI": "true"}.items():
        monkeypatch.setenv(name, value)
    started = time.monotonic()
    assert AdoKeyring().get_password(FEED_URL, "VssSessionToken") is None
    assert time.monotonic() - started < 6
    assert "could not reach Entra ID" in caplog.text
