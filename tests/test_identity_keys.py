"""A cached token is served only to the credential that made it (review items 5, 6, 7 and 14).

Each test gets a token for one credential, then changes one thing that identifies the credential
and checks the old token is not served: in this process (memory) and in the next one (the file,
simulated by forgetting the process's memory)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from keyring_ado import cache
from keyring_ado.settings import Settings
from tests import helpers
from tests.conftest import AdoWorld
from tests.fakes.artifacts import TENANT
from tests.fakes.az import FakeAz, jwt
from tests.helpers import FEED_URL, feed, new_process

OTHER_TENANT = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def lookup(**environ: str) -> str | None:
    token = helpers.lookup(feed(FEED_URL), Settings.from_environ({**os.environ, **environ}))
    return None if token is None else token.secret


def next_process() -> None:
    """What a new keyring process starts with: nothing in memory, only the files."""
    new_process()
    cache.forget_keys()


def cache_file() -> Path:
    return Path(os.environ["HOME"]) / ".cache" / "keyring-ado" / "tokens.json"


def sp_environ(client_id: str, secret: str, tenant: str = TENANT) -> dict[str, str]:
    return {"AZURE_CLIENT_ID": client_id, "AZURE_TENANT_ID": tenant, "AZURE_CLIENT_SECRET": secret}


@pytest.mark.parametrize("in_memory", [True, False], ids=["same-process", "next-process"])
@pytest.mark.parametrize("change", ["secret", "tenant", "authority host"])
def test_a_service_principal_change_is_not_served_the_old_token(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, change: str, in_memory: bool
) -> None:
    """Another AZURE_CLIENT_SECRET, AZURE_TENANT_ID or authority host: the old token stays theirs."""
    client_id, secret = routed.entra.add_secret_client()
    first = lookup(**sp_environ(client_id, secret))
    assert first is not None
    assert first in cache_file().read_text()
    assert secret not in cache_file().read_text(), "keyed by a digest of the secret, never the secret"
    if not in_memory:
        next_process()
    changed = {
        "secret": sp_environ(client_id, "another-secret-that-is-long-enough"),
        "tenant": sp_environ(client_id, secret, tenant=OTHER_TENANT),
        "authority host": {**sp_environ(client_id, secret), "AZURE_AUTHORITY_HOST": "https://login.other.test"},
    }[change]
    assert lookup(**changed) != first
    next_process()
    assert lookup(**sp_environ(client_id, secret)) == first, "the unchanged credential still finds its token"


def test_a_certificate_file_swapped_at_the_same_path_is_another_credential(routed: AdoWorld, tmp_path: Path) -> None:
    """The certificate's bytes identify it, not its path: another key pair at the same path is asked
    for its own token."""
    import trustme

    rsa = trustme.KeyType.RSA
    client_id = str(uuid.uuid4())
    path = tmp_path / "sp.pem"
    environ = {"AZURE_CLIENT_ID": client_id, "AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_CERTIFICATE_PATH": str(path)}
    tokens = []
    routed.entra.log.clear()
    for _ in range(2):
        issued = trustme.CA(key_type=rsa).issue_cert("sp.contoso.test", key_type=rsa)
        routed.entra.register_certificate(client_id, issued.cert_chain_pems[0].bytes())  # both stay registered
        path.write_bytes(issued.private_key_and_cert_chain_pem.bytes())
        next_process()
        tokens.append(lookup(**environ))
    assert None not in tokens
    assert tokens[0] != tokens[1]
    assert len(routed.entra.grants("client_credentials")) == 2, "each certificate asked for its own token"


@pytest.mark.parametrize("in_memory", [True, False], ids=["same-process", "next-process"])
@pytest.mark.parametrize("change", ["login as another user", "account set to another tenant", "logout"])
def test_az_account_changes_are_never_served_the_old_token(fake_az: FakeAz, change: str, in_memory: bool) -> None:
    """After `az login` as someone else, `az account set` to another tenant or `az logout`, the
    previous account's token is not served, from memory or from the file."""
    environ = {"KEYRING_ADO_TENANT": TENANT}
    first_token = jwt()
    fake_az.login("alice@contoso.test", token=first_token)
    assert lookup(**environ) == first_token
    assert lookup(**environ) == first_token
    assert len(fake_az.calls) == 1, "the same account is served from memory"
    if not in_memory:
        next_process()
        assert lookup(**environ) == first_token
        assert len(fake_az.calls) == 1, "...and from the file"
    second_token = jwt()
    if change == "login as another user":
        fake_az.login("mallory@contoso.test", token=second_token)
    elif change == "account set to another tenant":
        fake_az.configure("token", second_token)
        fake_az.account_set(OTHER_TENANT)
    else:
        fake_az.logout()
    if not in_memory:
        next_process()
    expected = None if change == "logout" else second_token
    assert lookup(**environ) == expected


def test_the_file_names_no_account_and_no_secret(fake_az: FakeAz) -> None:
    """Keys are a keyed digest: neither the account nor the tenant can be read off the file, and the
    key is owner-only beside it."""
    fake_az.login("alice@contoso.test", token=jwt())
    assert lookup(KEYRING_ADO_TENANT=TENANT) is not None
    text = cache_file().read_text()
    assert "alice" not in text
    assert TENANT not in text
    key = cache_file().parent / "key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    [entry] = json.loads(text)["entries"]
    assert entry.startswith("dev.azure.com|contoso|az:")


def test_ci_identities_are_not_written_to_disk_in_ci(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """In CI a service principal's token stays in memory (a shared agent keeps nothing of the job);
    KEYRING_ADO_CACHE=on writes it; az's tokens are written in CI too (review item 6)."""
    client_id, secret = routed.entra.add_secret_client()
    assert lookup(CI="true", **sp_environ(client_id, secret)) is not None
    assert not cache_file().exists()
    next_process()
    assert lookup(CI="true", KEYRING_ADO_CACHE="on", **sp_environ(client_id, secret)) is not None
    assert cache_file().exists()
    next_process()
    assert lookup(**sp_environ(client_id, secret)) is not None, "outside CI, written as before"


def test_az_tokens_are_written_in_ci(fake_az: FakeAz) -> None:
    fake_az.login("build@contoso.test", token=jwt())
    assert lookup(CI="true", KEYRING_ADO_TENANT=TENANT) is not None
    assert cache_file().exists()


ENDPOINTS = json.dumps(
    {
        "endpointCredentials": [
            {"endpoint": "https://pkgs.dev.azure.com/contoso/_packaging/feedA/pypi/simple/", "password": "PAT_A"},
            {"endpoint": "https://pkgs.dev.azure.com/contoso/_packaging/feedB/pypi/simple/", "password": "PAT_B"},
        ]
    }
)
FEED_A = "https://pkgs.dev.azure.com/contoso/_packaging/feedA/pypi/simple/"
FEED_B = "https://pkgs.dev.azure.com/contoso/_packaging/feedB/pypi/simple/"
FEED_C = "https://pkgs.dev.azure.com/contoso/_packaging/feedC/pypi/simple/"


@pytest.mark.parametrize("order", [(FEED_A, FEED_B, FEED_A), (FEED_B, FEED_A, FEED_B), (FEED_C, FEED_A, FEED_B)])
def test_per_feed_answers_are_remembered_per_feed(order: tuple[str, ...]) -> None:
    """feedA -> PAT_A and feedB -> PAT_B: one process asking in any order gets each feed's own, and
    a miss for feedC says nothing about A or B (review item 7: it gave PAT_A twice, or nothing)."""
    settings = Settings.from_environ({"VSS_NUGET_EXTERNAL_FEED_ENDPOINTS": ENDPOINTS})
    expected = {FEED_A: "PAT_A", FEED_B: "PAT_B", FEED_C: None}
    for url in order:
        token = helpers.lookup(feed(url), settings)
        assert (None if token is None else token.secret) == expected[url], url


def test_a_ci_run_without_an_identity_source_does_not_probe(
    routed: AdoWorld, fake_az: FakeAz, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI, az installed but not logged in, nothing else: no anonymous tenant probe and no az run
    (review item 14: up to 5 s were spent probing for nobody)."""
    routed.state.add_feed("contoso", "feed")
    routed.state.reset_log()
    monkeypatch.setenv("CI", "true")
    assert lookup() is None
    assert routed.state.received() == []
    assert fake_az.calls == []
