"""KEYRING_ADO_PAT, KEYRING_ADO_TOKEN and AZURE_DEVOPS_EXT_PAT."""

from __future__ import annotations

import pytest

from keyring_ado.errors import SourceFailed, SourceUnavailable
from keyring_ado.sources.env import EnvironmentSource
from keyring_ado.token import Kind
from tests.fakes.az import jwt
from tests.helpers import feed, request

SERVER = frozenset({"tfs.contoso.test"})
SERVER_URL = "https://tfs.contoso.test/tfs/Default/_packaging/f/pypi/simple/"


def test_pat_first() -> None:
    """KEYRING_ADO_PAT answers every matched feed, before the token and the az devops PAT."""
    token = EnvironmentSource(pat="p", token=jwt(), ext_pat="x").get_token(request(feed()))
    assert (token.secret, token.kind, token.source) == ("p", Kind.PAT, "KEYRING_ADO_PAT")


def test_entra_token_with_its_expiry() -> None:
    """KEYRING_ADO_TOKEN is an Entra token; its JWT expiry is kept."""
    secret = jwt(lifetime=1800)
    token = EnvironmentSource(token=secret).get_token(request(feed()))
    assert token.kind is Kind.ENTRA
    assert token.expires_on is not None
    assert token.fresh(margin=1700)
    assert not token.fresh(margin=1900)


def test_expired_token_fails_with_advice() -> None:
    """An expired KEYRING_ADO_TOKEN stops the chain with what to do."""
    with pytest.raises(SourceFailed, match=r"KEYRING_ADO_TOKEN expired at .* put a fresh token in it"):
        EnvironmentSource(token=jwt(lifetime=-60)).get_token(request(feed()))


def test_az_devops_pat() -> None:
    """AZURE_DEVOPS_EXT_PAT, the az devops convention, is a PAT."""
    token = EnvironmentSource(ext_pat="x").get_token(request(feed()))
    assert (token.secret, token.source) == ("x", "AZURE_DEVOPS_EXT_PAT")


def test_server_gets_pat_never_token() -> None:
    """On Azure DevOps Server only a PAT is returned; a lone Entra token is refused with a reason."""
    server_feed = feed(SERVER_URL, SERVER)
    with pytest.raises(SourceUnavailable, match="never sent to an Azure DevOps Server host"):
        EnvironmentSource(token=jwt()).get_token(request(server_feed))
    token = EnvironmentSource(token=jwt(), ext_pat="x").get_token(request(server_feed))
    assert token.kind is Kind.PAT


def test_nothing_set() -> None:
    """No variable: unavailable, naming all three."""
    with pytest.raises(
        SourceUnavailable, match="KEYRING_ADO_PAT, KEYRING_ADO_TOKEN and AZURE_DEVOPS_EXT_PAT are not set"
    ):
        EnvironmentSource().get_token(request(feed()))
