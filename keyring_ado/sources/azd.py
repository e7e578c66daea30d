"""Azure Developer CLI: ``azd auth token``, after az, for developers who signed in with azd."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._jsonfile import read_json
from .._redact import quote_output
from ..errors import SourceFailed, SourceUnavailable
from ..token import Kind, Token, sane_expiry
from ._cli import CliSource, run_cli
from ._entra import AZURE_DEVOPS_RESOURCE
from .base import Identity

if TYPE_CHECKING:
    from .base import Request


DESCRIPTION = "the Azure Developer CLI (azd)"


class AzdSource(CliSource):
    """An Entra ID token from the developer's ``azd auth login``."""

    name = program = "azd"
    description = DESCRIPTION
    home_config = ".azd"

    def identity(self, request: Request) -> Identity | None:
        """The account azd is signed in as (``auth.account.currentUser`` in azd's config.json):
        ``azd auth login`` as someone else and ``azd auth logout`` change it. None (nothing shared)
        when the config cannot be read or names nobody."""
        self.executable()
        directory = self.config_directory()
        config = os.path.join(directory, "config.json")
        document: Any = read_json(config)
        try:
            user = document["auth"]["account"]["currentUser"]
        except (KeyError, TypeError):
            return None
        if not user:
            return None
        signed_in = json.dumps(user, sort_keys=True, default=str)
        return Identity("azd", (os.path.abspath(directory), signed_in, self.tenant or ""), files=(config,))

    def get_token(self, request: Request) -> Token:
        path = self.executable()
        authority = request.authority()
        argv = [
            path,
            "auth",
            "token",
            "--output",
            "json",
            "--no-prompt",
            "--scope",
            f"{AZURE_DEVOPS_RESOURCE}/.default",
        ]
        if authority.specific:
            argv += ["--tenant-id", authority.tenant]
        result = run_cli(argv, self.timeout, by_hand=f"azd auth token --scope {AZURE_DEVOPS_RESOURCE}/.default")
        if result.returncode != 0:
            said = result.stderr + result.stdout
            if "azd auth login" in said and "AADSTS" not in said:
                raise SourceUnavailable("azd is not logged in; run `azd auth login`")
            raise SourceFailed(f"azd auth token exited with {result.returncode}: {quote_output(said, self.secrets)}")
        try:
            document = json.loads(result.stdout)
            secret, expires = document["token"], document["expiresOn"]
            expires_on = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise SourceFailed(
                f"azd auth token printed something that is not a token: {quote_output(result.stdout, self.secrets)}"
            ) from None
        if not isinstance(secret, str) or not secret:
            raise SourceFailed("azd auth token printed an empty token")
        if sane_expiry(expires_on) is None:
            raise SourceFailed("azd auth token printed an expiry that is not a real time; update azd")
        return Token(secret, Kind.ENTRA, source=self.name, expires_on=expires_on)
