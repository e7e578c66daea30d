"""Small helpers shared by the unit tests."""

from __future__ import annotations

from collections.abc import Mapping

from keyring_ado import feeds
from keyring_ado.feeds import Feed
from keyring_ado.settings import Settings

FEED_URL = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"


def feed(url: str = FEED_URL, hosts: frozenset[str] = frozenset()) -> Feed:
    parsed = feeds.parse(url, hosts)
    assert parsed is not None, url
    return parsed


def config(**environ: str) -> Settings:
    return Settings.from_environ(environ)


def env(values: Mapping[str, str]) -> Settings:
    return Settings.from_environ(values)
