"""Azure CLI: ``az account get-access-token`` for the Azure DevOps resource."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime
from typing import TYPE_CHECKING

from .._jsonfile import read_json
from .._redact import quote_output
from ..errors import SourceFailed, SourceUnavailable
from ..token import Kind, Token, sane_expiry
from ._cli import CliSource, run_cli
from ._entra import AZURE_DEVOPS_RESOURCE
from .base import Identity

if TYPE_CHECKING:
    from .. import _process
    from .base import Request

_log = logging.getLogger(__name__)
_NOT_LOGGED_IN = ("az login", "az account set")
DESCRIPTION = "the Azure CLI (az)"
PROFILE = "azureProfile.json"


class AzureCliSource(CliSource):
    """An Entra ID token from the user's ``az login``."""

    name = program = "az"
    description = DESCRIPTION
    home_config = ".azure"

    def identity(self, request: Request) -> Identity | None:
        """The account az is signed in as, as az's own profile records it: ``az login`` as someone
        else, ``az account set`` to another tenant and ``az logout`` each change it. None (nothing
        shared) when the profile cannot be read; unavailable when it says nobody is signed in."""
        self.executable()
        directory = self.config_directory()
        profile = os.path.join(directory, PROFILE)
        account = _signed_in_account(profile)
        if account is None:
            return None
        if not account:
            raise SourceUnavailable("az is not logged in (its profile lists no account); run `az login`")
        return Identity("az", (os.path.abspath(directory), *account, self.tenant or ""), files=(profile,))

    def get_token(self, request: Request) -> Token:
        path = self.executable()
        authority = request.authority()
        # The feed's own tenant (B2B guests sign in elsewhere); never the all-zero MSA marker.
        tenant = authority.tenant if authority.specific else None
        argv = [path, "account", "get-access-token", "--resource", AZURE_DEVOPS_RESOURCE, "--output", "json"]
        if tenant:
            argv += ["--tenant", tenant]
        result = run_cli(
            argv,
            self.timeout,
            by_hand=f"az account get-access-token --resource {AZURE_DEVOPS_RESOURCE}",
            extra_env={"AZURE_CORE_NO_COLOR": "true", "AZURE_CORE_ONLY_SHOW_ERRORS": "true"},
        )
        if result.returncode != 0:
            raise _failure(result, tenant, self.secrets)
        return _parse(result.stdout, self.secrets)


def _signed_in_account(profile: str) -> tuple[str, ...] | None:
    """``(user, user type, tenant, subscription, cloud)`` of az's default account; ``()`` when the
    profile lists none (never logged in, or logged out); None when it cannot be read."""
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


def _failure(result: _process.Completed, tenant: str | None, secrets: tuple[str, ...]) -> Exception:
    said = quote_output(result.stderr or result.stdout, secrets)
    login = f"az login --tenant {tenant}" if tenant else "az login"
    if result.returncode == 127:
        return SourceUnavailable(f"{DESCRIPTION} could not be run (exit 127)")
    if any(hint in result.stderr for hint in _NOT_LOGGED_IN) and "AADSTS" not in result.stderr:
        return SourceUnavailable(f"az is not logged in; run `{login}`")
    return SourceFailed(f"az account get-access-token exited with {result.returncode}: {said}; try `{login}`")


def _parse(stdout: str, secrets: tuple[str, ...] = ()) -> Token:
    try:
        document = json.loads(stdout)
        secret = document["accessToken"]
    except (ValueError, KeyError, TypeError, RecursionError):
        secret = None
    if not isinstance(secret, str) or not secret.strip():
        raise SourceFailed(
            "az account get-access-token printed something that is not a token: "
            f"{quote_output(stdout, secrets)}; update the Azure CLI (`az upgrade`)"
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
