"""Workload identity: a federated token from ``AZURE_FEDERATED_TOKEN_FILE`` (Kubernetes workload
identity and the like), re-read for every exchange, with ``AZURE_CLIENT_ID`` + ``AZURE_TENANT_ID``.

Unavailable, at no cost, unless those variables are set; azure-identity is imported only then.
Every request has a timeout and at most one retry.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import variables as names
from ..errors import SourceFailed, SourceUnavailable
from ._entra import ClientAssertion, Entra, application, application_identity, check_tenant, file_digest, regular_file
from .base import Source

if TYPE_CHECKING:
    from ..token import Token
    from .base import Identity, Request


class WorkloadIdentitySource(Source):
    """A federated token from a file (AKS workload identity and the like)."""

    name = "workload identity"

    def __init__(
        self,
        *,
        client_id: str | None = None,
        tenant_id: str | None = None,
        token_file: str | None = None,
        entra: Entra = Entra(),  # noqa: B008 - an immutable record
    ) -> None:
        self.client_id, self.tenant_id, self.token_file = client_id, tenant_id, token_file
        self.entra = entra

    def identity(self, request: Request) -> Identity:
        path = self.token_file
        if not path:
            raise SourceUnavailable(f"{names.FEDERATED_TOKEN_FILE} is not set")
        client_id, tenant_id = application(self.client_id, self.tenant_id, self.name)
        check_tenant(tenant_id, names.TENANT_ID)
        found = application_identity("wi", self.entra.authority_host, tenant_id, client_id, path, file_digest(path))
        return found._replace(files=(path,))

    def get_token(self, request: Request) -> Token:
        self.identity(request)
        client_id, tenant_id = application(self.client_id, self.tenant_id, self.name)
        path = Path(self.token_file or "")

        def assertion() -> str:
            try:
                text = regular_file(str(path)).decode("utf-8", "replace").strip()
            except OSError as exc:
                raise SourceFailed(
                    f"cannot read {names.FEDERATED_TOKEN_FILE} ({path}): {exc.strerror or exc}; "
                    "check the pod's service account token projection"
                ) from None
            if not text:
                raise SourceFailed(f"{names.FEDERATED_TOKEN_FILE} ({path}) is empty")
            return text

        return self.entra.exchange(ClientAssertion(tenant_id, client_id, assertion), self.name)
