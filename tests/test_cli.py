"""The keyring-ado command: diagnose, login, logout and setup, as a user runs them."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from keyring_ado import variables
from tests.conftest import AdoWorld
from tests.fakes import entra
from tests.fakes.az import FakeAz, jwt
from tests.helpers import leaked


@pytest.fixture
def world_env(routed: AdoWorld, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in variables.ALL_VARIABLES}
    env.update(
        {
            "HOME": str(tmp_path / "home"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "PATH": str(tmp_path / "no-bin"),
            "AZURE_AUTHORITY_HOST": f"https://{entra.ENTRA_HOST}",
            "REQUESTS_CA_BUNDLE": str(routed.ca_file),
        }
    )
    return env


def org_url(world: AdoWorld, secret: str) -> str:
    org = f"org{uuid.uuid4().hex[:8]}"
    world.state.add_feed(org, "feed")
    world.state.accept(org, secret)
    return f"https://pkgs.dev.azure.com/{org}/_packaging/feed/pypi/simple/"


def cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyring_ado", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_diagnose_served(routed: AdoWorld, world_env: dict[str, str]) -> None:
    """Every source in order, which served, and the feed's answer to that credential; no secret."""
    secret = "pat" + uuid.uuid4().hex
    url = org_url(routed, secret)
    result = cli({**world_env, "KEYRING_ADO_PAT": secret}, "diagnose", url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "keyring-ado:   tenant: 72f988bf-86f1-41af-91ab-2d7cd011db47 (from authorization_uri)" in result.stderr
    assert "keyring-ado:   environment: served a PAT (KEYRING_ADO_PAT), expires never" in result.stderr
    assert "keyring-ado:   feed answered 200 to an authenticated request" in result.stderr
    assert not leaked(secret, result.stderr)


def test_diagnose_json_when_nothing_answers(routed: AdoWorld, world_env: dict[str, str]) -> None:
    """--json: each source's outcome on stdout, and the one thing to do next."""
    url = org_url(routed, "unused-secret")
    result = cli({**world_env, "CI": "true"}, "diagnose", url, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [s["outcome"] for s in report["sources"]] == ["unavailable"] * len(report["sources"])
    assert report["sources"][0]["source"] == "environment"
    assert report["sources"][-1]["source"] == "sign-in"
    assert report["next"] == "Run `az login`, or set KEYRING_ADO_PAT to a PAT with the Packaging (Read) scope."


def test_diagnose_refused_credential(routed: AdoWorld, world_env: dict[str, str]) -> None:
    """A PAT the feed refuses: the probe shows 401 and says so."""
    url = org_url(routed, "the-right-one")
    result = cli({**world_env, "KEYRING_ADO_PAT": "a-wrong-pat-value"}, "diagnose", url)
    assert result.returncode == 1
    assert "feed answered 401 to an authenticated request (the credential was refused)" in result.stderr
    assert not leaked("a-wrong-pat-value", result.stderr)


def test_diagnose_foreign(world_env: dict[str, str]) -> None:
    """A URL that is not ours is said to be so, exit 2."""
    result = cli(world_env, "diagnose", "https://pypi.org/simple/")
    assert result.returncode == 2
    assert "is not an Azure DevOps feed URL keyring-ado serves" in result.stderr


def test_verbose_is_redacted(routed: AdoWorld, world_env: dict[str, str], tmp_path: Path) -> None:
    """-v turns on our debug log, on stderr, with secrets masked."""
    az = FakeAz(tmp_path / "az-bin")
    token = jwt()
    az.configure("aadsts", token)
    url = org_url(routed, "x")
    result = cli({**world_env, "PATH": str(az.directory)}, "-v", "diagnose", url)
    assert "keyring_ado.discovery: keyring-ado: tenant for" in result.stderr
    assert "AADSTS700082" in result.stderr, "az's error is quoted, its token masked"
    assert not leaked(token, result.stderr, result.stdout)


def test_login_then_logout(routed: AdoWorld, world_env: dict[str, str], tmp_path: Path) -> None:
    """login fetches and caches; logout URL forgets that organisation; logout forgets everything."""
    az = FakeAz(tmp_path / "az-bin")
    az.configure("token", jwt())
    env = {**world_env, "PATH": str(az.directory)}
    url = org_url(routed, "x")
    login = cli(env, "login", url)
    assert login.returncode == 0, login.stderr
    assert "ready: a Entra ID token from az for pkgs.dev.azure.com/" in login.stderr
    cache = tmp_path / "cache" / "keyring-ado"
    assert json.loads((cache / "tokens.json").read_text())["entries"]
    one = cli(env, "logout", url)
    assert "removed 1 entry for pkgs.dev.azure.com/" in one.stderr
    assert json.loads((cache / "tokens.json").read_text())["entries"] == {}
    everything = cli(env, "logout")
    assert f"removed {cache / 'tokens.json'}; {cache / 'tenants.json'}" in everything.stderr
    assert not (cache / "tokens.json").exists()
    assert "nothing to remove" in cli(env, "logout").stderr
    assert "the sign-in is kept" not in one.stderr, "no sign-in was made: nothing to say about one"


def test_logout_of_one_organisation_says_the_sign_in_is_kept(world_env: dict[str, str], tmp_path: Path) -> None:
    """`logout URL` forgets that organisation's tokens; a sign-in serves every organisation, so it
    stays, and the command says so plainly and how to forget it too (issue 14, item 11)."""
    cache = tmp_path / "cache" / "keyring-ado"
    cache.mkdir(parents=True, mode=0o700)
    (cache / "msal-cache.json").write_text("{}")
    (cache / "msal-cache.json").chmod(0o600)
    one = cli(world_env, "logout", FEED)
    assert one.returncode == 0, one.stderr
    assert "the sign-in is kept: it serves every organisation and tenant; run `keyring-ado logout` without a URL" in (
        one.stderr
    )
    assert (cache / "msal-cache.json").exists()
    everything = cli(world_env, "logout")
    assert f"removed {cache / 'msal-cache.json'}" in everything.stderr
    assert not (cache / "msal-cache.json").exists()
    assert "the sign-in is kept" not in everything.stderr


FEED = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"


def test_setup_pip_prints_and_merges(world_env: dict[str, str], tmp_path: Path) -> None:
    """setup pip prints the config; --write keeps an existing index and adds the feed beside it."""
    printed = cli(world_env, "setup", "pip", FEED.replace("/simple/", "/simple/requests/"))
    assert printed.stdout == f"[global]\nindex-url = {FEED}\nkeyring-provider = import\n"
    conf = tmp_path / "config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[global]\nindex-url = https://pypi.org/simple/\ntimeout = 60\n")
    written = cli(world_env, "setup", "pip", FEED, "--write")
    assert f"updated {conf}" in written.stderr
    parser = configparser.ConfigParser()
    parser.read(conf)
    assert dict(parser["global"]) == {
        "index-url": "https://pypi.org/simple/",
        "timeout": "60",
        "extra-index-url": FEED,
        "keyring-provider": "import",
    }
    assert "already set up" in cli(world_env, "setup", "pip", FEED, "--write").stderr


def test_setup_uv_merges_once(world_env: dict[str, str], tmp_path: Path) -> None:
    """setup uv --write adds keyring-provider and a named index once, keeping what was there."""
    conf = tmp_path / "config" / "uv" / "uv.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text('[[index]]\nname = "ado"\nurl = "https://example.com/simple/"\n')
    cli(world_env, "setup", "uv", FEED, "--write")
    assert "already set up" in cli(world_env, "setup", "uv", FEED, "--write").stderr
    text = conf.read_text()
    assert text.startswith('keyring-provider = "subprocess"\n')
    assert 'url = "https://example.com/simple/"' in text
    assert f'name = "ado-2"\nurl = "{FEED.replace("https://", "https://VssSessionToken@")}"' in text
    assert text.count("[[index]]") == 2


def test_setup_refuses_a_broken_pip_conf(world_env: dict[str, str], tmp_path: Path) -> None:
    """A pip.conf that is not INI: one line naming it, exit 1, the file as it was."""
    conf = tmp_path / "config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("index-url = https://pypi.org/simple/\n[global\n")
    result = cli(world_env, "setup", "pip", FEED, "--write")
    assert result.returncode == 1
    assert result.stderr.startswith(f"keyring-ado: {conf} is not a valid pip configuration file (")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert conf.read_text() == "index-url = https://pypi.org/simple/\n[global\n"


def test_setup_cannot_write(world_env: dict[str, str], tmp_path: Path) -> None:
    """A configuration path that cannot be written (here a file stands where its directory goes): one line."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "uv").write_text("")
    result = cli(world_env, "setup", "uv", FEED, "--write")
    assert result.returncode == 1
    assert result.stderr.startswith(f"keyring-ado: cannot update {tmp_path / 'config' / 'uv' / 'uv.toml'}: ")
    assert "keyring-ado setup uv URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("existing", "says"),
    [
        ('[[index]\nname = "x"\n', "is not valid TOML"),
        ('index = "https://example.com/simple/"\n', "adding the feed would leave"),
    ],
)
def test_setup_keeps_toml_valid(world_env: dict[str, str], tmp_path: Path, existing: str, says: str) -> None:
    """uv.toml that is not TOML, or that the feed's [[index]] would clash with, is left alone."""
    conf = tmp_path / "config" / "uv" / "uv.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text(existing)
    result = cli(world_env, "setup", "uv", FEED, "--write")
    assert result.returncode == 1
    assert says in result.stderr
    assert result.stderr.count("\n") == 1
    assert conf.read_text() == existing


def test_setup_poetry(world_env: dict[str, str], tmp_path: Path) -> None:
    """setup poetry --write appends a primary source to the project; without a project it says so."""
    project = tmp_path / "app"
    project.mkdir()
    missing = cli(world_env, "setup", "poetry", FEED, "--write", "--project", str(project))
    assert missing.returncode == 1
    assert missing.stderr == (
        f"keyring-ado: no {project / 'pyproject.toml'}; run this in your Poetry project or pass --project\n"
    )
    (project / "pyproject.toml").write_text('[project]\nname = "app"\n')
    cli(world_env, "setup", "poetry", FEED, "--write", "--project", str(project))
    text = (project / "pyproject.toml").read_text()
    assert (
        text
        == f'[project]\nname = "app"\n\n[[tool.poetry.source]]\nname = "ado"\nurl = "{FEED}"\npriority = "primary"\n'
    )


def test_no_url_the_cli_prints_keeps_its_user_info(routed: AdoWorld, world_env: dict[str, str]) -> None:
    """People put PATs in URLs: diagnose (text and --json), the "not a feed" error and setup's error
    print the URL with its user info masked (review item 13)."""
    secret = "pat" + uuid.uuid4().hex
    url = org_url(routed, secret).replace("https://", f"https://me:{secret}@")
    env = {**world_env, "KEYRING_ADO_PAT": secret}
    runs = [
        cli(env, "diagnose", url),
        cli(env, "diagnose", url, "--json"),
        cli(env, "diagnose", f"https://me:{secret}@evil.example/simple/"),
        cli(env, "login", f"me:{secret}@pypi.org"),
        cli(env, "setup", "pip", f"https://me:{secret}@pkgs.dev.azure.com/org/_packaging/"),
        cli(env, "setup", "pip", url),
    ]
    assert runs[0].returncode == 0, runs[0].stderr
    assert json.loads(runs[1].stdout)["url"].startswith("https://***@pkgs.dev.azure.com/")
    assert "https://***@evil.example/simple/ is not an Azure DevOps feed URL" in runs[2].stderr
    assert "***@pypi.org is not an Azure DevOps feed URL" in runs[3].stderr
    assert runs[4].returncode == 2
    assert "/pypi/simple/" in runs[5].stdout
    for run in runs:
        assert not any(secret[i : i + 12] in run.stdout + run.stderr for i in range(len(secret) - 11)), run
