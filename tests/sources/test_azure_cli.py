"""The az source, against a fake az on PATH."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from keyring_ado.errors import SourceFailed, SourceUnavailable
from keyring_ado.settings import Settings
from keyring_ado.sources._entra import AZURE_DEVOPS_RESOURCE
from keyring_ado.sources.azure_cli import AzureCliSource
from keyring_ado.token import Kind
from tests.conftest import AdoWorld
from tests.fakes.artifacts import TENANT
from tests.fakes.az import FakeAz, jwt
from tests.helpers import config, configured, feed, leaked, request


def test_token_and_expiry(fake_az: FakeAz) -> None:
    """A logged-in az gives an Entra token; the exact command line and expiry are used."""
    secret = jwt()
    fake_az.configure("token", secret, lifetime=1800)
    token = configured(AzureCliSource, config()).get_token(request(feed(), config()))
    assert (token.secret, token.kind, token.source) == (secret, Kind.ENTRA, "az")
    assert token.expires_on is not None
    assert abs(token.expires_on - (time.time() + 1800)) < 30
    assert fake_az.calls == [["account", "get-access-token", "--resource", AZURE_DEVOPS_RESOURCE, "--output", "json"]]


def test_tenant_is_passed_when_known(fake_az: FakeAz) -> None:
    """With a tenant (here the override; usually discovery), az is asked for that tenant."""
    fake_az.configure("token", jwt())
    configured(AzureCliSource, config(KEYRING_ADO_TENANT="72f988bf-86f1-41af-91ab-2d7cd011db47")).get_token(
        request(feed(), config(KEYRING_ADO_TENANT="72f988bf-86f1-41af-91ab-2d7cd011db47"))
    )
    assert fake_az.calls[0][-2:] == ["--tenant", "72f988bf-86f1-41af-91ab-2d7cd011db47"]


def test_discovered_tenant_and_login_hint(fake_az: FakeAz, routed: AdoWorld) -> None:
    """The feed's tenant goes to az; a failure then says which tenant to log in to."""
    routed.state.add_feed("contoso", "feed")
    fake_az.configure("aadsts")
    with pytest.raises(SourceFailed, match=f"try `az login --tenant {TENANT}`"):
        configured(AzureCliSource, Settings.from_environ(os.environ)).get_token(
            request(feed(), Settings.from_environ(os.environ))
        )
    assert fake_az.calls[0][-2:] == ["--tenant", TENANT]


def test_no_tenant_for_msa_organisations(fake_az: FakeAz, routed: AdoWorld) -> None:
    """An organisation without a tenant (MSA-backed) never gets --tenant, least of all the zero GUID."""
    routed.state.add_feed("msaorg", "feed")
    routed.state.msa_orgs.add("msaorg")
    fake_az.configure("token", jwt())
    msa_feed = feed("https://pkgs.dev.azure.com/msaorg/_packaging/feed/pypi/simple/")
    configured(AzureCliSource, Settings.from_environ(os.environ)).get_token(
        request(msa_feed, Settings.from_environ(os.environ))
    )
    assert "--tenant" not in fake_az.calls[0]


def test_not_installed() -> None:
    """No az on PATH: unavailable, without starting anything."""
    with pytest.raises(SourceUnavailable, match=r"the Azure CLI \(az\) is not on PATH"):
        configured(AzureCliSource, config()).get_token(request(feed(), config()))


def test_not_logged_in(fake_az: FakeAz) -> None:
    """az not logged in: unavailable, with the hint to run az login."""
    with pytest.raises(SourceUnavailable, match="run `az login`"):
        configured(AzureCliSource, config()).get_token(request(feed(), config()))


def test_entra_error_is_failed_and_redacted(fake_az: FakeAz) -> None:
    """An AADSTS error stops the chain; anything token-shaped in az's output is masked."""
    canary = jwt()
    fake_az.configure("aadsts", canary)
    with pytest.raises(SourceFailed, match="AADSTS700082") as caught:
        configured(AzureCliSource, config()).get_token(request(feed(), config()))
    assert not leaked(canary, str(caught.value))
    assert "***" in str(caught.value)


def test_garbage_output_is_failed_and_redacted(fake_az: FakeAz) -> None:
    """Output that is not JSON fails with a quote of it, secrets masked."""
    canary = "Q" * 52
    fake_az.configure("garbage", canary)
    with pytest.raises(SourceFailed, match="printed something that is not a token") as caught:
        configured(AzureCliSource, config()).get_token(request(feed(), config()))
    assert not leaked(canary, str(caught.value))


def test_hang_is_bounded(fake_az: FakeAz) -> None:
    """An az that never answers is killed after KEYRING_ADO_AZ_TIMEOUT seconds."""
    fake_az.configure("hang")
    started = time.monotonic()
    with pytest.raises(SourceFailed, match=r"az did not answer within 1 s"):
        configured(AzureCliSource, config(KEYRING_ADO_AZ_TIMEOUT="1")).get_token(
            request(feed(), config(KEYRING_ADO_AZ_TIMEOUT="1"))
        )
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "Pacific/Chatham"])
@pytest.mark.parametrize("old", [False, True], ids=["expires_on", "expiresOn-only"])
def test_expiry_is_right_in_any_time_zone(
    fake_az: FakeAz, monkeypatch: pytest.MonkeyPatch, zone: str, old: bool
) -> None:
    """az's expiresOn is naive local time (older az prints nothing else): read as UTC it is hours
    off; the machine running in UTC hid that."""
    if not Path("/usr/share/zoneinfo", zone).exists():
        pytest.skip(f"no time zone data for {zone}")
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        fake_az.configure("token", jwt(), lifetime=1800, old=old)
        token = configured(AzureCliSource, config(TZ=zone)).get_token(request(feed(), config(TZ=zone)))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert token.expires_on is not None
    assert abs(token.expires_on - (time.time() + 1800)) < 30
