"""azure-identity and azure-core, imported here and nowhere else (they cost 0.2 s: only
:func:`~keyring_ado.sources._entra.exchange_token` imports this module, when a credential is used).

:func:`token` builds the azure-identity credential a recipe describes, configured as every one of
ours is (timeouts, at most one retry, the authority host and the CA bundle; for a managed identity,
no proxy), asks it for a token for Azure DevOps within a deadline, and turns azure's errors into
the two source errors, with every secret masked.
"""

from __future__ import annotations

from typing import Any

from azure.core.credentials import AccessToken
from azure.core.exceptions import AzureError, ServiceRequestError
from azure.core.pipeline.transport import RequestsTransport
from azure.identity import (
    CertificateCredential,
    ClientAssertionCredential,
    ClientSecretCredential,
    CredentialUnavailableError,
    ManagedIdentityCredential,
)

from .. import _deadline
from .._redact import first_line, redact
from ..errors import SourceFailed, SourceUnavailable
from ._entra import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    SCOPE,
    Certificate,
    ClientAssertion,
    ClientSecret,
    ManagedIdentity,
    Recipe,
    UnusableCertificate,
    entra_host,
    known_cloud,
    regular_file,
)

Credential = ClientSecretCredential | CertificateCredential | ClientAssertionCredential | ManagedIdentityCredential


def token(
    recipe: Recipe,
    authority_host: str | None,
    ca_bundle: str | None,
    *,
    seconds: float,
    where: str,
    secrets: tuple[str, ...],
) -> tuple[str, object]:
    """The access token and its expiry (as Entra ID gave it) of the credential *recipe* describes,
    or SourceUnavailable / SourceFailed; no answer from *where* within *seconds* is SourceFailed."""
    credential = _credential(recipe, authority_host, ca_bundle)

    def ask() -> AccessToken:
        with credential:
            return credential.get_token(SCOPE)

    try:
        access = _deadline.call(ask, seconds, where)
    except SourceFailed:
        raise
    except CredentialUnavailableError as exc:
        raise SourceUnavailable(first_line(redact(str(exc), secrets), prefer="AADSTS")) from None
    except (AzureError, ValueError, OSError) as exc:
        unreachable = _network_error(exc)
        if unreachable is not None:
            said = first_line(redact(str(unreachable), secrets))
            raise SourceFailed(f"could not reach Entra ID: {said}; check the network and proxy settings") from None
        said = first_line(redact(str(exc), secrets), prefer="AADSTS")
        raise SourceFailed(f"Entra ID refused the token request: {said}") from None
    return access.token, access.expires_on


def _options(authority_host: str | None, ca_bundle: str | None) -> dict[str, Any]:
    """Timeouts, one retry, the authority host and the CA bundle, for every credential of an application."""
    host = entra_host(authority_host)
    chosen: dict[str, Any] = {
        "authority": host,
        "connection_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
        "retry_total": 1,
    }
    if not known_cloud(host):
        chosen["disable_instance_discovery"] = True  # a sovereign cloud or a test fake
    if ca_bundle:
        chosen["connection_verify"] = ca_bundle
    return chosen


def _credential(recipe: Recipe, authority_host: str | None, ca_bundle: str | None) -> Credential:
    """The azure-identity credential *recipe* describes (built outside the deadline, as azure-identity
    reads a certificate file when it is built: :class:`UnusableCertificate` when that fails)."""
    if isinstance(recipe, ManagedIdentity):
        transport = RequestsTransport(
            use_env_settings=False,  # no proxy from the environment: IMDS is link-local
            connection_timeout=recipe.connect_timeout,
            read_timeout=recipe.read_timeout,
        )
        return ManagedIdentityCredential(
            client_id=recipe.client_id,
            transport=transport,
            connection_timeout=recipe.connect_timeout,
            read_timeout=recipe.read_timeout,
            retry_total=1,
            retry_status=1,
            retry_backoff_factor=0.2,
        )
    configured = _options(authority_host, ca_bundle)
    if isinstance(recipe, ClientSecret):
        return ClientSecretCredential(recipe.tenant_id, recipe.client_id, recipe.secret, **configured)
    if isinstance(recipe, ClientAssertion):
        return ClientAssertionCredential(recipe.tenant_id, recipe.client_id, recipe.assertion, **configured)
    return _certificate(recipe, configured)


def _certificate(recipe: Certificate, configured: dict[str, Any]) -> CertificateCredential:
    """A certificate credential, its file checked first (azure-identity would block on a FIFO)."""
    try:
        regular_file(recipe.path)
        return CertificateCredential(
            recipe.tenant_id, recipe.client_id, recipe.path, password=recipe.password, **configured
        )
    except (OSError, ValueError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else first_line(str(exc), prefer="AADSTS")
        raise UnusableCertificate(reason) from None


def _network_error(exc: BaseException) -> BaseException | None:
    """The connection failure behind *exc*, if that is what it is: azure-identity wraps msal's
    ``requests`` errors (which are OSErrors) in ClientAuthenticationError."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ServiceRequestError, OSError)):
            return current
        inner = getattr(current, "inner_exception", None)
        current = inner if isinstance(inner, BaseException) else (current.__cause__ or current.__context__)
    return None
