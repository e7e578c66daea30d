"""Small helpers shared by the unit tests."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from keyring_ado import feeds, settings
from keyring_ado.feeds import Feed
from keyring_ado.settings import Settings

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
    env = {k: v for k, v in os.environ.items() if k not in settings.ALL_VARIABLES}
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
