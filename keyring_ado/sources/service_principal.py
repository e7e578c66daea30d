"""A service principal, through azure-identity: ``AZURE_CLIENT_ID`` + ``AZURE_TENANT_ID`` with
``AZURE_CLIENT_SECRET`` or ``AZURE_CLIENT_CERTIFICATE_PATH``.

Unavailable, at no cost, unless those variables are set; azure-identity is imported only then.
Every request has a timeout and at most one retry.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .. import variables as names
from ..errors import SourceFailed, SourceUnavailable
from ._entra import (
    Certificate,
    ClientSecret,
    Entra,
    UnusableCertificate,
    application,
    application_identity,
    check_tenant,
    file_digest,
)
from .base import Source

if TYPE_CHECKING:
    from ..token import Token
    from .base import Identity, Request


class ServicePrincipalSource(Source):
    """A service principal's secret or certificate from the Azure SDK's variables."""

    name = "service principal"

    def __init__(
        self,
        *,
        client_id: str | None = None,
        tenant_id: str | None = None,
        client_secret: str | None = None,
        certificate_path: str | None = None,
        certificate_password: str | None = None,
        entra: Entra = Entra(),  # noqa: B008 - an immutable record
    ) -> None:
        self.client_id, self.tenant_id, self.client_secret = client_id, tenant_id, client_secret
        self.certificate_path, self.certificate_password = certificate_path, certificate_password
        self.entra = entra

    def identity(self, request: Request) -> Identity:
        client_id, tenant_id = application(self.client_id, self.tenant_id, self.name)
        files: tuple[str, ...] = ()
        if self.client_secret:
            proof: tuple[str, ...] = ("secret", self.client_secret)
        elif self.certificate_path:
            path = self.certificate_path
            proof = ("certificate", path, file_digest(path), self.certificate_password or "")
            files = (os.path.abspath(path),)  # replaced at the same path: noticed by a running process
        else:
            raise SourceUnavailable(f"neither {names.CLIENT_SECRET} nor {names.CLIENT_CERTIFICATE_PATH} is set")
        check_tenant(tenant_id, names.TENANT_ID)
        return application_identity("sp", self.entra.authority_host, tenant_id, client_id, *proof)._replace(files=files)

    def get_token(self, request: Request) -> Token:
        self.identity(request)
        client_id, tenant_id = application(self.client_id, self.tenant_id, self.name)
        if self.client_secret:
            return self._exchange(ClientSecret(tenant_id, client_id, self.client_secret))
        path = self.certificate_path or ""
        try:
            return self._exchange(Certificate(tenant_id, client_id, path, self.certificate_password))
        except UnusableCertificate as exc:
            raise SourceFailed(
                f"cannot use {names.CLIENT_CERTIFICATE_PATH} ({self.certificate_path}): {exc}; "
                "it must be a PEM or PKCS12 file holding the certificate and its RSA private key"
            ) from None

    def _exchange(self, recipe: ClientSecret | Certificate) -> Token:
        return self.entra.exchange(recipe, self.name)
