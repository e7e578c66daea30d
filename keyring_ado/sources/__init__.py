"""The credential sources, and the order the chain asks them in.

To add a source, write one module here whose class keeps the contract of
:class:`~keyring_ado.sources.base.Source`, and add one entry to :func:`default_sources`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .compat import AccessTokenSource, ExternalFeedEndpointsSource
from .env import EnvironmentSource
from .pipelines import AzurePipelinesSource

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..settings import Settings
    from .base import Source


def default_sources(settings: Settings) -> Iterator[Source]:
    """The sources in the order they are asked, each configured from *settings*: the only place
    that reads settings for them. Made one at a time, as the chain gets to each: first the secrets
    given in the configuration, then the sources that sign in."""
    hosts, secrets, network, app = settings.server_hosts, settings.secrets, settings.network, settings.application
    clis = settings.clis

    environment = settings.environment
    yield EnvironmentSource(pat=environment.pat, token=environment.token, ext_pat=environment.ext_pat)

    provider = settings.provider
    yield ExternalFeedEndpointsSource(
        endpoints=provider.endpoints, variable=provider.endpoints_variable, server_hosts=hosts
    )
    yield AccessTokenSource(
        token=provider.access_token,
        variable=provider.access_token_variable,
        uri_prefixes=provider.uri_prefixes,
        server_hosts=hosts,
    )

    job = settings.pipelines
    yield AzurePipelinesSource(tf_build=job.tf_build, access_token=job.access_token, collection_uri=job.collection_uri)

    # The sources that sign in, with their plumbing (the token file, tenant discovery), are
    # imported only when the chain gets this far: a secret given in the configuration never pays.
    from .. import signing_in  # noqa: PLC0415 - the second lazy boundary (see keyring_ado.signing_in)

    entra = signing_in.Entra(network.authority_host, network.ca_bundle, secrets)
    yield signing_in.ServicePrincipalSource(
        client_id=app.client_id,
        tenant_id=app.tenant_id,
        client_secret=app.client_secret,
        certificate_path=app.certificate_path,
        certificate_password=app.certificate_password,
        entra=entra,
    )

    yield signing_in.WorkloadIdentitySource(
        client_id=app.client_id,
        tenant_id=app.tenant_id,
        token_file=app.federated_token_file,
        entra=entra,
    )

    github = settings.github
    yield signing_in.GitHubOidcSource(
        client_id=app.client_id,
        tenant_id=app.tenant_id,
        request_url=github.request_url,
        request_token=github.request_token,
        server_url=github.server_url,
        entra=entra,
    )

    yield signing_in.PipelinesOidcSource(
        request_uri=job.oidc_request_uri,
        service_connection_id=job.service_connection_id,
        access_token=job.access_token,
        collection_uri=job.collection_uri,
        client_id=job.client_id or app.client_id,
        tenant_id=job.tenant_id or app.tenant_id,
        entra=entra,
    )

    managed = settings.managed_identity
    yield signing_in.ManagedIdentitySource(identity=managed.identity, endpoints=managed.endpoints, secrets=secrets)

    yield signing_in.AzureCliSource(
        search_path=clis.search_path,
        pathext=clis.pathext,
        config_dir=clis.az_config_dir,
        timeout=clis.timeout,
        tenant=network.tenant,
        secrets=secrets,
    )

    yield signing_in.AzdSource(
        search_path=clis.search_path,
        pathext=clis.pathext,
        config_dir=clis.azd_config_dir,
        timeout=clis.timeout,
        tenant=network.tenant,
        secrets=secrets,
    )

    signin = settings.signin
    yield signing_in.SignInSource(
        cache_dir=settings.cache.directory,
        client_id=signin.client_id,
        timeout=signin.timeout,
        allow_unencrypted_cache=signin.allow_unencrypted_cache,
        display=signin.display,
        in_ci=settings.in_ci,
        non_interactive=settings.non_interactive,
        tenant=network.tenant,
        entra=entra,
    )
