"""pdm and hatch, as real subprocesses, against the fake feed (both load keyring in-process)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Clients
from tests.e2e.test_clients import app_project, assert_no_secret, configure_source, installed_in_venv
from tests.fakes import wheels
from tests.fakes.az import jwt

pytestmark = pytest.mark.e2e


def test_pdm_install(clients: Clients) -> None:
    """pdm lock + install from a feed that replaces PyPI, with no credential stored anywhere."""
    org = clients.new_org(secret=jwt())
    configure_source(clients, org, "az")
    source = f'[[tool.pdm.source]]\nname = "pypi"\nurl = "{org.url()}"\n'
    project = app_project(clients, f"[tool.pdm]\ndistribution = false\n\n{source}")
    result = clients.tool("pdm", "install", "--no-self", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed_in_venv(project), result.stdout + result.stderr
    assert org.authorized_requests()
    assert org.secret not in (project / "pdm.lock").read_text()
    assert clients.fake_az().calls, "the credential came from keyring-ado"
    assert_no_secret(org, result.stdout, result.stderr)


def test_pdm_publish(clients: Clients) -> None:
    org = clients.new_org(secret=jwt())
    configure_source(clients, org, "az")
    project = app_project(clients, "")
    filename = wheels.write(project / "dist", "pdm-published", "3.0").name
    result = clients.tool("pdm", "publish", "--no-build", "--repository", org.url("upload"), cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("feed", filename) in clients.world.state.uploads
    assert clients.fake_az().calls, "the credential came from keyring-ado"
    assert_no_secret(org, result.stdout, result.stderr)


def test_hatch_publish(clients: Clients) -> None:
    org = clients.new_org(secret=jwt())
    configure_source(clients, org, "az")
    wheel = wheels.write(clients.tmp / "dist", "hatch-published", "4.0")
    # hatch publish ignores HTTPS_PROXY: route its connections to the fake by name instead.
    clients.route_by_name()
    result = clients.tool(
        "hatch",
        "publish",
        "--repo",
        org.url("upload"),
        "--user",
        "VssSessionToken",
        "--no-prompt",
        str(wheel),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("feed", wheel.name) in clients.world.state.uploads
    assert clients.fake_az().calls, "the credential came from keyring-ado"
    assert_no_secret(org, result.stdout, result.stderr)
