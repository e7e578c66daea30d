"""What every source that asks Entra ID for a token shares: where Entra ID is, how azure-identity's
credentials are configured (timeouts, one retry, the CA bundle), and how one token request is
made, bounded in time and turned into a :class:`~keyring_ado.token.Token` or one of the two source
errors, with every secret masked. azure-identity and azure-core are imported only when a token is
asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .. import _deadline
from .. import variables as names
from .._jsonfile import read_regular
from .._redact import first_line, redact
from ..cache import keyed_digest
from ..discovery import DEFAULT_AUTHORITY_HOST, TRUSTED_AUTHORITY_HOSTS
from ..errors import SourceFailed, SourceUnavailable
from ..token import Kind, Token, sane_expiry
from .base import Identity

AZURE_DEVOPS_RESOURCE = "499b84ac-1321-427f-aa17-267ca6975798"
SCOPE = f"{AZURE_DEVOPS_RESOURCE}/.default"
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 15
#: The whole token request, retry and assertion fetch included, whatever a proxy or peer does.
TOTAL_TIMEOUT = 30.0


def entra_host(authority_host: str | None) -> str:
    """The Entra ID host tokens are asked of: *authority_host* (``AZURE_AUTHORITY_HOST``: a
    sovereign cloud, or the tests' fake) or the public cloud's, without scheme or trailing slash."""
    return (authority_host or DEFAULT_AUTHORITY_HOST).removeprefix("https://").rstrip("/")


def known_cloud(host: str) -> bool:
    """One of Microsoft's own authority hosts, which msal may ask for instance discovery."""
    return host.partition(":")[0] in TRUSTED_AUTHORITY_HOSTS


def options(authority_host: str | None, ca_bundle: str | None) -> dict[str, Any]:
    """Timeouts, one retry, the authority host and the CA bundle, for every azure-identity credential."""
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


def application(client_id: str | None, tenant_id: str | None, name: str) -> tuple[str, str]:
    """``AZURE_CLIENT_ID`` and ``AZURE_TENANT_ID``; unavailable when either is not set."""
    if not client_id:
        raise SourceUnavailable(f"{names.CLIENT_ID} is not set")
    if not tenant_id:
        raise SourceUnavailable(f"{names.TENANT_ID} is not set ({name} needs it with {names.CLIENT_ID})")
    return client_id, tenant_id


def application_identity(
    source: str, authority_host: str | None, tenant_id: str, client_id: str, *proof: str
) -> Identity:
    """What identifies an application's credential: the Entra host, tenant and client id, and the
    secret, certificate or federated assertion it proves itself with (only ever hashed)."""
    return Identity(source, (entra_host(authority_host), tenant_id.lower(), client_id.lower(), *proof), ci=True)


def regular_file(path: str) -> bytes:
    """The bytes of a certificate or token file; OSError when it cannot be read or is not a regular
    file (a FIFO planted there would block the read for ever)."""
    data = read_regular(path, 1 << 20)
    if data is None:
        raise OSError(f"{path} is not a regular file")
    return data


def file_digest(path: str) -> str:
    """A digest of a certificate or federated-token file's bytes: another file at the same path is
    another credential."""
    try:
        return keyed_digest(b"keyring-ado file", regular_file(path))
    except OSError:
        return "unreadable"  # get_token will say why


def assertion_exchange(
    assertion: Callable[[], str],
    name: str,
    *,
    client_id: str,
    tenant_id: str,
    authority_host: str | None,
    ca_bundle: str | None,
    secrets: tuple[str, ...],
) -> Token:
    """A token for the application, proved by *assertion* (a federated token, asked for afresh by
    azure-identity whenever it needs one)."""
    import azure.identity  # noqa: PLC0415 - 0.2 s, only when configured

    credential = azure.identity.ClientAssertionCredential(
        tenant_id, client_id, assertion, **options(authority_host, ca_bundle)
    )
    return exchange_token(credential, name, authority_host=authority_host, secrets=secrets)


def exchange_token(
    credential: Any,  # noqa: ANN401 - any azure-identity credential
    name: str,
    *,
    authority_host: str | None,
    secrets: tuple[str, ...],
    deadline: float | None = None,
    where: str | None = None,
) -> Token:
    """The credential's token for Azure DevOps, within *deadline* seconds in all (azure-identity's
    own timeouts bound each read, not the request), from *where* (Entra ID's host by default)."""
    from azure.core.exceptions import AzureError, ServiceRequestError  # noqa: PLC0415 - only when asked
    from azure.identity import CredentialUnavailableError  # noqa: PLC0415 - only when asked

    quiet_azure_loggers()
    host = where or entra_host(authority_host)

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
