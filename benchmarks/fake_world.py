"""The tests' fake Azure Artifacts and Entra ID, served for bench.py's child processes.

The same set-up as the ``ado_world`` fixture in tests/conftest.py, without pytest: an HTTPS server
for the fakes, a certificate from a throwaway CA, and a CONNECT proxy on loopback that routes the
real host names (``pkgs.dev.azure.com``, Entra's) to it and refuses everything else. A child process
reaches it through :meth:`FakeWorld.env`; nothing leaves the machine.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.fakes import artifacts, entra, proxy

ROUTED_HOSTS = (artifacts.HOSTED, entra.ENTRA_HOST, "vssps.dev.azure.com")


@dataclass
class FakeWorld:
    """The running fakes: the feed service's state, Entra's, the CA file and the proxy's URL."""

    state: artifacts.FakeArtifacts
    entra: entra.FakeEntra
    ca_file: Path
    proxy_url: str

    def env(self) -> dict[str, str]:
        """What a child needs to reach the fakes: the proxy, the CA, and Entra's host."""
        ca = str(self.ca_file)
        return {
            "HTTPS_PROXY": self.proxy_url,
            "https_proxy": self.proxy_url,
            "REQUESTS_CA_BUNDLE": ca,
            "SSL_CERT_FILE": ca,
            "AZURE_AUTHORITY_HOST": f"https://{entra.ENTRA_HOST}",
        }


@contextmanager
def serve(folder: Path) -> Iterator[FakeWorld]:
    """Start the fakes (the CA is written into *folder*); stop them on leaving."""
    import trustme  # noqa: PLC0415 - a test dependency, only when the benchmark runs

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*ROUTED_HOSTS, "localhost", "127.0.0.1").configure_cert(context)
    folder.mkdir(parents=True, exist_ok=True)
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    state = artifacts.FakeArtifacts()
    fake_entra = entra.FakeEntra(tenant=artifacts.TENANT)
    state.entra = fake_entra
    state.other_hosts = {entra.ENTRA_HOST: fake_entra, "vssps.dev.azure.com": artifacts.FakeVssps(state)}
    server, port = artifacts.serve(state, context)
    proxy_server, proxy_port = proxy.serve(dict.fromkeys(ROUTED_HOSTS, port))
    try:
        yield FakeWorld(state, fake_entra, ca_file, f"http://127.0.0.1:{proxy_port}")
    finally:
        for running in (proxy_server, server):
            running.shutdown()
            running.server_close()
