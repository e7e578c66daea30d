"""Secrets the user put in the environment: ``KEYRING_ADO_PAT``, ``KEYRING_ADO_TOKEN``, ``AZURE_DEVOPS_EXT_PAT``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .. import variables as names
from ..errors import SourceFailed, SourceUnavailable
from ..token import Kind, Token, jwt_expiry
from .base import Source

if TYPE_CHECKING:
    from .base import Request


class EnvironmentSource(Source):
    """A PAT for every matched feed, or a ready Entra ID token, from environment variables."""

    name = "environment"
    server_capable = True
    signs_in = False

    def __init__(self, *, pat: str | None = None, token: str | None = None, ext_pat: str | None = None) -> None:
        self.pat, self.token, self.ext_pat = pat, token, ext_pat

    def get_token(self, request: Request) -> Token:
        feed = request.feed
        if self.pat:
            return Token(self.pat, Kind.PAT, source=names.PAT)
        if self.token and not feed.server:
            return _entra_token(self.token)
        if self.ext_pat:
            return Token(self.ext_pat, Kind.PAT, source=names.AZURE_DEVOPS_EXT_PAT)
        if self.token:
            raise SourceUnavailable(
                f"{names.TOKEN} is an Entra ID token, which is never sent to an Azure DevOps Server "
                f"host; set {names.PAT} to a PAT for {feed.host}"
            )
        raise SourceUnavailable(f"{names.PAT}, {names.TOKEN} and {names.AZURE_DEVOPS_EXT_PAT} are not set")


def _entra_token(secret: str) -> Token:
    expires_on = jwt_expiry(secret)
    if expires_on is not None and expires_on <= time.time():
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expires_on))
        raise SourceFailed(
            f"{names.TOKEN} expired at {when}; put a fresh token in it (for example from "
            "`az account get-access-token --resource 499b84ac-1321-427f-aa17-267ca6975798`) or unset it"
        )
    return Token(secret, Kind.ENTRA, source=names.TOKEN, expires_on=expires_on)
