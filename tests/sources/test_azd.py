"""The azd source, against a fake azd on PATH."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from keyring_ado.errors import SourceFailed, SourceUnavailable
from keyring_ado.sources.azd import AzdSource
from keyring_ado.token import Kind
from tests.fakes.az import FakeAzd, jwt
from tests.helpers import config, configured, feed, leaked, request


@pytest.fixture
def fake_azd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAzd:
    azd = FakeAzd(tmp_path / "azd-bin")
    monkeypatch.setenv("PATH", str(azd.directory))
    return azd


def test_token(fake_azd: FakeAzd) -> None:
    """azd auth token with the Azure DevOps scope, --no-prompt, and the tenant when known."""
    secret = jwt()
    fake_azd.configure("token", secret)
    token = configured(AzdSource, config(KEYRING_ADO_TENANT="72f988bf-86f1-41af-91ab-2d7cd011db47")).get_token(
        request(feed(), config(KEYRING_ADO_TENANT="72f988bf-86f1-41af-91ab-2d7cd011db47"))
    )
    assert (token.secret, token.kind, token.source) == (secret, Kind.ENTRA, "azd")
    assert token.fresh(margin=3000)
    assert fake_azd.calls == [
        ["auth", "token", "--output", "json", "--no-prompt", "--scope", "499b84ac-1321-427f-aa17-267ca6975798/.default",
         "--tenant-id", "72f988bf-86f1-41af-91ab-2d7cd011db47"]
    ]  # fmt: skip


def test_not_logged_in(fake_azd: FakeAzd) -> None:
    """Not logged in: unavailable with the azd hint."""
    with pytest.raises(SourceUnavailable, match="azd auth login"):
        configured(AzdSource, config(KEYRING_ADO_TENANT="organizations")).get_token(
            request(feed(), config(KEYRING_ADO_TENANT="organizations"))
        )


def test_garbage(fake_azd: FakeAzd) -> None:
    """Output that is not a token: failed, masked."""
    canary = jwt()
    fake_azd.configure("garbage", canary)
    with pytest.raises(SourceFailed, match="not a token") as caught:
        configured(AzdSource, config(KEYRING_ADO_TENANT="organizations")).get_token(
            request(feed(), config(KEYRING_ADO_TENANT="organizations"))
        )
    assert not leaked(canary, str(caught.value))


def test_hang_is_bounded(fake_azd: FakeAzd) -> None:
    """An azd that never answers is killed after KEYRING_ADO_AZ_TIMEOUT, with the command to try by hand."""
    fake_azd.configure("hang")
    started = time.monotonic()
    expected = r"azd did not answer within 1 s; run `azd auth token --scope .*/.default` yourself"
    with pytest.raises(SourceFailed, match=expected):
        configured(AzdSource, config(KEYRING_ADO_TENANT="organizations", KEYRING_ADO_AZ_TIMEOUT="1")).get_token(
            request(feed(), config(KEYRING_ADO_TENANT="organizations", KEYRING_ADO_AZ_TIMEOUT="1"))
        )
    assert time.monotonic() - started < 5


def test_not_installed() -> None:
    """No azd on PATH: unavailable at once."""
    with pytest.raises(SourceUnavailable, match="azd"):
        configured(AzdSource, config()).identity(request(feed(), config()))


def test_the_identity_is_the_signed_in_account_and_the_tenant_asked_for(fake_azd: FakeAzd, tmp_path: Path) -> None:
    """azd's signed-in account and KEYRING_ADO_TENANT (which changes the tenant azd is asked for)
    both identify the credential: a token azd gave for one tenant is never served for another."""
    config_dir = tmp_path / "azd-config"
    config_dir.mkdir()
    (config_dir / "config.json").write_text('{"auth": {"account": {"currentUser": {"homeAccountId": "alice"}}}}')
    search = str(fake_azd.directory)

    def identity(tenant: str | None) -> object:
        source = AzdSource(search_path=search, config_dir=str(config_dir), tenant=tenant)
        return source.identity(request(feed()))

    first = identity("72f988bf-86f1-41af-91ab-2d7cd011db47")
    assert first is not None
    assert identity("72f988bf-86f1-41af-91ab-2d7cd011db47") == first
    assert identity("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0") != first
    assert identity(None) != first
    (config_dir / "config.json").write_text('{"auth": {"account": {"currentUser": {"homeAccountId": "bob"}}}}')
    assert identity("72f988bf-86f1-41af-91ab-2d7cd011db47") != first
