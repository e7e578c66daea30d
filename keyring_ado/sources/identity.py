"""CI and service identities, through azure-identity: nothing but what the platform provides.

* :class:`ServicePrincipalSource`: ``AZURE_CLIENT_ID`` + ``AZURE_TENANT_ID`` with
  ``AZURE_CLIENT_SECRET`` or ``AZURE_CLIENT_CERTIFICATE_PATH``;
* :class:`WorkloadIdentitySource`: ``AZURE_FEDERATED_TOKEN_FILE`` (Kubernetes workload identity),
  re-read for every exchange;
* :class:`GitHubOidcSource`: GitHub Actions' ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``_TOKEN`` with
  ``AZURE_CLIENT_ID`` + ``AZURE_TENANT_ID``; a fresh GitHub assertion (audience
  ``api://AzureADTokenExchange``) for every exchange, so an expired one never breaks a long job;
* :class:`PipelinesOidcSource`: an Azure Pipelines workload-identity service connection
  (``SYSTEM_OIDCREQUESTURI`` + a service connection id + ``SYSTEM_ACCESSTOKEN``).

The CI platforms' secrets go only where the platform serves them: the GitHub request token to
https on ``*.actions.githubusercontent.com`` (or GitHub Enterprise Server's host), the Pipelines job
token to https in the job's own organisation; any other URL is refused before a request.

Each is unavailable, at no cost, unless its variables are set. azure-identity is imported only
then. Every request has a timeout and at most one retry.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _deadline, _http
from .. import settings as names
from .._redact import first_line, quote_output, redact
from ..discovery import DEFAULT_AUTHORITY_HOST, TRUSTED_AUTHORITY_HOSTS
from ..errors import SourceFailed, SourceUnavailable
from ..token import Kind, Token, sane_expiry
from .azure_cli import AZURE_DEVOPS_RESOURCE
from .base import Identity

if TYPE_CHECKING:
    from ..feeds import Feed
    from ..settings import Settings

SCOPE = f"{AZURE_DEVOPS_RESOURCE}/.default"
ASSERTION_AUDIENCE = "api://AzureADTokenExchange"
#: GitHub's token service: the runner's ``ACTIONS_ID_TOKEN_REQUEST_URL`` is on a subdomain of it
#: (``pipelines.actions.githubusercontent.com``, ``run-actions-*.actions.githubusercontent.com``).
GITHUB_ACTIONS_DOMAIN = "actions.githubusercontent.com"
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 15
#: The whole token request, retry and assertion fetch included, whatever a proxy or peer does.
TOTAL_TIMEOUT = 30.0
_log = logging.getLogger(__name__)


class ServicePrincipalSource:
    """A service principal's secret or certificate from the Azure SDK's variables."""

    name = "service principal"
    server_capable = False

    def identity(self, feed: Feed, settings: Settings) -> Identity:
        client_id, tenant_id = _app(settings, self.name)
        if settings.client_secret:
            proof: tuple[str, ...] = ("secret", settings.client_secret)
        elif settings.client_certificate_path:
            path = settings.client_certificate_path
            proof = ("certificate", path, _file_digest(path), settings.client_certificate_password or "")
        else:
            raise SourceUnavailable(f"neither {names.CLIENT_SECRET} nor {names.CLIENT_CERTIFICATE_PATH} is set")
        return _entra_identity("sp", settings, tenant_id, client_id, *proof)

    def get_token(self, feed: Feed, settings: Settings) -> Token:
        self.identity(feed, settings)
        client_id, tenant_id = _app(settings, self.name)
        import azure.identity  # noqa: PLC0415 - 0.2 s, only when configured

        if settings.client_secret:
            credential: Any = azure.identity.ClientSecretCredential(
                tenant_id, client_id, settings.client_secret, **_options(settings)
            )
            return exchange_token(credential, self.name, settings)
        try:
            _regular_file(settings.client_certificate_path or "")
            credential = azure.identity.CertificateCredential(
                tenant_id,
                client_id,
                settings.client_certificate_path,
                password=settings.client_certificate_password,
                **_options(settings),
            )
        except (OSError, ValueError, TypeError) as exc:
            reason = (
                exc.strerror if isinstance(exc, OSError) and exc.strerror else first_line(str(exc), prefer="AADSTS")
            )
            raise SourceFailed(
                f"cannot use {names.CLIENT_CERTIFICATE_PATH} ({settings.client_certificate_path}): {reason}; "
                "it must be a PEM or PKCS12 file holding the certificate and its RSA private key"
            ) from None
        return exchange_token(credential, self.name, settings)


class WorkloadIdentitySource:
    """A federated token from a file (AKS workload identity and the like)."""

    name = "workload identity"
    server_capable = False

    def identity(self, feed: Feed, settings: Settings) -> Identity:
        path = settings.federated_token_file
        if not path:
            raise SourceUnavailable(f"{names.FEDERATED_TOKEN_FILE} is not set")
        client_id, tenant_id = _app(settings, self.name)
        found = _entra_identity("wi", settings, tenant_id, client_id, path, _file_digest(path))
        return found._replace(files=(path,))

    def get_token(self, feed: Feed, settings: Settings) -> Token:
        self.identity(feed, settings)
        path = Path(settings.federated_token_file or "")

        def assertion() -> str:
            try:
                text = _regular_file(str(path)).decode("utf-8", "replace").strip()
            except OSError as exc:
                raise SourceFailed(
                    f"cannot read {names.FEDERATED_TOKEN_FILE} ({path}): {exc.strerror or exc}; "
                    "check the pod's service account token projection"
                ) from None
            if not text:
                raise SourceFailed(f"{names.FEDERATED_TOKEN_FILE} ({path}) is empty")
            return text

        return _assertion_exchange(assertion, self.name, settings)


class GitHubOidcSource:
    """GitHub Actions OIDC: a fresh ID token for every exchange (``permissions: id-token: write``)."""

    name = "GitHub Actions OIDC"
    server_capable = False

    def identity(self, feed: Feed, settings: Settings) -> Identity:
        if not (settings.github_request_url and settings.github_request_token):
            raise SourceUnavailable(
                f"{names.GITHUB_REQUEST_URL} is not set (give the job `permissions: id-token: write`)"
            )
        client_id, tenant_id = _app(settings, self.name)
        _check_github_url(settings)
        job = (settings.github_request_url or "", settings.github_request_token or "")
        return _entra_identity("gh", settings, tenant_id, client_id, *job)

    def get_token(self, feed: Feed, settings: Settings) -> Token:
        self.identity(feed, settings)
        url = settings.github_request_url or ""
        url += ("&" if "?" in url else "?") + f"audience={ASSERTION_AUDIENCE}"
        headers = {"Authorization": f"Bearer {settings.github_request_token}", "Accept": "application/json"}
        return _assertion_exchange(
            lambda: _fetch_assertion(url, "GET", headers, "value", settings), self.name, settings
        )


class PipelinesOidcSource:
    """An Azure Pipelines workload-identity service connection, without az."""

    name = "Azure Pipelines service connection"
    server_capable = False

    def _ids(self, settings: Settings) -> tuple[str, str]:
        if not settings.oidc_request_uri:
            raise SourceUnavailable(f"{names.OIDC_REQUEST_URI} is not set (not an Azure Pipelines job)")
        if not settings.service_connection_id:
            raise SourceUnavailable(
                f"no service connection id: set {names.SERVICE_CONNECTION_ID[0]} (or run inside an AzureCLI@2 task)"
            )
        if not settings.system_access_token:
            raise SourceUnavailable("SYSTEM_ACCESSTOKEN is not mapped into the step's environment")
        client_id = settings.pipelines_client_id or settings.client_id
        tenant_id = settings.pipelines_tenant_id or settings.tenant_id
        if not (client_id and tenant_id):
            raise SourceUnavailable(
                f"the service connection's {names.PIPELINES_CLIENT_ID}/{names.PIPELINES_TENANT_ID} "
                f"(or {names.CLIENT_ID}/{names.TENANT_ID}) are not set"
            )
        return client_id, tenant_id

    def identity(self, feed: Feed, settings: Settings) -> Identity:
        client_id, tenant_id = self._ids(settings)
        _check_pipelines_uri(settings)
        job = (
            settings.service_connection_id or "",
            settings.oidc_request_uri or "",
            settings.system_access_token or "",
        )
        return _entra_identity("sc", settings, tenant_id, client_id, *job)

    def get_token(self, feed: Feed, settings: Settings) -> Token:
        client_id, tenant_id = self._ids(settings)
        _check_pipelines_uri(settings)
        url = f"{settings.oidc_request_uri}?api-version=7.1&serviceConnectionId={settings.service_connection_id}"
        headers = {
            "Authorization": f"Bearer {settings.system_access_token}",
            "Content-Type": "application/json",
            "X-TFS-FedAuthRedirect": "Suppress",
        }
        return _assertion_exchange(
            lambda: _fetch_assertion(url, "POST", headers, "oidcToken", settings),
            self.name,
            settings,
            client_id=client_id,
            tenant_id=tenant_id,
        )


def _https_request(url: str) -> tuple[str, list[str]] | None:
    """``(host, path segments)`` of an https URL as urllib requests it (host in lower case, with
    ``:port`` unless 443; dot segments removed); None for any other URL, or one whose host a client
    or proxy could read otherwise (user info, a backslash, spaces, a disguised dot segment)."""
    from ..feeds import request_url  # noqa: PLC0415

    try:
        user_info = "@" in urllib.parse.urlsplit(url).netloc
    except ValueError:
        return None
    requested = request_url(url) if url.startswith("https://") and not user_info else None
    if requested is None:
        return None
    host, _, path = requested.removeprefix("https://").partition("/")
    return host, [segment for segment in path.split("/") if segment]


def _host_of(url: str) -> str:
    """The host of *url* in lower case, as urllib reads it; empty when it has none."""
    try:
        return urllib.parse.urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _shown(url: str, settings: Settings, segments: int = 0) -> str:
    """Where *url* points, for a message: scheme, host and the first *segments* path segments;
    never user info, a query or a known secret."""
    try:
        split = urllib.parse.urlsplit(url)
        port = f":{split.port}" if split.port else ""
    except ValueError:
        return "a URL that cannot be read"
    if not (split.scheme and split.hostname):
        return "not a URL with a host"
    if "@" in split.netloc or "\\" in url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "a URL with user info, a backslash or spaces, which clients read differently"
    path = "".join(f"/{segment}" for segment in split.path.split("/")[1 : 1 + segments])
    return redact(f"{split.scheme}://{split.hostname}{port}{path}", settings.secret_values())


def _check_github_url(settings: Settings) -> None:
    """``ACTIONS_ID_TOKEN_REQUEST_URL`` must be https on GitHub's token service (a subdomain of
    ``actions.githubusercontent.com``) or, on GitHub Enterprise Server, on ``GITHUB_SERVER_URL``'s
    host or a subdomain of it: anywhere else the request token is not sent (SourceFailed)."""
    url = settings.github_request_url or ""
    server = _host_of(settings.github_server_url or "")
    found = _https_request(url)
    host = found[0] if found else ""
    if host.endswith(f".{GITHUB_ACTIONS_DOMAIN}") or (server and (host == server or host.endswith(f".{server}"))):
        return
    also = f" or {server} (GITHUB_SERVER_URL) and its subdomains" if server else ""
    raise SourceFailed(
        f"{names.GITHUB_REQUEST_URL} ({_shown(url, settings)}) is not an https URL on GitHub's token service "
        f"(*.{GITHUB_ACTIONS_DOMAIN}{also}), so {names.GITHUB_REQUEST_TOKEN} was not sent; "
        "leave both as the GitHub runner sets them"
    )


def _check_pipelines_uri(settings: Settings) -> None:
    """``SYSTEM_OIDCREQUESTURI`` must be https on Azure DevOps in the organisation of
    ``SYSTEM_COLLECTIONURI`` (``dev.azure.com/{org}``, ``{org}.visualstudio.com``, or their
    release-management twins): anywhere else the job token is not sent (SourceFailed)."""
    from ..feeds import ascii_lower, organization_of_collection  # noqa: PLC0415

    uri = settings.oidc_request_uri or ""
    organization = organization_of_collection(settings.collection_uri or "")
    if organization is None:
        raise SourceFailed(
            f"{names.OIDC_REQUEST_URI} cannot be checked: {names.COLLECTION_URI[0]} is missing or not an "
            f"Azure DevOps Services URL, so {names.SYSTEM_ACCESSTOKEN} was not sent; run in an Azure Pipelines "
            "job, which sets both"
        )
    org = organization.lower()
    found = _https_request(uri)
    if found is not None:
        host, segments = found
        if host in {"dev.azure.com", "vsrm.dev.azure.com"} and [ascii_lower(s) for s in segments[:1]] == [org]:
            return
        if host in {f"{org}.visualstudio.com", f"{org}.vsrm.visualstudio.com"}:
            return
    raise SourceFailed(
        f"{names.OIDC_REQUEST_URI} ({_shown(uri, settings, segments=1)}) is not an https URL of the "
        f"organisation {organization} (dev.azure.com/{organization}/ or {organization}.visualstudio.com, "
        f"from {names.COLLECTION_URI[0]}), so {names.SYSTEM_ACCESSTOKEN} was not sent; leave both as the "
        "agent sets them"
    )


def _entra_identity(source: str, settings: Settings, tenant_id: str, client_id: str, *proof: str) -> Identity:
    """What identifies an application's credential: the Entra host, tenant and client id, and the
    secret, certificate or federated assertion it proves itself with (only ever hashed)."""
    return Identity(source, (entra_host(settings), tenant_id.lower(), client_id.lower(), *proof), ci=True)


def _regular_file(path: str) -> bytes:
    """The bytes of a certificate or token file; OSError when it cannot be read or is not a regular
    file (a FIFO planted there would block the read for ever)."""
    from .._jsonfile import read_regular  # noqa: PLC0415

    data = read_regular(path, 1 << 20)
    if data is None:
        raise OSError(f"{path} is not a regular file")
    return data


def _file_digest(path: str) -> str:
    """A digest of a certificate or federated-token file's bytes: another file at the same path is
    another credential."""
    from ..cache import keyed_digest  # noqa: PLC0415

    try:
        return keyed_digest(b"keyring-ado file", _regular_file(path))
    except OSError:
        return "unreadable"  # get_token will say why


def _app(settings: Settings, name: str) -> tuple[str, str]:
    if not settings.client_id:
        raise SourceUnavailable(f"{names.CLIENT_ID} is not set")
    if not settings.tenant_id:
        raise SourceUnavailable(f"{names.TENANT_ID} is not set ({name} needs it with {names.CLIENT_ID})")
    return settings.client_id, settings.tenant_id


def entra_host(settings: Settings) -> str:
    """The Entra ID host tokens are asked of: ``AZURE_AUTHORITY_HOST`` (a sovereign cloud, or the
    tests' fake) or the public cloud's, without scheme or trailing slash."""
    return (settings.authority_host or DEFAULT_AUTHORITY_HOST).removeprefix("https://").rstrip("/")


def known_cloud(host: str) -> bool:
    """One of Microsoft's own authority hosts, which msal may ask for instance discovery."""
    return host.partition(":")[0] in TRUSTED_AUTHORITY_HOSTS


def _options(settings: Settings) -> dict[str, Any]:
    """Timeouts, one retry, the authority host and the CA bundle, for every azure-identity credential."""
    host = entra_host(settings)
    options: dict[str, Any] = {
        "authority": host,
        "connection_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
        "retry_total": 1,
    }
    if not known_cloud(host):
        options["disable_instance_discovery"] = True  # a sovereign cloud or a test fake
    if settings.ca_bundle:
        options["connection_verify"] = settings.ca_bundle
    return options


def _assertion_exchange(
    assertion: Callable[[], str],
    name: str,
    settings: Settings,
    *,
    client_id: str | None = None,
    tenant_id: str | None = None,
) -> Token:
    if client_id is None or tenant_id is None:
        client_id, tenant_id = _app(settings, name)
    import azure.identity  # noqa: PLC0415 - 0.2 s, only when configured

    credential = azure.identity.ClientAssertionCredential(tenant_id, client_id, assertion, **_options(settings))
    return exchange_token(credential, name, settings)


def _fetch_assertion(url: str, method: str, headers: dict[str, str], field: str, settings: Settings) -> str:
    """The CI platform's ID token (the assertion Entra ID exchanges), from GitHub or Azure Pipelines."""
    issuer = urllib.parse.urlsplit(url).hostname or url
    try:
        answer = _http.request(url, settings, method=method, headers=headers, data=b"" if method == "POST" else None)
    except (OSError, ValueError) as exc:
        raise SourceFailed(f"could not reach the ID token issuer ({issuer}): {_http.reason(exc)}") from None
    secrets = settings.secret_values()
    if answer.status != 200:
        said = quote_output(answer.body.decode("utf-8", "replace"), secrets)
        raise SourceFailed(f"the ID token issuer ({issuer}) answered {answer.status}: {said}")
    try:
        value = json.loads(answer.body)[field]
    except (ValueError, KeyError, TypeError, RecursionError):
        value = None
    if not isinstance(value, str) or not value:
        raise SourceFailed(f"the ID token issuer's answer ({issuer}) has no {field}")
    return value


def exchange_token(
    credential: Any,  # noqa: ANN401 - any azure-identity credential
    name: str,
    settings: Settings,
    deadline: float | None = None,
    where: str | None = None,
) -> Token:
    """The credential's token for Azure DevOps, within *deadline* seconds in all (azure-identity's
    own timeouts bound each read, not the request), from *where* (Entra ID's host by default)."""
    from azure.core.exceptions import AzureError, ServiceRequestError  # noqa: PLC0415
    from azure.identity import CredentialUnavailableError  # noqa: PLC0415

    quiet_azure_loggers()
    secrets = settings.secret_values()
    host = where or entra_host(settings)

    def ask() -> Any:  # noqa: ANN401 - azure-identity's AccessToken
        with credential:
            return credential.get_token(SCOPE)

    try:
        access = _deadline.call(ask, TOTAL_TIMEOUT if deadline is None else deadline, host)
    except SourceFailed:
        raise
    except CredentialUnavailableError as exc:
        raise SourceUnavailable(first_line(redact(str(exc), secrets), prefer="AADSTS")) from None
    except (AzureError, ValueError, OSError) as exc:
        unreachable = _network_error(exc, ServiceRequestError)
        if unreachable is not None:
            said = first_line(redact(str(unreachable), secrets))
            raise SourceFailed(f"could not reach Entra ID: {said}; check the network and proxy settings") from None
        said = first_line(redact(str(exc), secrets), prefer="AADSTS")
        raise SourceFailed(f"Entra ID refused the token request: {said}") from None
    expires_on = sane_expiry(access.expires_on)
    if expires_on is None:
        raise SourceFailed(f"Entra ID answered with a token whose expiry is not a real time ({host})")
    return Token(access.token, Kind.ENTRA, source=name, expires_on=expires_on)


def _network_error(exc: BaseException, service_request_error: type[BaseException]) -> BaseException | None:
    """The connection failure behind *exc*, if that is what it is: azure-identity wraps msal's
    ``requests`` errors (which are OSErrors) in ClientAuthenticationError."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (service_request_error, OSError)):
            return current
        inner = getattr(current, "inner_exception", None)
        current = inner if isinstance(inner, BaseException) else (current.__cause__ or current.__context__)
    return None


def quiet_azure_loggers() -> None:
    """azure-identity logs its own failure warnings; ours say the same in one line. Quiet theirs,
    unless the application configured those loggers itself."""
    for logger_name in ("azure", "msal", "msal_extensions"):
        logger = logging.getLogger(logger_name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)
