"""pip, uv, twine, Poetry and the keyring CLI, as real subprocesses, against the fake feed."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import BIN, PACKAGE, Clients, Org
from tests.fakes import entra, wheels
from tests.fakes.artifacts import HOSTED, TENANT
from tests.fakes.az import jwt

pytestmark = pytest.mark.e2e


def configure_source(clients: Clients, org: Org, source: str) -> None:
    """Make *source* the one way the backend can find org's secret."""
    if source == "az":
        clients.fake_az().configure("token", org.secret)
    else:
        clients.env.update(source_variables(org, source))


def source_variables(org: Org, source: str) -> dict[str, str]:
    """The variables that make *source* hold org's secret."""
    if source == "KEYRING_ADO_PAT":
        return {"KEYRING_ADO_PAT": org.secret}
    if source == "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS":
        endpoints = {"endpointCredentials": [{"endpoint": org.url(), "username": "build", "password": org.secret}]}
        return {"VSS_NUGET_EXTERNAL_FEED_ENDPOINTS": json.dumps(endpoints)}
    if source == "VSS_NUGET_ACCESSTOKEN":
        return {
            "VSS_NUGET_ACCESSTOKEN": org.secret,
            "VSS_NUGET_URI_PREFIXES": f"https://pkgs.dev.azure.com/{org.name}/",
        }
    if source == "SYSTEM_ACCESSTOKEN":  # an Azure Pipelines job of org's, with the job token mapped
        return {
            "TF_BUILD": "True",
            "SYSTEM_COLLECTIONURI": f"https://dev.azure.com/{org.name}/",
            "SYSTEM_ACCESSTOKEN": org.secret,
        }
    raise AssertionError(source)


def assert_installed(target: Path) -> None:
    """demo-pkg 1.0, as the fake served it, is in *target*."""
    assert (target / "demo_pkg" / "__init__.py").read_text() == "__version__ = '1.0'\n"


def installed_in_venv(project: Path) -> bool:
    """demo-pkg is in the project's own ``.venv`` (uv, Poetry and pdm make one there)."""
    return any((project / ".venv").glob("lib/python*/site-packages/demo_pkg/__init__.py"))


def assert_no_secret(org: Org, *outputs: str) -> None:
    for output in outputs:
        assert org.secret not in output


SOURCES = ["KEYRING_ADO_PAT", "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS", "VSS_NUGET_ACCESSTOKEN", "SYSTEM_ACCESSTOKEN", "az"]


@pytest.mark.parametrize("source", SOURCES)
def test_pip_import_mode(clients: Clients, source: str) -> None:
    """pip --keyring-provider import installs from the feed with each source."""
    org = clients.new_org(secret=jwt() if source == "az" else None)
    configure_source(clients, org, source)
    result = clients.pip_install(org.url(), provider="import")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_installed(clients.target)
    paths = org.authorized_requests()
    assert f"/{org.name}/_packaging/feed/pypi/simple/demo-pkg/" in paths
    assert any("/pypi/download/demo-pkg/1.0/" in p for p in paths)
    assert_no_secret(org, result.stdout, result.stderr)


def test_pip_subprocess_mode(clients: Clients) -> None:
    """pip --keyring-provider subprocess runs `keyring --mode=creds get`; no user name needed."""
    org = clients.new_org()
    configure_source(clients, org, "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS")
    clients.keyring_outside_pip_env()
    result = clients.pip_install(org.url(), provider="subprocess")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_installed(clients.target)
    assert org.authorized_requests()
    assert_no_secret(org, result.stdout, result.stderr)


def test_pip_legacy_host(clients: Clients) -> None:
    """The legacy {org}.pkgs.visualstudio.com host works the same way."""
    org = clients.new_org()
    clients.world.state.add_file("contoso", "feed", PACKAGE, *wheels.build(PACKAGE, "1.0"))
    clients.world.state.accept("contoso", org.secret)
    clients.env["KEYRING_ADO_PAT"] = org.secret
    result = clients.pip_install(org.url(host="contoso.pkgs.visualstudio.com"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert_installed(clients.target)


@pytest.mark.parametrize("source", ["VSS_NUGET_ACCESSTOKEN", "az"])
def test_uv_pip_install_with_username_in_url(clients: Clients, source: str) -> None:
    """uv pip install with VssSessionToken@ in the index URL asks `keyring get URL USER`."""
    org = clients.new_org(secret=jwt() if source == "az" else None)
    configure_source(clients, org, source)
    result = clients.run(clients.uv_pip_install_argv(org.url(user="VssSessionToken")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert_installed(clients.target)
    assert org.authorized_requests()
    assert_no_secret(org, result.stdout, result.stderr)


def app_project(clients: Clients, tool_tables: str) -> Path:
    """A project "app" that depends on demo-pkg, with the given [tool.*] tables."""
    project = clients.tmp / "app"
    project.mkdir()
    header = f'[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = ["{PACKAGE}"]\n'
    (project / "pyproject.toml").write_text(f"{header}\n{tool_tables}")
    return project


def uv_project(clients: Clients, org: Org, *, username: bool) -> Path:
    index = f'url = "{org.url(user="VssSessionToken" if username else None)}"'
    if not username:
        index += '\nauthenticate = "always"'
    return app_project(
        clients, f'[tool.uv]\npackage = false\n\n[[tool.uv.index]]\nname = "ado"\ndefault = true\n{index}\n'
    )


def test_uv_sync_then_resync_from_lock(clients: Clients) -> None:
    """uv sync resolves through keyring; a second sync from uv.lock, with a cold cache, fetches the
    GUID download URL that no index matches, and keyring answers that URL too (uv#17144's shape)."""
    org = clients.new_org()
    configure_source(clients, org, "SYSTEM_ACCESSTOKEN")
    project = uv_project(clients, org, username=True)
    args = ("sync", "--keyring-provider", "subprocess", "--python", sys.executable)
    first = clients.uv(*args, cwd=project)
    assert first.returncode == 0, first.stdout + first.stderr
    lock = (project / "uv.lock").read_text()
    assert "/pypi/download/demo-pkg/1.0/" in lock
    assert org.secret not in lock
    # A cold second run: no cache, only the lock file's download URLs.
    clients.env["UV_CACHE_DIR"] = str(clients.tmp / "uv-cache-2")
    clients.world.state.reset_log()
    second = clients.uv(*args, "--reinstall", cwd=project)
    assert second.returncode == 0, second.stdout + second.stderr
    downloads = [p for p in org.authorized_requests() if "/pypi/download/" in p]
    assert downloads, clients.world.state.received()
    assert not [p for p in org.authorized_requests() if "/simple/" in p], "the resync should not need the index"
    assert_no_secret(org, first.stdout, first.stderr, second.stdout, second.stderr)


def test_uv_sync_without_username(clients: Clients) -> None:
    """authenticate = "always" and no user name: uv runs `keyring get URL --mode creds`."""
    org = clients.new_org()
    configure_source(clients, org, "KEYRING_ADO_PAT")
    project = uv_project(clients, org, username=False)
    result = clients.uv("sync", "--keyring-provider", "subprocess", "--python", sys.executable, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert any("/simple/demo-pkg/" in p for p in org.authorized_requests())
    assert installed_in_venv(project)
    assert_no_secret(org, result.stdout, result.stderr)


def test_twine_upload_then_install(clients: Clients) -> None:
    """twine upload with no user name and no password: keyring gives both; the file lands."""
    org = clients.new_org(secret=jwt())
    configure_source(clients, org, "az")
    result, filename = clients.twine_upload(org.url("upload"), "uploaded-pkg", "2.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("feed", filename) in clients.world.state.uploads
    assert "/pypi/upload/" in " ".join(org.authorized_requests())
    assert_no_secret(org, result.stdout, result.stderr)
    assert len(clients.fake_az().calls) == 1, "twine asks twice; az is run once"
    # ...and what was uploaded installs from the feed, through the same cached token.
    installed = clients.pip(
        "install", "--no-input", "--keyring-provider", "import", "--index-url", org.url(),
        "--target", str(clients.target), "uploaded-pkg==2.0",
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (clients.target / "uploaded_pkg" / "__init__.py").read_text() == "__version__ = '2.0'\n"
    assert len(clients.fake_az().calls) == 1, "the install used the token the upload cached"


def test_poetry_install(clients: Clients) -> None:
    """poetry install from an explicit source, with no credential stored anywhere."""
    org = clients.new_org()
    configure_source(clients, org, "KEYRING_ADO_PAT")
    source = f'[[tool.poetry.source]]\nname = "ado"\nurl = "{org.url()}"\npriority = "primary"\n'
    project = app_project(clients, f"[tool.poetry]\npackage-mode = false\n\n{source}")
    result = clients.tool("poetry", "install", "--no-interaction", "--no-ansi", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed_in_venv(project), result.stdout + result.stderr
    assert org.authorized_requests()
    assert not (clients.tmp / "poetry-config" / "auth.toml").exists()
    assert_no_secret(org, result.stdout, result.stderr)


def test_keyring_get_with_fake_az(clients: Clients) -> None:
    """`keyring get URL USER` prints the token alone, from az."""
    org = clients.new_org(secret=jwt())
    configure_source(clients, org, "az")
    result = clients.tool("keyring", "get", org.url(), "VssSessionToken")
    assert result.returncode == 0, result.stderr
    assert result.stdout == org.secret + "\n"
    assert result.stderr == ""


@pytest.mark.parametrize("foreign", ["pkgs.dev.azure.com.evil.example", "evilpkgs.dev.azure.com"])
def test_lookalike_host_gets_no_credential(clients: Clients, foreign: str) -> None:
    """A look-alike host with a feed-shaped path is asked, answers 401, and never sees a credential."""
    org = clients.new_org()
    configure_source(clients, org, "KEYRING_ADO_PAT")
    clients.world.state.reset_log()
    evil = f"https://{foreign}/{org.name}/_packaging/feed/pypi/simple/"
    result = clients.pip_install(evil, "--extra-index-url", org.url())
    foreign_requests = clients.world.state.received(foreign)
    assert foreign_requests, "pip should have asked the look-alike host"
    assert all(r.authorization is None for r in foreign_requests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_installed(clients.target)


@pytest.mark.parametrize("delimiter", ["?", "#"])
def test_twine_to_a_host_hidden_before_our_host_gets_no_credential(clients: Clients, delimiter: str) -> None:
    """``https://<other host>?@pkgs.dev.azure.com/...``: twine connects to the other host, so keyring
    gives it nothing and the upload stops without sending a credential there (review item 4)."""
    org = clients.new_org()
    configure_source(clients, org, "KEYRING_ADO_PAT")
    clients.world.state.reset_log()
    other = "pkgs.dev.azure.com.evil.example"
    url = f"https://{other}{delimiter}@pkgs.dev.azure.com/{org.name}/_packaging/feed/pypi/upload/"
    result, _ = clients.twine_upload(url, "stolen-pkg", "1.0")
    assert result.returncode != 0, result.stdout + result.stderr
    assert not [r for r in clients.world.state.received(other) if r.authorization]
    assert not clients.world.state.received(HOSTED), "nothing was meant for our host"
    assert_no_secret(org, result.stdout, result.stderr)
    # The same upload, to our host, goes through: the refusal above is the host, not the setup.
    ours, filename = clients.twine_upload(org.url("upload"), "stolen-pkg", "1.0")
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert ("feed", filename) in clients.world.state.uploads


def test_azure_devops_server_gets_a_pat_only(clients: Clients) -> None:
    """A host from KEYRING_ADO_HOSTS is served with a PAT; az (an Entra token) is never asked for it."""
    org = clients.new_org()
    clients.env["KEYRING_ADO_HOSTS"] = "tfs.contoso.test"
    az = clients.fake_az()
    az.configure("token", jwt())
    url = f"https://tfs.contoso.test/{org.name}/_packaging/feed/pypi/simple/"
    refused = clients.pip_install(url)
    assert refused.returncode != 0
    assert az.calls == []
    assert not [r for r in clients.world.state.received("tfs.contoso.test") if r.authorization]
    clients.env["KEYRING_ADO_PAT"] = org.secret
    result = clients.pip_install(url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_installed(clients.target)


def configure_identity(clients: Clients, kind: str) -> None:
    """A CI identity the fake Entra ID knows, set up the way its platform sets it up."""
    clients.env.update(identity_variables(clients, kind))


def identity_variables(clients: Clients, kind: str, job_org: str = "contoso") -> dict[str, str]:
    """The variables the platform gives a job for *kind* (*job_org*: the pipeline's organisation)."""
    fake = clients.world.entra
    if kind == "service principal":
        client_id, secret = fake.add_secret_client()
        return {"AZURE_CLIENT_ID": client_id, "AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_SECRET": secret}
    if kind == "GitHub Actions OIDC":
        return {
            "AZURE_CLIENT_ID": fake.add_federated_client(),
            "AZURE_TENANT_ID": TENANT,
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"https://{entra.GITHUB_HOST}/_apis/oidctoken?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": fake.github_request_token,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_ACTIONS": "true",
            "CI": "true",
        }
    if kind == "workload identity":
        token_file = clients.tmp / "federated-token"
        token_file.write_text(fake.issue_assertion("system:serviceaccount:build:pip"))
        return {
            "AZURE_CLIENT_ID": fake.add_federated_client(),
            "AZURE_TENANT_ID": TENANT,
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        }
    if kind == "Azure Pipelines service connection":  # as AzureCLI@2 sets it up, with the job token mapped
        return {
            "TF_BUILD": "True",
            "SYSTEM_COLLECTIONURI": f"https://dev.azure.com/{job_org}/",
            "SYSTEM_OIDCREQUESTURI": f"https://{entra.PIPELINES_HOST}/{job_org}/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken",
            "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "3c1f9b0e-0000-4000-8000-000000000001",
            "AZURESUBSCRIPTION_CLIENT_ID": fake.add_federated_client(),
            "AZURESUBSCRIPTION_TENANT_ID": TENANT,
            "SYSTEM_ACCESSTOKEN": fake.pipelines_job_token,
        }
    raise AssertionError(kind)


IDENTITIES = ["service principal", "GitHub Actions OIDC", "workload identity"]


@pytest.mark.parametrize("kind", IDENTITIES)
def test_pip_with_ci_identity(clients: Clients, kind: str) -> None:
    """pip installs with an Entra token minted for a CI identity; no PAT, no az."""
    org = clients.new_org()
    configure_identity(clients, kind)
    result = clients.pip_install(org.url())
    assert result.returncode == 0, result.stdout + result.stderr
    assert_installed(clients.target)
    used = {r.secret for r in clients.world.state.received() if r.status == 200 and f"/{org.name}/" in r.path}
    assert used, "the feed saw no authorised request"
    assert all(clients.world.entra.valid_for(secret or "", TENANT) for secret in used)
    assert all(entra.claims_of(secret or "")["idtyp"] == "app" for secret in used)


@pytest.mark.parametrize("kind", IDENTITIES)
def test_uv_with_ci_identity(clients: Clients, kind: str) -> None:
    """uv pip install through `keyring get`, with the same identities; later lookups use the token cache."""
    org = clients.new_org()
    configure_identity(clients, kind)
    clients.world.entra.log.clear()
    result = clients.run(clients.uv_pip_install_argv(org.url(user="VssSessionToken")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert_installed(clients.target)
    assert len(clients.world.entra.grants("client_credentials")) == 1, "one token for every keyring process"


def signin_env(clients: Clients) -> None:
    clients.env["KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE"] = "1"  # no Secret Service on these machines
    clients.world.entra.log.clear()


def device_code_grants(clients: Clients) -> int:
    return len([e for e in clients.world.entra.log if e["path"].endswith("/devicecode")])


def test_device_code_sign_in_then_silent(clients: Clients) -> None:
    """uv at a terminal: one device-code sign-in, completed after the fake's two pending polls;
    then pip, with no terminal at all, is served silently with no new sign-in."""
    from tests.e2e import terminal

    org = clients.new_org()
    signin_env(clients)
    session = terminal.run(clients.uv_pip_install_argv(org.url(user="VssSessionToken")), clients.env, clients.tmp)
    assert session.returncode == 0, session.stdout + session.stderr + session.screen
    assert (
        "keyring-ado: to sign in, open https://microsoft.com/devicelogin in a browser and enter the code"
        in session.screen
    )
    assert "keyring-ado: signed in." in session.screen
    assert device_code_grants(clients) == 1
    assert len(clients.world.entra.grants(entra.DEVICE_CODE_GRANT)) == 3  # pending, pending, granted
    assert_installed(clients.target)
    # A second client, another process, no terminal: the remembered sign-in, no prompt.
    (clients.tmp / "home" / ".cache" / "keyring-ado" / "tokens.json").unlink()  # force msal's own cache
    shutil.rmtree(clients.target)
    second = clients.pip_install(org.url())
    assert second.returncode == 0, second.stdout + second.stderr
    assert_installed(clients.target)
    assert device_code_grants(clients) == 1
    assert "devicelogin" not in second.stdout + second.stderr


def test_parallel_processes_share_one_prompt(clients: Clients) -> None:
    """Two `keyring get` processes at two terminals at once: one device-code prompt, both answered."""
    from tests.e2e import terminal

    org = clients.new_org()
    signin_env(clients)
    argv = [str(BIN / "keyring"), "get", org.url(), "VssSessionToken"]
    running = [terminal.start(argv, clients.env, clients.tmp) for _ in range(2)]
    sessions = [terminal.finish(started) for started in running]
    assert [s.returncode for s in sessions] == [0, 0], [s.stderr + s.screen for s in sessions]
    assert sessions[0].stdout == sessions[1].stdout
    assert clients.world.entra.valid_for(sessions[0].stdout.strip(), TENANT)
    assert sum("devicelogin" in s.screen for s in sessions) == 1
    assert device_code_grants(clients) == 1


def test_a_pending_sign_in_holds_up_no_other_lookup(clients: Clients) -> None:
    """While one process waits for a person at its device code, another process's az lookup for
    another organisation is served at once, from the same cache directory: sign-ins wait for each
    other (one prompt), nothing else waits for a sign-in (issue 14, item 4)."""
    import os

    from tests.e2e import terminal

    waiting, other = clients.new_org(), clients.new_org()
    signin_env(clients)
    token = jwt()
    clients.fake_az().configure("token", token)
    without_az = [entry for entry in clients.env["PATH"].split(os.pathsep) if entry != str(clients.fake_az().directory)]
    pending_env = {**clients.env, "PATH": os.pathsep.join(without_az), "KEYRING_ADO_SIGNIN_TIMEOUT": "90"}
    polls = clients.world.entra.polls_before_approval
    clients.world.entra.polls_before_approval = 10_000  # nobody ever enters the code
    started = terminal.start([str(BIN / "keyring"), "get", waiting.url(), "VssSessionToken"], pending_env, clients.tmp)
    try:
        deadline = time.monotonic() + 60
        while "enter the code" not in b"".join(started[2]).decode(errors="replace"):
            assert time.monotonic() < deadline, "the sign-in never prompted"
            assert started[0].poll() is None, b"".join(started[2]).decode(errors="replace")
            time.sleep(0.1)
        asked = time.monotonic()
        served = clients.run([str(BIN / "keyring"), "get", other.url(), "VssSessionToken"], timeout=60)
        took = time.monotonic() - asked
        assert started[0].poll() is None, "the sign-in is still waiting for its person"
    finally:
        clients.world.entra.polls_before_approval = polls
        started[0].kill()
        terminal.finish(started, timeout=30)
    assert served.returncode == 0, served.stderr
    assert served.stdout == token + "\n"
    assert took < 10, f"{took:.1f} s: the az lookup waited for the pending sign-in"


def test_32_processes_at_terminals_one_prompt(clients: Clients) -> None:
    """Load with the interactive sign-in: 32 cold `keyring get` processes, each at a terminal of its
    own, started together. One device-code prompt in all; the other 31 wait for it and use the
    sign-in it left; Entra ID gets a bounded number of token requests; the cache is valid after."""
    from tests.e2e import terminal

    org = clients.new_org()
    signin_env(clients)
    argv = [str(BIN / "keyring"), "get", org.url(), "VssSessionToken"]
    running = [terminal.start(argv, clients.env, clients.tmp) for _ in range(32)]
    sessions = [terminal.finish(started, timeout=240) for started in running]
    assert [s.returncode for s in sessions] == [0] * 32, [s.stderr + s.screen for s in sessions if s.returncode][:2]
    tokens = {s.stdout for s in sessions}
    assert len(tokens) == 1
    assert clients.world.entra.valid_for(tokens.pop().strip(), TENANT)
    assert sum("devicelogin" in s.screen for s in sessions) == 1, "one prompt"
    assert device_code_grants(clients) == 1
    assert len(clients.world.entra.grants(entra.DEVICE_CODE_GRANT)) == 3  # pending, pending, granted
    # The sign-in's own requests (discovery, the device code, three polls) and nothing from the other 31.
    assert len(clients.world.entra.log) <= 5, clients.world.entra.log
    cache = json.loads((clients.tmp / "home" / ".cache" / "keyring-ado" / "tokens.json").read_text())
    assert [key for key in cache["entries"] if org.name in key], cache


def test_ci_without_any_source_is_quick_and_clear(clients: Clients) -> None:
    """CI=true, nothing configured: `keyring get` ends within 5 s, one line on stderr, nothing on stdout."""
    org = clients.new_org()
    clients.env["CI"] = "true"
    started = time.monotonic()
    result = clients.tool("keyring", "get", org.url(), "VssSessionToken")
    assert time.monotonic() - started < 5
    assert (result.returncode, result.stdout) == (1, "")
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "sign-in (no remembered sign-in, and this is a CI run" in lines[0]
    assert lines[0].endswith("Run `az login`, or set KEYRING_ADO_PAT to a PAT with the Packaging (Read) scope.")


def test_session_tokens_for_install_and_upload(clients: Clients) -> None:
    """KEYRING_ADO_SESSION_TOKEN=1: pip reads with a vso.packaging token, twine publishes with a
    vso.packaging_write one (the fake feed refuses uploads with a read-only session token)."""
    org = clients.new_org()
    clients.fake_az().configure("token", clients.world.entra.user_access_token())
    clients.env["KEYRING_ADO_SESSION_TOKEN"] = "1"
    installed = clients.pip_install(org.url())
    assert installed.returncode == 0, installed.stdout + installed.stderr
    uploaded, _ = clients.twine_upload(org.url("upload"), "session-pkg", "1.0")
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    scopes = clients.world.state.other_hosts["vssps.dev.azure.com"].scopes
    feed_requests = clients.world.state.received("pkgs.dev.azure.com")
    used = {r.secret for r in feed_requests if r.status == 200 and f"/{org.name}/" in r.path}
    assert {scopes.get(secret or "") for secret in used} == {"vso.packaging", "vso.packaging_write"}
    assert len(clients.fake_az().calls) == 1
