"""Azure CLI: ``az account get-access-token`` for the Azure DevOps resource."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime
from typing import TYPE_CHECKING

from .. import settings as names
from .._redact import quote_output
from ..errors import SourceFailed, SourceUnavailable
from ..token import Kind, Token, sane_expiry
from .base import Identity

if TYPE_CHECKING:
    from .. import _process
    from ..feeds import Feed
    from ..settings import Settings

AZURE_DEVOPS_RESOURCE = "499b84ac-1321-427f-aa17-267ca6975798"
_log = logging.getLogger(__name__)
_NOT_LOGGED_IN = ("az login", "az account set")
DESCRIPTION = "the Azure CLI (az)"
PROFILE = "azureProfile.json"


class AzureCliSource:
    """An Entra ID token from the user's ``az login``."""

    name = "az"
    server_capable = False

    def identity(self, feed: Feed, settings: Settings) -> Identity | None:
        """The account az is signed in as, as az's own profile records it: ``az login`` as someone
        else, ``az account set`` to another tenant and ``az logout`` each change it. None (nothing
        shared) when the profile cannot be read; unavailable when it says nobody is signed in."""
        executable("az", DESCRIPTION, settings)
        directory = settings.az_config_dir or os.path.expanduser(os.path.join("~", ".azure"))
        profile = os.path.join(directory, PROFILE)
        account = _signed_in_account(profile)
        if account is None:
            return None
        if not account:
            raise SourceUnavailable("az is not logged in (its profile lists no account); run `az login`")
        return Identity("az", (os.path.abspath(directory), *account, settings.tenant or ""), files=(profile,))

    def get_token(self, feed: Feed, settings: Settings) -> Token:
        path = executable("az", DESCRIPTION, settings)
        from ..discovery import authority_for  # noqa: PLC0415 - HTTP machinery only when az exists

        authority = authority_for(feed, settings)
        # The feed's own tenant (B2B guests sign in elsewhere); never the all-zero MSA marker.
        tenant = authority.tenant if authority.specific else None
        argv = [path, "account", "get-access-token", "--resource", AZURE_DEVOPS_RESOURCE, "--output", "json"]
        if tenant:
            argv += ["--tenant", tenant]
        result = run_cli(
            argv,
            settings,
            by_hand=f"az account get-access-token --resource {AZURE_DEVOPS_RESOURCE}",
            extra_env={"AZURE_CORE_NO_COLOR": "true", "AZURE_CORE_ONLY_SHOW_ERRORS": "true"},
        )
        if result.returncode != 0:
            raise _failure(result, tenant)
        return _parse(result.stdout)


def _signed_in_account(profile: str) -> tuple[str, ...] | None:
    """``(user, user type, tenant, subscription, cloud)`` of az's default account; ``()`` when the
    profile lists none (never logged in, or logged out); None when it cannot be read."""
    from .._jsonfile import read_json  # noqa: PLC0415

    document = read_json(profile)
    subscriptions = document.get("subscriptions") if isinstance(document, dict) else None
    if not isinstance(subscriptions, list):
        return None
    chosen = [s for s in subscriptions if isinstance(s, dict) and s.get("isDefault") is True]
    if not chosen:
        return () if not subscriptions else None
    account = chosen[0]
    user = account.get("user")
    user = user if isinstance(user, dict) else {}
    return tuple(
        str(value)
        for value in (
            user.get("name"),
            user.get("type"),
            account.get("tenantId"),
            account.get("id"),
            account.get("environmentName"),
        )
    )


def executable(name: str, description: str, settings: Settings) -> str:
    """The CLI's path; unavailable, at the cost of a PATH scan, when it is not installed.

    Only absolute PATH entries are searched, never the current directory (see :func:`_path.which`)."""
    from .._path import which  # noqa: PLC0415

    path = which(name, settings.search_path, pathext=settings.pathext)
    if path is None:
        raise SourceUnavailable(f"{description} is not on PATH (absolute PATH entries only)")
    return path


def run_cli(
    argv: list[str], settings: Settings, *, by_hand: str, extra_env: dict[str, str] | None = None
) -> _process.Completed:
    """Runs a CLI (az, azd) within ``KEYRING_ADO_AZ_TIMEOUT``; a hang or a failure to start is the
    source's failure, naming the command to run by hand to see what went wrong."""
    from .. import _process  # noqa: PLC0415 - subprocess machinery only when a CLI exists

    unexpected = [arg for arg in argv[1:] if not _allowed_argument(arg)]
    if unexpected:  # az and azd are .cmd files on Windows, parsed by cmd.exe: nothing else gets through
        raise SourceFailed(f"refused to run {argv[0]} with an argument outside the fixed set: {unexpected[0]!r}")
    _log.debug("keyring-ado: running %s (timeout %g s)", by_hand, settings.az_timeout)
    try:
        return _process.run(argv, timeout=settings.az_timeout, extra_env=extra_env, hide=names.SECRET_VARIABLES)
    except _process.ProcessTimeout as exc:
        raise SourceFailed(
            f"{exc}; run `{by_hand}` yourself to see what it waits for, or raise KEYRING_ADO_AZ_TIMEOUT"
        ) from None
    except OSError as exc:
        raise SourceFailed(f"could not start {argv[0]}: {exc.strerror or exc}") from None


#: Every argument az and azd are ever given, besides a tenant GUID and the scope built from the resource.
_FIXED_ARGUMENTS = frozenset(
    {"account", "get-access-token", "--resource", "--output", "json", "--tenant", "auth", "token", "--no-prompt",
     "--scope", "--tenant-id", AZURE_DEVOPS_RESOURCE, f"{AZURE_DEVOPS_RESOURCE}/.default"}
)  # fmt: skip


def _allowed_argument(argument: str) -> bool:
    return argument in _FIXED_ARGUMENTS or names.is_guid(argument)


def _failure(result: _process.Completed, tenant: str | None) -> Exception:
    said = quote_output(result.stderr or result.stdout)
    login = f"az login --tenant {tenant}" if tenant else "az login"
    if result.returncode == 127:
        return SourceUnavailable(f"{DESCRIPTION} could not be run (exit 127)")
    if any(hint in result.stderr for hint in _NOT_LOGGED_IN) and "AADSTS" not in result.stderr:
        return SourceUnavailable(f"az is not logged in; run `{login}`")
    return SourceFailed(f"az account get-access-token exited with {result.returncode}: {said}; try `{login}`")


def _parse(stdout: str) -> Token:
    try:
        document = json.loads(stdout)
        secret = document["accessToken"]
    except (ValueError, KeyError, TypeError, RecursionError):
        secret = None
    if not isinstance(secret, str) or not secret.strip():
        raise SourceFailed(
            "az account get-access-token printed something that is not a token: "
            f"{quote_output(stdout)}; update the Azure CLI (`az upgrade`)"
        )
    return Token(secret.strip(), Kind.ENTRA, source="az", expires_on=_expiry(document))


def _expiry(document: dict[str, object]) -> float | None:
    epoch = document.get("expires_on")
    if isinstance(epoch, str) and epoch.isascii() and epoch.isdigit() and len(epoch) < 12:
        epoch = int(epoch)
    if sane_expiry(epoch) is not None:
        return float(epoch)  # type: ignore[arg-type]
    local = document.get("expiresOn")  # naive local time in older az
    if isinstance(local, str):
        for pattern in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                moment = datetime.strptime(local, pattern).timestamp()
            except (ValueError, OverflowError, OSError):
                continue
            if sane_expiry(moment) is not None:
                return moment
    _log.debug("keyring-ado: az gave no expiry; assuming one hour")
    return time.time() + 3600
