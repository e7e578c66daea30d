"""Azure Pipelines' SYSTEM_ACCESSTOKEN goes only to the job's own organisation."""

from __future__ import annotations

import pytest

from keyring_ado.errors import SourceUnavailable
from keyring_ado.sources.pipelines import AzurePipelinesSource
from keyring_ado.token import Kind
from tests.helpers import config, configured, feed, request

PIPELINE = {"TF_BUILD": "True", "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/", "SYSTEM_ACCESSTOKEN": "job"}


def test_same_organisation() -> None:
    """In a job of contoso, contoso's feeds (either host form) get the job token."""
    source = configured(AzurePipelinesSource, config(**PIPELINE))
    token = source.get_token(request(feed()))
    assert (token.secret, token.kind, token.source) == ("job", Kind.JOB, "SYSTEM_ACCESSTOKEN")
    legacy = feed("https://contoso.pkgs.visualstudio.com/_packaging/f/pypi/simple/")
    assert source.get_token(request(legacy)).secret == "job"


@pytest.mark.parametrize(
    ("environ", "reason"),
    [
        ({**PIPELINE, "SYSTEM_COLLECTIONURI": "https://dev.azure.com/fabrikam/"}, "belongs to fabrikam, not contoso"),
        ({k: v for k, v in PIPELINE.items() if k != "TF_BUILD"}, "TF_BUILD is not set"),
        (
            {k: v for k, v in PIPELINE.items() if k != "SYSTEM_ACCESSTOKEN"},
            r"SYSTEM_ACCESSTOKEN: \$\(System.AccessToken\)",
        ),
        ({k: v for k, v in PIPELINE.items() if k != "SYSTEM_COLLECTIONURI"}, "organisation is unknown"),
    ],
)
def test_never_another_organisation(environ: dict[str, str], reason: str) -> None:
    """Another org, no TF_BUILD, an unmapped token or no collection URI: unavailable, with why."""
    with pytest.raises(SourceUnavailable, match=reason):
        configured(AzurePipelinesSource, config(**environ)).get_token(request(feed()))


def test_bare_host_gets_nothing() -> None:
    """pkgs.dev.azure.com alone names no organisation: the job token is not guessed onto it."""
    with pytest.raises(SourceUnavailable, match="names no organisation"):
        configured(AzurePipelinesSource, config(**PIPELINE)).get_token(request(feed("pkgs.dev.azure.com")))


def test_dot_segments_do_not_carry_the_job_token_to_another_organisation() -> None:
    """``/contoso/_packaging/../../attacker/...`` is requested from attacker: no job token (review item 3)."""
    from keyring_ado.backend import AdoKeyring

    url = "https://pkgs.dev.azure.com/contoso/_packaging/../../attacker/_packaging/feed/pypi/simple/"
    with pytest.raises(SourceUnavailable, match="belongs to contoso, not attacker"):
        configured(AzurePipelinesSource, config(**PIPELINE)).get_token(request(feed(url)))
    import os

    os.environ.update(PIPELINE)
    try:
        assert AdoKeyring().get_password(url, "VssSessionToken") is None
        assert AdoKeyring().get_password(url.replace("../../attacker/_packaging/", ""), "u") == "job"
    finally:
        for name in PIPELINE:
            os.environ.pop(name)
