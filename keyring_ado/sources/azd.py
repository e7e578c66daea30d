"""Azure Developer CLI: ``azd auth token``, after az, for developers who signed in with azd."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._redact import quote_output
from ..errors import SourceFailed, SourceUnavailable
from ..token import Kind, Token, sane_expiry
from .azure_cli import AZURE_DEVOPS_RESOURCE, executable, run_cli
from .base import Identity

if TYPE_CHECKING:
    from ..feeds import Feed
    from ..settings import Settings


DESCRIPTION = "the Azure Developer CLI (azd)"


class AzdSource:
    name = "azd"
    server_capable = False

    def identity(self, feed: Feed, settings: Settings) -> Identity | None:
        """The account azd is signed in as (``auth.account.currentUser`` in azd's config.json):
        ``azd auth login`` as someone else and ``azd auth logout`` change it. None (nothing shared)
        when the config cannot be read or names nobody."""
        executable("azd", DESCRIPTION, settings)
        directory = settings.azd_config_dir or os.path.expanduser(os.path.join("~", ".azd"))
        config = os.path.join(directory, "config.json")
        from .._jsonfile import read_json  # noqa: PLC0415

        document: Any = read_json(config)
        try:
            user = document["auth"]["account"]["currentUser"]
        except (KeyError, TypeError):
            return None
        if not user:
            return None
        signed_in = json.dumps(user, sort_keys=True, default=str)
        return Identity("azd", (os.path.abspath(directory), signed_in), files=(config,))

    def get_token(self, feed: Feed, settings: Settings) -> Token:
        path = executable("azd", DESCRIPTION, settings)
        from ..discovery import authority_for  # noqa: PLC0415

        authority = authority_for(feed, settings)
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
        result = run_cli(argv, settings, by_hand=f"azd auth token --scope {AZURE_DEVOPS_RESOURCE}/.default")
        if result.returncode != 0:
            said = result.stderr + result.stdout
            if "azd auth login" in said and "AADSTS" not in said:
                raise SourceUnavailable("azd is not logged in; run `azd auth login`")
            raise SourceFailed(f"azd auth token exited with {result.returncode}: {quote_output(said)}")
        try:
            document = json.loads(result.stdout)
            secret, expires = document["token"], document["expiresOn"]
            expires_on = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise SourceFailed(
                f"azd auth token printed something that is not a token: {quote_output(result.stdout)}"
            ) from None
        if not isinstance(secret, str) or not secret:
            raise SourceFailed("azd auth token printed an empty token")
        if sane_expiry(expires_on) is None:
            raise SourceFailed("azd auth token printed an expiry that is not a real time; update azd")
        return Token(secret, Kind.ENTRA, source=self.name, expires_on=expires_on)
