"""What the sign-in imports, in a fresh process: msal only when a token is really asked for, and the
browser and its loopback server only when a person signs in."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import AdoWorld
from tests.fakes import entra
from tests.fakes.artifacts import TENANT
from tests.helpers import FEED_URL
from tests.sources.signin_helpers import configured, lookup

IMPORTS_PROBE = r"""
import json, sys
from keyring_ado.discovery import Authority
from keyring_ado.errors import SourceUnavailable
from keyring_ado.feeds import parse
from keyring_ado.sources.base import Request
from keyring_ado.sources._entra import Entra
from keyring_ado.sources.signin import SignInSource

directory, host, ca_bundle, tenant, url, out = sys.argv[1:]
WATCHED = ("msal", "msal_extensions", "requests", "webbrowser", "keyring_ado._loopback",
           "keyring_ado.sources._interactive")
seen = {}
request = Request(parse(url, frozenset()), lambda feed: Authority(tenant, host, source="KEYRING_ADO_TENANT"))
try:
    SignInSource(cache_dir=directory + "-empty", in_ci=True).get_token(request)
except SourceUnavailable:
    seen["refused"] = sorted(m for m in WATCHED if m in sys.modules)
source = SignInSource(cache_dir=directory, allow_unencrypted_cache=True, non_interactive=True,
                      entra=Entra(f"https://{host}", ca_bundle))
source.identity(request)
seen["identity"] = sorted(m for m in WATCHED if m in sys.modules)
seen["token"] = source.get_token(request).source
seen["remembered"] = sorted(m for m in WATCHED if m in sys.modules)
json.dump(seen, open(out, "w"))
"""


def test_only_a_token_asked_for_imports_msal_and_only_a_prompt_the_browser(
    routed: AdoWorld, terminal: io.StringIO, tmp_path: Path
) -> None:
    """In a fresh process: identity() and a refusal decided before any storage import neither msal nor
    requests (0.12 s); a remembered sign-in imports msal, but not the browser, its loopback server or
    the prompts, which only a person signing in needs."""
    directory = tmp_path / "signin"
    configured(routed, directory, allow_unencrypted_cache=True).get_token(lookup())
    out = tmp_path / "imports.json"
    arguments = [str(directory), entra.ENTRA_HOST, str(routed.ca_file), TENANT, FEED_URL, str(out)]
    subprocess.run([sys.executable, "-c", IMPORTS_PROBE, *arguments], check=True, timeout=60)
    seen = json.loads(out.read_text())
    assert seen["refused"] == seen["identity"] == []
    assert seen["token"] == "sign-in (remembered)"
    assert seen["remembered"] == ["msal", "msal_extensions", "requests"]
