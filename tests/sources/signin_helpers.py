"""What the sign-in's tests share: the source configured for the fake Entra ID, or as keyring-ado
configures it from the environment, and one lookup of the fake feed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keyring_ado.discovery import Authority
from keyring_ado.settings import Settings
from keyring_ado.sources import default_sources
from keyring_ado.sources._entra import Entra
from keyring_ado.sources.base import Request
from keyring_ado.sources.signin import SignInSource
from tests.conftest import AdoWorld
from tests.fakes import entra
from tests.fakes.artifacts import TENANT
from tests.helpers import feed


def configured(
    world: AdoWorld,
    directory: Path,
    *,
    timeout: float = 180.0,
    allow_unencrypted_cache: bool = False,
    display: bool = False,
    in_ci: bool = False,
    non_interactive: bool = False,
    secrets: tuple[str, ...] = (),
) -> SignInSource:
    """A sign-in at the fake Entra ID (its host, trusted through the tests' CA), remembered in *directory*."""
    return SignInSource(
        cache_dir=str(directory),
        timeout=timeout,
        allow_unencrypted_cache=allow_unencrypted_cache,
        display=display,
        in_ci=in_ci,
        non_interactive=non_interactive,
        entra=Entra(f"https://{entra.ENTRA_HOST}", str(world.ca_file), secrets),
    )


def from_environment(monkeypatch: pytest.MonkeyPatch, **environ: str) -> SignInSource:
    """The sign-in as :func:`~keyring_ado.sources.default_sources` configures it from this process's
    environment (the fixtures' fake Entra ID and CA), with *environ* set too."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_environ(os.environ)
    return next(source for source in default_sources(settings) if isinstance(source, SignInSource))


def lookup() -> Request:
    """A lookup of the fake feed, whose organisation signs in at the fake Entra ID's tenant."""
    return Request(feed(), lambda _feed: Authority(TENANT, entra.ENTRA_HOST, source="KEYRING_ADO_TENANT"))
