"""The one lazy boundary to azure-identity: sources write recipes (whose reprs never show a secret),
only ``sources/_azure.py`` imports azure, and a lookup that no Entra source serves never loads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from keyring_ado import variables
from keyring_ado.errors import SourceFailed
from keyring_ado.sources._entra import Certificate, ClientAssertion, ClientSecret, ManagedIdentity
from keyring_ado.sources.service_principal import ServicePrincipalSource
from tests.fakes.artifacts import TENANT
from tests.helpers import FEED_URL, leaked, request

SECRET = "client-secret-canary-0123456789abcdef"
PASSWORD = "certificate-password-canary-0123456789"


def test_recipes_never_show_a_secret() -> None:
    """A recipe's repr (and str) names its fields but shows no secret, password or id."""
    recipes = [
        ClientSecret(TENANT, "5f1a8c2e-0000-4000-8000-000000000002", SECRET),
        Certificate(TENANT, "5f1a8c2e-0000-4000-8000-000000000002", "/etc/sp.pem", PASSWORD),
        ClientAssertion(TENANT, "5f1a8c2e-0000-4000-8000-000000000002", lambda: SECRET),
        ManagedIdentity("5f1a8c2e-0000-4000-8000-000000000002", 1, 2),
    ]
    shown = [text for recipe in recipes for text in (repr(recipe), str(recipe), f"{recipe!r}")]
    assert not leaked(SECRET, *shown)
    assert not leaked(PASSWORD, *shown)
    assert repr(recipes[0]) == "ClientSecret(tenant_id=<set>, client_id=<set>, secret=<set>)"
    assert repr(recipes[1]) == "Certificate(tenant_id=<set>, client_id=<set>, path=<set>, password=<set>)"
    assert repr(recipes[3]) == "ManagedIdentity(client_id=<set>, connect_timeout=1, read_timeout=2)"


def _certificate_path(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A certificate path that azure-identity must not be handed, and the reason given for it."""
    path = tmp_path / "sp.pem"
    if kind == "missing":
        return path, "No such file or directory"
    if kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path, 0o600)  # opening it would block until someone writes to it
    return path, f"{path} is not a regular file"


@pytest.mark.parametrize(
    "kind",
    [
        "missing",
        "directory",
        pytest.param("fifo", marks=pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")),
    ],
)
def test_an_unusable_certificate_path_is_one_line_at_once(tmp_path: Path, kind: str) -> None:
    """A missing certificate, a directory or a FIFO at AZURE_CLIENT_CERTIFICATE_PATH: the usual
    "cannot use" line with the reason, within seconds (a FIFO is never opened for reading)."""
    path, reason = _certificate_path(tmp_path, kind)
    source = ServicePrincipalSource(client_id="c", tenant_id=TENANT, certificate_path=str(path))
    failures: list[BaseException] = []

    def attempt() -> None:
        try:
            source.get_token(request())
        except SourceFailed as exc:
            failures.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "the certificate lookup hung"
    assert [str(f) for f in failures] == [
        f"cannot use AZURE_CLIENT_CERTIFICATE_PATH ({path}): {reason}; "
        "it must be a PEM or PKCS12 file holding the certificate and its RSA private key"
    ]


PROBE = r"""
import importlib, json, pkgutil, sys
import keyring_ado.sources as sources

imported = []
for module in pkgutil.iter_modules(sources.__path__):
    if module.name != "_azure":
        importlib.import_module(f"keyring_ado.sources.{module.name}")
        imported.append(module.name)
from keyring_ado.backend import AdoKeyring

secret = AdoKeyring().get_password(sys.argv[1], "VssSessionToken")
azure = sorted(m for m in sys.modules if m.split(".")[0] == "azure" or m == "keyring_ado.sources._azure")
with open(sys.argv[2], "w") as f:
    json.dump({"imported": imported, "secret": secret, "azure": azure}, f)
"""


def test_a_lookup_no_entra_source_serves_never_imports_azure(tmp_path: Path) -> None:
    """Every source module imported, a service principal and a managed identity configured, and a
    PAT from the environment served: azure-identity and azure-core are not loaded (0.2 s saved)."""
    env = {k: v for k, v in os.environ.items() if k not in variables.ALL_VARIABLES and not k.startswith("PYTHON")}
    env.update(
        HOME=str(tmp_path),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        KEYRING_ADO_PAT="the-pat",
        AZURE_CLIENT_ID="5f1a8c2e-0000-4000-8000-000000000002",
        AZURE_TENANT_ID=TENANT,
        AZURE_CLIENT_SECRET=SECRET,
        KEYRING_ADO_MANAGED_IDENTITY="1",
    )
    out = tmp_path / "out.json"
    run = subprocess.run(
        [sys.executable, "-c", PROBE, FEED_URL, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(out.read_text())
    assert {"_entra", "service_principal", "workload_identity", "github_oidc", "pipelines_oidc"} <= set(
        found["imported"]
    )
    assert "managed_identity" in found["imported"]
    assert found["secret"] == "the-pat"
    assert found["azure"] == []
