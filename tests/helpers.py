"""Small helpers shared by the unit tests."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from keyring_ado import backend, feeds, variables
from keyring_ado.feeds import Feed
from keyring_ado.settings import Settings
from keyring_ado.sources.base import Request, Source
from keyring_ado.token import Token

S = TypeVar("S", bound=Source)

FEED_URL = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"


def feed(url: str = FEED_URL, hosts: frozenset[str] = frozenset()) -> Feed:
    parsed = feeds.parse(url, hosts)
    assert parsed is not None, url
    return parsed


def config(**environ: str) -> Settings:
    return env(environ)


def env(values: Mapping[str, str]) -> Settings:
    """Settings from *values*, with this process's PATH (where the tests put the fake az) unless given."""
    return Settings.from_environ({"PATH": os.environ.get("PATH", ""), **values})


def process_env(tmp_path: Path, az_directory: Path, **more: str) -> dict[str, str]:
    """The environment of a `keyring get` child process: this one's, without any of our variables,
    with an empty HOME, its own cache directory, and nothing on PATH but the fake az."""
    env = {k: v for k, v in os.environ.items() if k not in variables.ALL_VARIABLES}
    env.update({"HOME": str(tmp_path / "home"), "PATH": str(az_directory), "XDG_CACHE_HOME": str(tmp_path / "cache")})
    return {**env, **more}


def leaked(secret: str, *texts: str) -> list[str]:
    """The distinctive fragments of *secret* found in *texts*: each segment of a JWT, and any 12
    characters in a row. A whole-string check passes when a quote cuts the secret short or a mask
    hides only part of it; this one does not."""
    seen = "\n".join(texts)
    fragments = [part for part in secret.split(".") if len(part) >= 8] if secret.startswith("eyJ") else []
    fragments += [secret[i : i + 12] for i in range(max(0, len(secret) - 11))]
    return sorted({fragment for fragment in fragments if fragment in seen})


def request(url: str | Feed = FEED_URL, settings_: Settings | None = None) -> Request:
    """A lookup of *url*, whose authority (tenant) is discovered as the chain would, with
    *settings_* (read from this process's environment when not given)."""
    from keyring_ado import discovery

    asked = url if isinstance(url, Feed) else feed(url)
    chosen = settings_ if settings_ is not None else Settings.from_environ(os.environ)
    return Request(asked, lambda f: discovery.authority_for(f, chosen))


def lookup(asked: Feed, settings_: Settings | None = None, sources: Iterable[Source] | None = None) -> Token | None:
    """What this process's resolver answers for *asked* (a fresh resolver per test: see conftest),
    with *settings_* read from this process's environment when not given."""
    chosen = settings_ if settings_ is not None else Settings.from_environ(os.environ)
    return backend.process_resolver().lookup(asked, chosen, sources)


def new_process() -> None:
    """Forget everything this process remembers, as a new process would start with nothing."""
    backend._resolver.clear()


def configured(kind: type[S], settings_: Settings | None = None) -> S:
    """The source of type *kind* as :func:`default_sources` configures it from *settings_* (this
    process's environment when not given): for tests whose setup is the environment."""
    from keyring_ado.sources import default_sources

    chosen = settings_ if settings_ is not None else Settings.from_environ(os.environ)
    return next(source for source in default_sources(chosen) if isinstance(source, kind))
