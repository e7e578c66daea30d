"""An Azure Pipelines workload-identity service connection, without az: ``SYSTEM_OIDCREQUESTURI`` +
a service connection id + ``SYSTEM_ACCESSTOKEN`` give an ID token that Entra ID exchanges for the
service connection's application.

The job token goes only to https in the job's own organisation: any other URL is refused before a
request. Unavailable, at no cost, unless the variables are set; azure-identity is imported only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import variables as names
from ..errors import SourceFailed, SourceUnavailable
from ..feeds import ascii_lower, organization_of_collection
from ._entra import ClientAssertion, Entra, application_identity, check_tenant
from ._oidc import fetch_assertion, https_request, shown
from .base import Source

if TYPE_CHECKING:
    from ..token import Token
    from .base import Identity, Request


class PipelinesOidcSource(Source):
    """An Azure Pipelines workload-identity service connection, without az."""

    name = "Azure Pipelines service connection"

    def __init__(
        self,
        *,
        request_uri: str | None = None,
        service_connection_id: str | None = None,
        access_token: str | None = None,
        collection_uri: str | None = None,
        client_id: str | None = None,
        tenant_id: str | None = None,
        entra: Entra = Entra(),  # noqa: B008 - an immutable record
    ) -> None:
        self.request_uri, self.service_connection_id = request_uri, service_connection_id
        self.access_token, self.collection_uri = access_token, collection_uri
        self.client_id = client_id
        """The service connection's application: ``AZURESUBSCRIPTION_CLIENT_ID``, else ``AZURE_CLIENT_ID``."""
        self.tenant_id = tenant_id
        """``AZURESUBSCRIPTION_TENANT_ID``, else ``AZURE_TENANT_ID``."""
        self.entra = entra

    def _ids(self) -> tuple[str, str]:
        if not self.request_uri:
            raise SourceUnavailable(f"{names.OIDC_REQUEST_URI} is not set (not an Azure Pipelines job)")
        if not self.service_connection_id:
            raise SourceUnavailable(
                f"no service connection id: set {names.SERVICE_CONNECTION_ID[0]} (or run inside an AzureCLI@2 task)"
            )
        if not self.access_token:
            raise SourceUnavailable("SYSTEM_ACCESSTOKEN is not mapped into the step's environment")
        if not (self.client_id and self.tenant_id):
            raise SourceUnavailable(
                f"the service connection's {names.PIPELINES_CLIENT_ID}/{names.PIPELINES_TENANT_ID} "
                f"(or {names.CLIENT_ID}/{names.TENANT_ID}) are not set"
            )
        check_tenant(self.tenant_id, f"{names.PIPELINES_TENANT_ID} (or {names.TENANT_ID})")
        return self.client_id, self.tenant_id

    def identity(self, request: Request) -> Identity:
        client_id, tenant_id = self._ids()
        self._check_uri()
        job = (self.service_connection_id or "", self.request_uri or "", self.access_token or "")
        return application_identity("sc", self.entra.authority_host, tenant_id, client_id, *job)

    def get_token(self, request: Request) -> Token:
        client_id, tenant_id = self._ids()
        self._check_uri()
        url = f"{self.request_uri}?api-version=7.1&serviceConnectionId={self.service_connection_id}"
        headers = {
            "Authorization": f"Bearer {self.access_token}",
            "Content-Type": "application/json",
            "X-TFS-FedAuthRedirect": "Suppress",
        }

        def assertion() -> str:  # asked afresh for every exchange
            return fetch_assertion(url, "POST", headers, "oidcToken", self.entra)

        return self.entra.exchange(ClientAssertion(tenant_id, client_id, assertion), self.name)

    def _check_uri(self) -> None:
        """``SYSTEM_OIDCREQUESTURI`` must be https on Azure DevOps in the organisation of
        ``SYSTEM_COLLECTIONURI`` (``dev.azure.com/{org}``, ``{org}.visualstudio.com``, or their
        release-management twins): anywhere else the job token is not sent (SourceFailed)."""
        uri = self.request_uri or ""
        organization = organization_of_collection(self.collection_uri or "")
        if organization is None:
            raise SourceFailed(
                f"{names.OIDC_REQUEST_URI} cannot be checked: {names.COLLECTION_URI[0]} is missing or not an "
                f"Azure DevOps Services URL, so {names.SYSTEM_ACCESSTOKEN} was not sent; run in an Azure Pipelines "
                "job, which sets both"
            )
        org = organization.lower()
        found = https_request(uri)
        if found is not None:
            host, segments = found
            if host in {"dev.azure.com", "vsrm.dev.azure.com"} and [ascii_lower(s) for s in segments[:1]] == [org]:
                return
            if host in {f"{org}.visualstudio.com", f"{org}.vsrm.visualstudio.com"}:
                return
        raise SourceFailed(
            f"{names.OIDC_REQUEST_URI} ({shown(uri, self.entra.secrets, segments=1)}) is not an https URL of the "
            f"organisation {organization} (dev.azure.com/{organization}/ or {organization}.visualstudio.com, "
            f"from {names.COLLECTION_URI[0]}), so {names.SYSTEM_ACCESSTOKEN} was not sent; leave both as the "
            "agent sets them"
        )
