"""GitHub Actions OIDC: ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``_TOKEN`` with ``AZURE_CLIENT_ID`` +
``AZURE_TENANT_ID``; a fresh GitHub assertion (audience ``api://AzureADTokenExchange``) for every
exchange, so an expired one never breaks a long job.

The request token goes only to https on ``*.actions.githubusercontent.com`` (or GitHub Enterprise
Server's host): any other URL is refused before a request. Unavailable, at no cost, unless the
variables are set; azure-identity is imported only then.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from .. import variables as names
from ..errors import SourceFailed, SourceUnavailable
from ._entra import ClientAssertion, Entra, application, application_identity, check_tenant
from ._oidc import fetch_assertion, https_request, shown
from .base import Source

if TYPE_CHECKING:
    from ..token import Token
    from .base import Identity, Request

ASSERTION_AUDIENCE = "api://AzureADTokenExchange"
#: GitHub's token service: the runner's ``ACTIONS_ID_TOKEN_REQUEST_URL`` is on a subdomain of it
#: (``pipelines.actions.githubusercontent.com``, ``run-actions-*.actions.githubusercontent.com``).
GITHUB_ACTIONS_DOMAIN = "actions.githubusercontent.com"


class GitHubOidcSource(Source):
    """GitHub Actions OIDC: a fresh ID token for every exchange (``permissions: id-token: write``)."""

    name = "GitHub Actions OIDC"

    def __init__(
        self,
        *,
        client_id: str | None = None,
        tenant_id: str | None = None,
        request_url: str | None = None,
        request_token: str | None = None,
        server_url: str | None = None,
        entra: Entra = Entra(),  # noqa: B008 - an immutable record
    ) -> None:
        self.client_id, self.tenant_id = client_id, tenant_id
        self.request_url, self.request_token, self.server_url = request_url, request_token, server_url
        self.entra = entra

    def identity(self, request: Request) -> Identity:
        if not (self.request_url and self.request_token):
            raise SourceUnavailable(
                f"{names.GITHUB_REQUEST_URL} is not set (give the job `permissions: id-token: write`)"
            )
        client_id, tenant_id = application(self.client_id, self.tenant_id, self.name)
        check_tenant(tenant_id, names.TENANT_ID)
        self._check_url()
        return application_identity(
            "gh", self.entra.authority_host, tenant_id, client_id, self.request_url, self.request_token
        )

    def get_token(self, request: Request) -> Token:
        self.identity(request)
        client_id, tenant_id = application(self.client_id, self.tenant_id, self.name)
        url = self.request_url or ""
        url += ("&" if "?" in url else "?") + f"audience={ASSERTION_AUDIENCE}"
        headers = {"Authorization": f"Bearer {self.request_token}", "Accept": "application/json"}

        def assertion() -> str:  # asked afresh for every exchange
            return fetch_assertion(url, "GET", headers, "value", self.entra)

        return self.entra.exchange(ClientAssertion(tenant_id, client_id, assertion), self.name)

    def _check_url(self) -> None:
        """``ACTIONS_ID_TOKEN_REQUEST_URL`` must be https on GitHub's token service (a subdomain of
        ``actions.githubusercontent.com``) or, on GitHub Enterprise Server, on ``GITHUB_SERVER_URL``'s
        host or a subdomain of it: anywhere else the request token is not sent (SourceFailed)."""
        url = self.request_url or ""
        server = _host_of(self.server_url or "")
        found = https_request(url)
        host = found[0] if found else ""
        if host.endswith(f".{GITHUB_ACTIONS_DOMAIN}") or (server and (host == server or host.endswith(f".{server}"))):
            return
        also = f" or {server} (GITHUB_SERVER_URL) and its subdomains" if server else ""
        raise SourceFailed(
            f"{names.GITHUB_REQUEST_URL} ({shown(url, self.entra.secrets)}) is not an https URL on GitHub's token "
            f"service (*.{GITHUB_ACTIONS_DOMAIN}{also}), so {names.GITHUB_REQUEST_TOKEN} was not sent; "
            "leave both as the GitHub runner sets them"
        )


def _host_of(url: str) -> str:
    """The host of *url* in lower case, as urllib reads it; empty when it has none."""
    try:
        return urllib.parse.urlsplit(url).hostname or ""
    except ValueError:
        return ""
