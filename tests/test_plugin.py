"""The plugin as keyring loads it: through the installed entry point, in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyring_ado import variables

#: All a foreign lookup may load of ours: the backend, the feed gate, and the settings it needs
#: (KEYRING_ADO_DISABLE, KEYRING_ADO_HOSTS) with their names, value parsing and records, and the
#: package's version.
GATE = (
    "keyring_ado.backend",
    "keyring_ado.feeds",
    "keyring_ado.settings",
    "keyring_ado.variables",
    "keyring_ado._values",
    "keyring_ado.records",
    "keyring_ado._path",
    "keyring_ado._version",
)
PROBE = (
    f"GATE = {GATE!r}\n"
    + r"""
import json, sys
import keyring
results = {
    "password": keyring.get_password("https://example.com/simple/", "user"),
    "credential": repr(keyring.get_credential("https://example.com/simple/", None)),
    "probe": keyring.get_password("python-poetry-check", "python-poetry"),
    "backend": type(keyring.get_keyring()).__module__ + "." + type(keyring.get_keyring()).__name__,
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("msal", "azure", "requests", "urllib3")
                      or m.startswith("keyring_ado.") and m not in GATE),
    "ours_loaded": "keyring_ado.backend" in sys.modules,
}
with open(sys.argv[1], "w") as f:
    json.dump(results, f)
"""
)


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in variables.ALL_VARIABLES and not k.startswith("PYTHON")}
    env["HOME"] = str(tmp_path)
    env["KEYRING_ADO_PAT"] = "should-not-be-used"
    return env


def test_foreign_lookup_is_silent_and_light(tmp_path: Path) -> None:
    """import keyring + a foreign lookup: nothing printed, no msal/azure/requests/urllib3, no chain."""
    out = tmp_path / "out.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(out)],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""
    found = json.loads(out.read_text())
    assert found["ours_loaded"], "the entry point was not loaded"
    assert found["backend"] == "keyring_ado.backend.AdoKeyring"
    assert found["password"] is None
    assert found["credential"] == "None"
    assert found["probe"] is None
    assert found["modules"] == []


def test_list_backends_shows_ours(tmp_path: Path) -> None:
    """`keyring --list-backends` lists the backend at 9.9; KEYRING_ADO_DISABLE=1 removes it."""
    command = [sys.executable, "-m", "keyring", "--list-backends"]
    env = clean_env(tmp_path)
    listed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert "keyring_ado.backend.AdoKeyring (priority: 9.9)" in listed.stdout
    env["KEYRING_ADO_DISABLE"] = "1"
    listed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert "AdoKeyring" not in listed.stdout


@pytest.mark.parametrize("mode", [[], ["--mode", "creds"]])
def test_keyring_get_prints_only_the_secret(tmp_path: Path, mode: list[str]) -> None:
    """`keyring get URL USER` prints the secret alone; creds mode prints user and secret."""
    env = clean_env(tmp_path)
    env["KEYRING_ADO_PAT"] = "the-pat"
    url = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"
    args = [url, "VssSessionToken"] if not mode else [url, *mode]
    result = subprocess.run(
        [sys.executable, "-m", "keyring", "get", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("the-pat\n" if not mode else "VssSessionToken\nthe-pat\n")
    assert result.stderr == ""


def test_keyring_get_miss_is_one_line_on_stderr(tmp_path: Path) -> None:
    """No credential: exit 1, nothing on stdout, one actionable line on stderr."""
    env = clean_env(tmp_path)
    del env["KEYRING_ADO_PAT"]
    env["PATH"] = str(tmp_path)  # no az
    url = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"
    result = subprocess.run(
        [sys.executable, "-m", "keyring", "get", url, "u"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("keyring-ado: no credential for pkgs.dev.azure.com/contoso. Tried: ")
    assert lines[0].endswith("Run `az login`, or set KEYRING_ADO_PAT to a PAT with the Packaging (Read) scope.")
