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
