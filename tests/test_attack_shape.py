"""An outside review of the restructured credential chain: each test is a hole found in it, and
fails until the hole is closed.

The promise attacked: a remembered token is served again only to the same credential, judged by
everything that identifies it, and only while every setting and file it came from is unchanged
(docs/security.md, "What is stored in memory")."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from keyring_ado.settings import Settings
from tests import helpers
from tests.conftest import AdoWorld
from tests.fakes.artifacts import TENANT
from tests.helpers import feed
from tests.sources import signin_helpers


def sign_in_environment(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Our own sign-in, kept in *directory* (in a file: the machine has no Secret Service), at the
    fake Entra ID's tenant (told, so that nothing else is asked first)."""
    monkeypatch.setenv("KEYRING_ADO_TENANT", TENANT)
    monkeypatch.setenv("KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE", "1")
    monkeypatch.setenv("KEYRING_ADO_CACHE_DIR", str(directory))


def test_a_sign_in_kept_in_another_directory_is_another_credential(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """KEYRING_ADO_CACHE_DIR chooses whose sign-in is used (msal's cache, with its refresh token,
    lives there), but the sign-in's identity is only the Entra host, client id and tenant override:
    after a person signed in at one directory, a lookup set up for another directory, where nobody
    has signed in, is served the first person's token from process memory."""
    sign_in_environment(monkeypatch, tmp_path / "alice")
    first = helpers.lookup(feed(), Settings.from_environ(os.environ))
    assert first is not None
    assert "enter the code" in terminal.getvalue(), "a person signed in at the first directory"

    nobody = tmp_path / "nobody"
    nobody.mkdir(mode=0o700)
    kept = nobody / "msal-cache.json"
    kept.write_text("{}")  # a sign-in cache in which nobody is signed in
    kept.chmod(0o600)
    monkeypatch.setenv("KEYRING_ADO_CACHE_DIR", str(nobody))
    monkeypatch.setenv("KEYRING_ADO_NONINTERACTIVE", "1")
    served = helpers.lookup(feed(), Settings.from_environ(os.environ))
    assert served is None, "nobody is signed in at this directory, yet another directory's sign-in was served"


def test_a_logout_by_another_process_is_noticed_by_a_running_one(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`keyring-ado logout` (another process) removes the sign-in and the token file; a process
    that is still running (Poetry resolving, a long build) goes on serving the signed-out person's
    token, since nothing it remembers depends on the sign-in's files. `az logout` is noticed at once
    (its profile is among the files the answer depends on); our own sign-in's is not."""
    directory = tmp_path / "signin"
    signin_helpers.configured(routed, directory, allow_unencrypted_cache=True).get_token(signin_helpers.lookup())
    sign_in_environment(monkeypatch, directory)
    monkeypatch.setenv("KEYRING_ADO_NONINTERACTIVE", "1")
    settings = Settings.from_environ(os.environ)
    first = helpers.lookup(feed(), settings)
    assert first is not None
    assert first.source == "sign-in (remembered)"

    logout = subprocess.run(
        [sys.executable, "-m", "keyring_ado", "logout"],
        env=dict(os.environ), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert logout.returncode == 0, logout.stderr
    assert not (directory / "msal-cache.json").exists()
    served = helpers.lookup(feed(), settings)
    assert served is None, "the sign-in was forgotten, yet this process still serves its token"


def test_a_certificate_swapped_at_the_same_path_is_noticed_in_the_same_process(
    routed: AdoWorld, tmp_path: Path
) -> None:
    """The certificate's bytes are part of the service principal's identity (another key pair at
    the same path is another credential), but the certificate file is not among the files the
    process's per-URL answer depends on: in the same process, after the file is replaced, the token
    got with the old key pair is still served and the new certificate is never used."""
    import trustme

    rsa = trustme.KeyType.RSA
    client_id = str(uuid.uuid4())
    path = tmp_path / "sp.pem"
    environ = {"AZURE_CLIENT_ID": client_id, "AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_CERTIFICATE_PATH": str(path)}
    settings = Settings.from_environ({**os.environ, **environ})
    routed.entra.log.clear()
    tokens = []
    for _ in range(2):
        issued = trustme.CA(key_type=rsa).issue_cert("sp.contoso.test", key_type=rsa)
        routed.entra.register_certificate(client_id, issued.cert_chain_pems[0].bytes())
        path.write_bytes(issued.private_key_and_cert_chain_pem.bytes())
        token = helpers.lookup(feed(), settings)
        tokens.append(None if token is None else token.secret)
    assert None not in tokens
    assert len(routed.entra.grants("client_credentials")) == 2, "the swapped certificate was never used"
    assert tokens[0] != tokens[1]
