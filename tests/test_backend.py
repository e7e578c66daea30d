"""The keyring backend as keyring and the clients use it."""

from __future__ import annotations

import json

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend
from keyring.credentials import SimpleCredential

from keyring_ado import backend
from keyring_ado.backend import AdoKeyring
from tests.fakes.az import FakeAz, jwt

URL = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"


def test_priority_is_between_os_stores_and_chainer(monkeypatch: pytest.MonkeyPatch) -> None:
    """9.9: above the OS stores, below the chainer; KEYRING_ADO_DISABLE makes it non-viable."""
    assert AdoKeyring.priority == 9.9
    assert AdoKeyring.viable
    monkeypatch.setenv("KEYRING_ADO_DISABLE", "1")
    assert not AdoKeyring.viable
    with pytest.raises(RuntimeError, match="keyring-ado is turned off by KEYRING_ADO_DISABLE"):
        _ = AdoKeyring.priority


@pytest.mark.parametrize("username", [None, "VssSessionToken", "__token__", "alice@contoso.com", ""])
def test_any_username_gets_the_secret(monkeypatch: pytest.MonkeyPatch, username: str | None) -> None:
    """get_credential and get_password answer any user name; the returned user name is never empty."""
    monkeypatch.setenv("KEYRING_ADO_PAT", "pat-value")
    ring = AdoKeyring()
    credential = ring.get_credential(URL, username)
    assert isinstance(credential, SimpleCredential)
    assert credential.password == "pat-value"
    assert credential.username == (username or "VssSessionToken")
    assert ring.get_password(URL, username or "someone") == "pat-value"


def test_twine_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    """twine asks get_credential(url, None), then get_password(url, <the user name we gave>)."""
    monkeypatch.setenv("KEYRING_ADO_PAT", "pat-value")
    ring = AdoKeyring()
    upload = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/upload/"
    credential = ring.get_credential(upload, None)
    assert credential is not None
    assert ring.get_password(upload, credential.username) == "pat-value"


def test_endpoint_username_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user name from VSS_NUGET_EXTERNAL_FEED_ENDPOINTS is returned when the caller has none."""
    monkeypatch.setenv(
        "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS",
        json.dumps({"endpointCredentials": [{"endpoint": URL, "username": "builder", "password": "p"}]}),
    )
    credential = AdoKeyring().get_credential(URL, None)
    assert credential is not None
    assert (credential.username, credential.password) == ("builder", "p")


@pytest.mark.parametrize(
    "service",
    [
        "https://pypi.org/simple/",
        "python-poetry-check",
        "poetry-repository-ado",
        "http://pkgs.dev.azure.com/o/_packaging/f/",
    ],
)
def test_foreign_services_return_none_without_any_source(monkeypatch: pytest.MonkeyPatch, service: str) -> None:
    """Not ours: None at once; the chain is never consulted."""
    monkeypatch.setenv("KEYRING_ADO_PAT", "pat-value")

    def explode(*args: object) -> None:
        raise AssertionError("the chain must not run for a foreign service")

    monkeypatch.setattr(backend, "process_resolver", explode)
    ring = AdoKeyring()
    assert ring.get_credential(service, None) is None
    assert ring.get_password(service, "user") is None


def test_never_raises_and_never_prints(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Even an unexpected error inside the chain gives None and nothing on stdout."""

    def broken(*args: object) -> None:
        raise ValueError("unexpected")

    monkeypatch.setattr(backend, "process_resolver", broken)
    assert AdoKeyring().get_credential(URL, None) is None
    assert AdoKeyring().get_password(URL, "u") is None
    assert capsys.readouterr().out == ""


def test_storage_is_left_to_other_backends() -> None:
    """set and delete raise NotImplementedError, which keyring's chainer skips."""
    ring = AdoKeyring()
    with pytest.raises(NotImplementedError):
        ring.set_password(URL, "u", "p")
    with pytest.raises(NotImplementedError):
        ring.delete_password(URL, "u")


class MemoryKeyring(KeyringBackend):
    """A plain storage backend, standing in for the OS store next to ours."""

    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.store[(service, username)]


def test_inside_the_chainer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Next to an OS store: we answer feeds first, storage and other services go to the store."""
    memory = MemoryKeyring()
    monkeypatch.setattr(ChainerBackend, "backends", [AdoKeyring(), memory])
    monkeypatch.setenv("KEYRING_ADO_PAT", "pat-value")
    chainer = ChainerBackend()
    chainer.set_password("poetry-repository-x", "u", "stored")
    assert memory.store == {("poetry-repository-x", "u"): "stored"}
    assert chainer.get_password("poetry-repository-x", "u") == "stored"
    assert chainer.get_password(URL, "u") == "pat-value"
    chainer.delete_password("poetry-repository-x", "u")
    assert memory.store == {}


def test_through_keyring_api(monkeypatch: pytest.MonkeyPatch, fake_az: FakeAz) -> None:
    """keyring.get_password with our backend set answers from az, and asks az once per process."""
    token = jwt()
    fake_az.configure("token", token)
    keyring.set_keyring(AdoKeyring())
    try:
        assert keyring.get_password(URL, "VssSessionToken") == token
        assert keyring.get_password(URL.replace("feed", "other"), "VssSessionToken") == token
    finally:
        keyring.core._keyring_backend = None
    assert len(fake_az.calls) == 1


def test_module_exposes_priority_constant() -> None:
    """The documented priority is the one keyring sees."""
    assert AdoKeyring.priority == backend.PRIORITY


def test_foreign_lookup_reports_nothing(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A malformed variable is reported for Azure DevOps lookups only, never for other services."""
    monkeypatch.setenv("VSS_NUGET_EXTERNAL_FEED_ENDPOINTS", "{not json")
    monkeypatch.setenv("KEYRING_ADO_HOSTS", "tfs.contoso.test")
    assert AdoKeyring().get_credential("https://pypi.org/simple/", None) is None
    assert caplog.records == []
    assert AdoKeyring().get_credential("https://tfs.contoso.test/c/_packaging/f/pypi/simple/", None) is None
    assert "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS is not valid JSON" in caplog.text
