"""Service principal, workload identity, GitHub OIDC and Pipelines OIDC against the fake Entra ID."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keyring_ado.errors import SourceFailed, SourceUnavailable
from keyring_ado.settings import Settings
from keyring_ado.sources.base import Source
from keyring_ado.sources.github_oidc import GitHubOidcSource
from keyring_ado.sources.pipelines_oidc import PipelinesOidcSource
from keyring_ado.sources.service_principal import ServicePrincipalSource
from keyring_ado.sources.workload_identity import WorkloadIdentitySource
from keyring_ado.token import Kind
from tests.conftest import FOREIGN_TOKEN_HOSTS, AdoWorld
from tests.fakes import entra
from tests.fakes.artifacts import TENANT
from tests.helpers import configured, leaked, request

#: The rest of an Azure Pipelines job's SYSTEM_OIDCREQUESTURI, after the organisation (or project).
OIDC_PATH = "_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken"
PROJECT = "8f0e0000-0000-4000-8000-000000000000"
GITHUB_LOOKALIKE, PIPELINES_LOOKALIKE = FOREIGN_TOKEN_HOSTS


def current(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return Settings.from_environ(os.environ)


def test_service_principal_secret(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """AZURE_CLIENT_ID/TENANT_ID/CLIENT_SECRET: a client-credentials token the feed accepts."""
    client_id, secret = routed.entra.add_secret_client()
    settings = current(monkeypatch, AZURE_CLIENT_ID=client_id, AZURE_TENANT_ID=TENANT, AZURE_CLIENT_SECRET=secret)
    source = configured(ServicePrincipalSource, settings)
    identity = source.identity(request())
    assert (identity.source, identity.ci) == ("sp", True)
    assert client_id in identity.parts
    assert secret in identity.parts, "the secret identifies the credential (it is only ever hashed)"
    assert not leaked(secret, repr(identity))
    token = source.get_token(request())
    assert (token.kind, token.source) == (Kind.ENTRA, "service principal")
    assert routed.entra.valid_for(token.secret, TENANT)
    assert entra.claims_of(token.secret)["appid"] == client_id


def test_service_principal_wrong_secret(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rejected secret fails with Entra's code and without the secret."""
    client_id, _ = routed.entra.add_secret_client()
    wrong = "Wr0ng-secret-value-that-is-long-enough"
    settings = current(monkeypatch, AZURE_CLIENT_ID=client_id, AZURE_TENANT_ID=TENANT, AZURE_CLIENT_SECRET=wrong)
    with pytest.raises(SourceFailed, match="AADSTS7000215") as caught:
        configured(ServicePrincipalSource, settings).get_token(request())
    assert not leaked(wrong, str(caught.value))


@pytest.mark.parametrize("tenant", ["contoso tenant", "organizations", "72f988bf-86f1-41af-91ab-2d7cd011db4"])
def test_a_tenant_that_is_no_tenant_is_one_line_before_any_request(routed: AdoWorld, tenant: str) -> None:
    """An AZURE_TENANT_ID (or the service connection's) that is neither a GUID nor a domain is the
    source's failure, named, before any request: azure-identity raised a ValueError from deep inside
    it, which the chain could only call a bug. Its value is not shown."""
    client_id, secret = routed.entra.add_secret_client()
    connected = list(routed.proxy.connects)
    principal = ServicePrincipalSource(client_id=client_id, tenant_id=tenant, client_secret=secret)
    with pytest.raises(SourceFailed) as caught:
        principal.get_token(request())
    assert str(caught.value) == (
        "AZURE_TENANT_ID is neither a tenant id (a GUID) nor a domain (its value is not shown); set it to the "
        "tenant of the app registration (the Directory (tenant) ID on its overview page)"
    )
    connection = PipelinesOidcSource(
        request_uri="https://dev.azure.com/contoso/oidc",
        service_connection_id="66666666-2222-3333-4444-555555555555",
        access_token="job-token",
        collection_uri="https://dev.azure.com/contoso/",
        client_id=client_id,
        tenant_id=tenant,
    )
    with pytest.raises(SourceFailed, match=r"^AZURESUBSCRIPTION_TENANT_ID \(or AZURE_TENANT_ID\) is neither"):
        connection.identity(request())
    federated = (
        WorkloadIdentitySource(client_id=client_id, tenant_id=tenant, token_file=__file__),
        GitHubOidcSource(
            client_id=client_id,
            tenant_id=tenant,
            request_url="https://run-actions-1.actions.githubusercontent.com/token",
            request_token="request-token",
        ),
    )
    for source in federated:
        with pytest.raises(SourceFailed, match=r"^AZURE_TENANT_ID is neither a tenant id"):
            source.get_token(request())
    assert routed.proxy.connects == connected, "nothing was sent"
    domain = ServicePrincipalSource(client_id=client_id, tenant_id="Contoso.onmicrosoft.com", client_secret=secret)
    assert domain.identity(request()).parts[1] == "contoso.onmicrosoft.com", "a domain is a tenant"


def test_service_principal_certificate(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """AZURE_CLIENT_CERTIFICATE_PATH: azure-identity signs an assertion with the certificate."""
    import trustme

    pem = tmp_path / "sp.pem"
    rsa = trustme.KeyType.RSA
    issued = trustme.CA(key_type=rsa).issue_cert("sp.contoso.test", key_type=rsa)
    pem.write_bytes(issued.private_key_and_cert_chain_pem.bytes())
    client_id = routed.entra.add_certificate_client(issued.cert_chain_pems[0].bytes())
    settings = current(
        monkeypatch, AZURE_CLIENT_ID=client_id, AZURE_TENANT_ID=TENANT, AZURE_CLIENT_CERTIFICATE_PATH=str(pem)
    )
    token = configured(ServicePrincipalSource, settings).get_token(request())
    assert routed.entra.valid_for(token.secret, TENANT)
    pem.write_text("not a certificate")
    with pytest.raises(SourceFailed, match="cannot use AZURE_CLIENT_CERTIFICATE_PATH"):
        configured(ServicePrincipalSource, settings).get_token(request())


def test_workload_identity_file(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """AZURE_FEDERATED_TOKEN_FILE: the file's assertion is exchanged; a missing file fails clearly."""
    client_id = routed.entra.add_federated_client()
    token_file = tmp_path / "token"
    token_file.write_text(routed.entra.issue_assertion("system:serviceaccount:default:app") + "\n")
    settings = current(
        monkeypatch, AZURE_CLIENT_ID=client_id, AZURE_TENANT_ID=TENANT, AZURE_FEDERATED_TOKEN_FILE=str(token_file)
    )
    token = configured(WorkloadIdentitySource, settings).get_token(request())
    assert routed.entra.valid_for(token.secret, TENANT)
    token_file.unlink()
    with pytest.raises(SourceFailed, match="cannot read AZURE_FEDERATED_TOKEN_FILE"):
        configured(WorkloadIdentitySource, settings).get_token(request())


def test_github_oidc_fresh_assertion_each_time(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub Actions OIDC: one GitHub ID-token request per exchange, with the right audience."""
    client_id = routed.entra.add_federated_client()
    settings = current(
        monkeypatch,
        AZURE_CLIENT_ID=client_id,
        AZURE_TENANT_ID=TENANT,
        ACTIONS_ID_TOKEN_REQUEST_URL=f"https://{entra.GITHUB_HOST}/_apis/oidctoken?api-version=2.0",
        ACTIONS_ID_TOKEN_REQUEST_TOKEN=routed.entra.github_request_token,
    )
    routed.state.reset_log()
    for _ in range(2):
        token = configured(GitHubOidcSource, settings).get_token(request())
        assert routed.entra.valid_for(token.secret, TENANT)
    asked = routed.state.received(entra.GITHUB_HOST)
    assert len(asked) == 2
    assert all("audience=api://AzureADTokenExchange" in r.path for r in asked)


def test_github_oidc_bad_request_token(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub refusing the request token: failed, with the status, never the token."""
    client_id = routed.entra.add_federated_client()
    bad = "not-the-request-token-0123456789abcdef"
    settings = current(
        monkeypatch,
        AZURE_CLIENT_ID=client_id,
        AZURE_TENANT_ID=TENANT,
        ACTIONS_ID_TOKEN_REQUEST_URL=f"https://{entra.GITHUB_HOST}/_apis/oidctoken?api-version=2.0",
        ACTIONS_ID_TOKEN_REQUEST_TOKEN=bad,
    )
    with pytest.raises(SourceFailed, match="answered 401") as caught:
        configured(GitHubOidcSource, settings).get_token(request())
    assert not leaked(bad, str(caught.value))


def test_pipelines_service_connection(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """SYSTEM_OIDCREQUESTURI + a service connection: an Entra token without az."""
    client_id = routed.entra.add_federated_client()
    settings = current(
        monkeypatch,
        SYSTEM_COLLECTIONURI="https://dev.azure.com/contoso/",
        SYSTEM_OIDCREQUESTURI=f"https://{entra.PIPELINES_HOST}/contoso/{OIDC_PATH}",
        AZURESUBSCRIPTION_SERVICE_CONNECTION_ID="3c1f9b0e-0000-4000-8000-000000000001",
        AZURESUBSCRIPTION_CLIENT_ID=client_id,
        AZURESUBSCRIPTION_TENANT_ID=TENANT,
        SYSTEM_ACCESSTOKEN=routed.entra.pipelines_job_token,
    )
    token = configured(PipelinesOidcSource, settings).get_token(request())
    assert routed.entra.valid_for(token.secret, TENANT)
    posted = routed.state.received(entra.PIPELINES_HOST)[-1]
    assert posted.method == "POST"
    assert "serviceConnectionId=3c1f9b0e-0000-4000-8000-000000000001" in posted.path


def refused_before_any_request(routed: AdoWorld, source: GitHubOidcSource | PipelinesOidcSource) -> str:
    """The one line *source* fails with, having sent nothing anywhere (no fake was asked, the proxy saw no CONNECT)."""
    routed.state.reset_log()
    connects = len(routed.proxy.connects)
    with pytest.raises(SourceFailed) as caught:
        source.get_token(request())
    assert nothing_sent(routed, connects)
    return str(caught.value)


def nothing_sent(world: AdoWorld, connects_before: int) -> bool:
    """No request reached any fake, and nothing asked the proxy for a connection."""
    return world.state.received() == [] and world.proxy.connects[connects_before:] == []


@pytest.mark.parametrize(
    ("url", "server"),
    [
        (f"https://{GITHUB_LOOKALIKE}/_apis/oidctoken?api-version=2.0", None),  # served by the fake
        (f"http://{entra.GITHUB_HOST}/_apis/oidctoken?api-version=2.0", None),
        ("https://evilactions.githubusercontent.com/_apis/oidctoken", None),
        ("https://raw.githubusercontent.com/contoso/app/main/oidctoken", None),
        (f"https://{GITHUB_LOOKALIKE}?@{entra.GITHUB_HOST}/_apis/oidctoken", None),
        (f"https://{entra.GITHUB_HOST}@{GITHUB_LOOKALIKE}/_apis/oidctoken", None),
        (f"https://{GITHUB_LOOKALIKE}\\@{entra.GITHUB_HOST}/_apis/oidctoken", None),
        (f"https://{entra.GITHUB_HOST}:8443/_apis/oidctoken", None),
        ("https://ghes.contoso.test/_services/pipelines/_apis/oidctoken", None),  # no GITHUB_SERVER_URL
        ("https://ghes.contoso.test.evil.example/_apis/oidctoken", "https://ghes.contoso.test"),
        ("https://evilghes.contoso.test/_apis/oidctoken", "https://ghes.contoso.test"),
    ],
)
def test_github_request_token_goes_only_to_githubs_token_service(
    url: str, server: str | None, routed: AdoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ACTIONS_ID_TOKEN_REQUEST_TOKEN went to whatever ACTIONS_ID_TOKEN_REQUEST_URL named: now only
    https on *.actions.githubusercontent.com (or GitHub Enterprise Server's own host) gets it, and
    anything else is one line with no request at all (issue 14, item 7)."""
    settings = current(
        monkeypatch,
        AZURE_CLIENT_ID=routed.entra.add_federated_client(),
        AZURE_TENANT_ID=TENANT,
        ACTIONS_ID_TOKEN_REQUEST_URL=url,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN=routed.entra.github_request_token,
        **({"GITHUB_SERVER_URL": server} if server else {}),
    )
    said = refused_before_any_request(routed, configured(GitHubOidcSource, settings))
    assert said.startswith("ACTIONS_ID_TOKEN_REQUEST_URL (")
    assert "is not an https URL on GitHub's token service (*.actions.githubusercontent.com" in said
    assert "so ACTIONS_ID_TOKEN_REQUEST_TOKEN was not sent" in said
    assert not leaked(routed.entra.github_request_token, said)


@pytest.mark.parametrize(
    ("url", "server"),
    [
        (
            "https://pipelines.actions.githubusercontent.com/Ab12/00000000-0000-0000-0000-000000000000/_apis/"
            "distributedtask/hubs/Actions/plans/p/jobs/j/idtoken?api-version=2.0",
            None,
        ),
        ("https://run-actions-1-azure-eastus.actions.githubusercontent.com/55/idtoken/p/j?api-version=2.0", None),
        (
            "https://ghes.contoso.test/_services/pipelines/_apis/distributedtask/hubs/Actions/plans/p/jobs/j/idtoken",
            "https://GHES.contoso.test/",
        ),
        ("https://pipelines.ghes.contoso.test/_apis/idtoken", "https://ghes.contoso.test"),
    ],
)
def test_githubs_token_service_hosts_are_accepted(
    url: str, server: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hosts GitHub's runners use (github.com's two shapes, an Enterprise Server and a subdomain
    of it) pass the check."""
    settings = current(
        monkeypatch,
        AZURE_CLIENT_ID="c",
        AZURE_TENANT_ID=TENANT,
        ACTIONS_ID_TOKEN_REQUEST_URL=url,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN="t",
        **({"GITHUB_SERVER_URL": server} if server else {}),
    )
    assert configured(GitHubOidcSource, settings).identity(request()).source == "gh"


def pipelines_job(monkeypatch: pytest.MonkeyPatch, world: AdoWorld, uri: str, collection: str | None) -> Settings:
    return current(
        monkeypatch,
        SYSTEM_OIDCREQUESTURI=uri,
        AZURESUBSCRIPTION_SERVICE_CONNECTION_ID="3c1f9b0e-0000-4000-8000-000000000001",
        AZURESUBSCRIPTION_CLIENT_ID=world.entra.add_federated_client(),
        AZURESUBSCRIPTION_TENANT_ID=TENANT,
        SYSTEM_ACCESSTOKEN=world.entra.pipelines_job_token,
        **({"SYSTEM_COLLECTIONURI": collection} if collection else {}),
    )


@pytest.mark.parametrize(
    "uri",
    [
        f"https://{entra.PIPELINES_HOST}/fabrikam/{OIDC_PATH}",  # served by the fake: another organisation
        f"http://{entra.PIPELINES_HOST}/contoso/{OIDC_PATH}",
        f"https://{PIPELINES_LOOKALIKE}/contoso/{OIDC_PATH}",  # served by the fake
        f"https://fabrikam.visualstudio.com/{OIDC_PATH}",
        f"https://contoso.visualstudio.com.evil.example/{OIDC_PATH}",
        f"https://{entra.PIPELINES_HOST}/contoso/../fabrikam/{OIDC_PATH}",
        f"https://{PIPELINES_LOOKALIKE}?@{entra.PIPELINES_HOST}/contoso/{OIDC_PATH}",
        f"https://{entra.PIPELINES_HOST}:8443/contoso/{OIDC_PATH}",
        f"https://vssps.dev.azure.com/contoso/{OIDC_PATH}",
    ],
)
def test_job_token_goes_only_to_the_jobs_organisation(
    uri: str, routed: AdoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SYSTEM_ACCESSTOKEN went to whatever SYSTEM_OIDCREQUESTURI named: now only https on Azure DevOps
    in the organisation of SYSTEM_COLLECTIONURI gets it; anything else is one line and no request
    (issue 14, item 7)."""
    settings = pipelines_job(monkeypatch, routed, uri, "https://dev.azure.com/contoso/")
    said = refused_before_any_request(routed, configured(PipelinesOidcSource, settings))
    assert said.startswith("SYSTEM_OIDCREQUESTURI (")
    assert "is not an https URL of the organisation contoso (dev.azure.com/contoso/" in said
    assert "so SYSTEM_ACCESSTOKEN was not sent" in said
    assert not leaked(routed.entra.pipelines_job_token, said)


@pytest.mark.parametrize("collection", [None, "https://tfs.contoso.test/DefaultCollection/", "contoso"])
def test_job_token_not_sent_without_the_jobs_organisation(
    collection: str | None, routed: AdoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SYSTEM_COLLECTIONURI naming an Azure DevOps Services organisation, nothing says where the
    job token may go: it is not sent (issue 14, item 7)."""
    settings = pipelines_job(monkeypatch, routed, f"https://{entra.PIPELINES_HOST}/contoso/{OIDC_PATH}", collection)
    routed.state.reset_log()
    connects = len(routed.proxy.connects)
    with pytest.raises(SourceFailed, match=r"^SYSTEM_OIDCREQUESTURI cannot be checked: SYSTEM_COLLECTIONURI is"):
        configured(PipelinesOidcSource, settings).identity(request())
    with pytest.raises(SourceFailed, match="so SYSTEM_ACCESSTOKEN was not sent"):
        configured(PipelinesOidcSource, settings).get_token(request())
    assert nothing_sent(routed, connects)


@pytest.mark.parametrize(
    ("uri", "collection"),
    [
        (
            f"https://dev.azure.com/Contoso/{PROJECT}/{OIDC_PATH}",
            "https://dev.azure.com/contoso/",
        ),
        (
            f"https://contoso.visualstudio.com/{PROJECT}/{OIDC_PATH}",
            "https://dev.azure.com/contoso/",
        ),
        (f"https://dev.azure.com/contoso/{OIDC_PATH}", "https://contoso.visualstudio.com/"),
        (f"https://vsrm.dev.azure.com/contoso/{OIDC_PATH}", "https://dev.azure.com/contoso/"),
        (f"https://contoso.vsrm.visualstudio.com/{OIDC_PATH}", "https://contoso.visualstudio.com/"),
    ],
)
def test_the_jobs_organisation_is_accepted_in_each_spelling(
    uri: str, collection: str, routed: AdoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dev.azure.com/{org} and {org}.visualstudio.com, either way round, and classic release
    pipelines' vsrm hosts, pass the check."""
    settings = pipelines_job(monkeypatch, routed, uri, collection)
    assert configured(PipelinesOidcSource, settings).identity(request()).source == "sc"


def test_entra_outage_is_failed_and_bounded(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entra answering 500: one retry at most, then a clear failure."""
    client_id, secret = routed.entra.add_secret_client()
    routed.entra.failing = 5
    settings = current(monkeypatch, AZURE_CLIENT_ID=client_id, AZURE_TENANT_ID=TENANT, AZURE_CLIENT_SECRET=secret)
    try:
        with pytest.raises(SourceFailed, match="Entra ID refused the token request"):
            configured(ServicePrincipalSource, settings).get_token(request())
        assert routed.entra.failing >= 3, "at most one retry"
    finally:
        routed.entra.failing = 0


def test_entra_unreachable_says_so(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """A network that cannot reach Entra ID is not "Entra refused": the message tells them apart."""
    client_id, secret = routed.entra.add_secret_client()
    settings = current(
        monkeypatch,
        AZURE_CLIENT_ID=client_id,
        AZURE_TENANT_ID=TENANT,
        AZURE_CLIENT_SECRET=secret,
        AZURE_AUTHORITY_HOST="https://login.unrouted.test",  # the proxy refuses to connect there
    )
    with pytest.raises(SourceFailed, match=r"^could not reach Entra ID: .*403.*check the network") as caught:
        configured(ServicePrincipalSource, settings).get_token(request())
    assert not leaked(secret, str(caught.value))


@pytest.mark.parametrize(
    ("kind", "environ", "reason"),
    [
        (ServicePrincipalSource, {}, "AZURE_CLIENT_ID is not set"),
        (ServicePrincipalSource, {"AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"}, "neither AZURE_CLIENT_SECRET"),
        (WorkloadIdentitySource, {"AZURE_CLIENT_ID": "c"}, "AZURE_FEDERATED_TOKEN_FILE is not set"),
        (GitHubOidcSource, {"AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"}, "id-token: write"),
        (PipelinesOidcSource, {}, "not an Azure Pipelines job"),
        (PipelinesOidcSource, {"SYSTEM_OIDCREQUESTURI": "https://x/"}, "no service connection id"),
    ],
)
def test_unavailable_without_variables(
    kind: type[Source], environ: dict[str, str], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each identity source says which variable is missing, at no cost."""
    settings = current(monkeypatch, **environ)
    with pytest.raises(SourceUnavailable, match=reason):
        configured(kind, settings).identity(request())


def test_entra_garbage_is_failed(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entra answering 200 with something that is not a token: a clear failure, no crash."""
    client_id, secret = routed.entra.add_secret_client()
    routed.entra.garbage = 3
    settings = current(monkeypatch, AZURE_CLIENT_ID=client_id, AZURE_TENANT_ID=TENANT, AZURE_CLIENT_SECRET=secret)
    try:
        with pytest.raises(SourceFailed, match=r"^Entra ID refused the token request") as caught:
            configured(ServicePrincipalSource, settings).get_token(request())
    finally:
        routed.entra.garbage = 0
    assert not leaked(secret, str(caught.value))
