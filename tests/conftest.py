"""Shared fixtures: a clean environment for every test, the fake ``az``, and the fake Azure Artifacts."""

from __future__ import annotations

import io
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from keyring_ado import backend, variables
from keyring_ado.sources import _interactive, signin
from tests.fakes import artifacts, entra, proxy
from tests.fakes.az import FakeAz

#: Look-alike hosts the fake serves too, to prove nothing is sent to them.
FOREIGN_HOSTS = ("pkgs.dev.azure.com.evil.example", "evilpkgs.dev.azure.com")
#: Look-alikes of the CI token services, served too, to prove a job's secret is never sent there.
FOREIGN_TOKEN_HOSTS = ("pipelines.actions.githubusercontent.com.evil.example", "dev.azure.com.evil.example")
#: An Azure DevOps Server host for KEYRING_ADO_HOSTS tests.
SERVER_HOST = "tfs.contoso.test"
ROUTED_HOSTS = (
    artifacts.HOSTED,
    "contoso.pkgs.visualstudio.com",
    SERVER_HOST,
    *FOREIGN_HOSTS,
    *FOREIGN_TOKEN_HOSTS,
    entra.ENTRA_HOST,
    entra.GITHUB_HOST,
    entra.PIPELINES_HOST,
    "vssps.dev.azure.com",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every variable we read is unset, HOME is empty, and no credential is remembered."""
    for name in variables.ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no real az, whatever the machine has
    # Any HTTP request a test did not route to a fake fails at once instead of leaving the machine.
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    backend._resolver.clear()  # a fresh Resolver: each test starts as a new process would
    yield
    backend._resolver.clear()


@pytest.fixture
def fake_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAz:
    """A fake ``az`` first on PATH; starts out 'not logged in'."""
    az = FakeAz(tmp_path / "az-bin")
    monkeypatch.setenv("PATH", str(az.directory))
    return az


@pytest.fixture
def routed(ado_world: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> AdoWorld:
    """In-process HTTP goes through the proxy to the fakes, trusting the tests' CA."""
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, ado_world.proxy_url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ado_world.ca_file))
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", f"https://{entra.ENTRA_HOST}")
    return ado_world


@dataclass
class AdoWorld:
    """The fake Azure Artifacts service, the proxy that routes real host names to it, and its CA."""

    state: artifacts.FakeArtifacts
    entra: entra.FakeEntra
    ca_file: Path
    proxy_url: str
    port: int
    proxy: proxy._ProxyServer

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


@pytest.fixture(scope="session")
def ado_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdoWorld]:
    """One HTTPS fake for the whole session, reached through a CONNECT proxy on loopback."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert(*ROUTED_HOSTS, "localhost", "127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    folder = tmp_path_factory.mktemp("ca")
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    state = artifacts.FakeArtifacts(server_hosts=(SERVER_HOST,))
    # Entra's 5 s device-code polling interval (the class default) made 1 s, for speed.
    fake_entra = entra.FakeEntra(tenant=artifacts.TENANT, device_interval=1)
    state.entra = fake_entra
    state.other_hosts = dict.fromkeys((entra.ENTRA_HOST, entra.GITHUB_HOST, entra.PIPELINES_HOST), fake_entra)
    state.other_hosts["vssps.dev.azure.com"] = artifacts.FakeVssps(state)
    server, port = artifacts.serve(state, context)
    proxy_server, proxy_port = proxy.serve(dict.fromkeys(ROUTED_HOSTS, port))
    yield AdoWorld(state, fake_entra, ca_file, f"http://127.0.0.1:{proxy_port}", port, proxy_server)
    proxy_server.shutdown()
    proxy_server.server_close()
    server.shutdown()
    server.server_close()


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """A person at a terminal (for the sign-in): what it writes there is captured here."""
    screen = io.StringIO()

    class Screen:
        def __enter__(self) -> io.StringIO:
            return screen

        def __exit__(self, *args: object) -> None:
            return None

    monkeypatch.setattr(signin, "terminal_reachable", lambda: True)
    monkeypatch.setattr(_interactive, "_terminal", Screen)
    return screen
