"""Running the real clients as subprocesses against the fake Azure Artifacts.

Each client gets a scrubbed environment: an empty HOME, the test CA as its only trust anchor,
and an ``HTTPS_PROXY`` that routes the real Azure DevOps host names to the local fake (and
refuses everything else), so URLs, TLS names and the clients' own logic are the real ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROUTED_HOSTS, AdoWorld
from tests.fakes import entra, resolver, wheels
from tests.fakes.az import FakeAz

BIN = Path(sys.executable).parent
PACKAGE = "demo-pkg"


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable}; install the test extra: pip install .[test]")
    return str(path)


@dataclass
class Org:
    """A fresh organisation on the fake, with one feed holding demo-pkg 1.0."""

    name: str
    secret: str
    world: AdoWorld

    def url(self, kind: str = "simple", user: str | None = None, host: str = "pkgs.dev.azure.com") -> str:
        userinfo = f"{user}@" if user else ""
        if host.endswith(".pkgs.visualstudio.com"):
            return f"https://{userinfo}{host}/_packaging/feed/pypi/{kind}/"
        return f"https://{userinfo}{host}/{self.name}/_packaging/feed/pypi/{kind}/"

    def authorized_requests(self) -> list[str]:
        return [
            r.path
            for r in self.world.state.received()
            if r.secret == self.secret and r.status == 200 and f"/{self.name}/" in f"{r.path}/"
        ]


@dataclass
class Clients:
    world: AdoWorld
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    az: FakeAz | None = None

    def new_org(self, secret: str | None = None) -> Org:
        name = f"org{uuid.uuid4().hex[:10]}"
        org = Org(name, secret or f"pat{uuid.uuid4().hex}", self.world)
        filename, content = wheels.build(PACKAGE, "1.0")
        self.world.state.add_file(name, "feed", PACKAGE, filename, content)
        self.world.state.accept(name, org.secret)
        return org

    def fake_az(self) -> FakeAz:
        if self.az is None:
            self.az = FakeAz(self.tmp / "az-bin", profile_dir=Path(self.env["HOME"]) / ".azure")
            self.env["PATH"] = f"{self.az.directory}{os.pathsep}{self.env['PATH']}"
        return self.az

    def keyring_outside_pip_env(self, env: dict[str, str] | None = None) -> None:
        """pip's subprocess provider skips its own env's scripts dir: offer keyring from another dir,
        as a pipx or ``uv tool`` install would (in *env*, else the clients' own environment)."""
        env = self.env if env is None else env
        shim = self.tmp / "tool-bin"
        shim.mkdir(exist_ok=True)
        link = shim / "keyring"
        if not link.exists():
            link.symlink_to(BIN / "keyring")
        if str(shim) not in env["PATH"].split(os.pathsep):
            env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"

    def route_by_name(self, env: dict[str, str] | None = None) -> None:
        """For clients that ignore ``HTTPS_PROXY`` (hatch publish): the routed names reach the fake."""
        env = self.env if env is None else env
        env["PYTHONPATH"] = str(resolver.install(self.tmp / "resolver", ROUTED_HOSTS, self.world.port))

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        timeout: float = 180,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            env=self.env if env is None else env,
            cwd=cwd or self.tmp,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )

    def pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "pip", *args])

    def pip_install(self, index_url: str, *more: str, provider: str = "import") -> subprocess.CompletedProcess[str]:
        """``pip install PACKAGE`` from *index_url* into ``self.target``, keyring through *provider*."""
        return self.pip(
            "install", "--no-input", "--keyring-provider", provider, "--index-url", index_url, *more,
            "--target", str(self.target), PACKAGE,
        )  # fmt: skip

    def uv_pip_install_argv(self, index_url: str) -> list[str]:
        """``uv pip install PACKAGE`` into ``self.target``, keyring through the ``keyring`` command."""
        return [
            str(BIN / "uv"), "pip", "install", "--keyring-provider", "subprocess", "--index-url", index_url,
            "--target", str(self.target), "--python", sys.executable, PACKAGE,
        ]  # fmt: skip

    def twine_upload(self, upload_url: str, name: str, version: str) -> tuple[subprocess.CompletedProcess[str], str]:
        """``twine upload`` of a freshly built wheel, with no user name and no password given."""
        wheel = wheels.write(self.tmp / "dist", name, version)
        args = ("upload", "--non-interactive", "--disable-progress-bar", "--repository-url", upload_url)
        return self.tool("twine", *args, str(wheel)), wheel.name

    @property
    def target(self) -> Path:
        return self.tmp / "target"

    def uv(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self.run([_tool("uv"), *args], cwd=cwd)

    def tool(self, name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self.run([_tool(name), *args], cwd=cwd)


@pytest.fixture
def clients(ado_world: AdoWorld, tmp_path: Path) -> Clients:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    ca = str(ado_world.ca_file)
    env = {
        "PATH": f"{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "SSL_CERT_FILE": ca,
        "REQUESTS_CA_BUNDLE": ca,
        "PIP_CERT": ca,
        "HTTPS_PROXY": ado_world.proxy_url,
        "https_proxy": ado_world.proxy_url,
        "HTTP_PROXY": ado_world.proxy_url,
        "http_proxy": ado_world.proxy_url,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_PYTHON_DOWNLOADS": "never",
        "POETRY_CACHE_DIR": str(tmp_path / "poetry-cache"),
        "POETRY_CONFIG_DIR": str(tmp_path / "poetry-config"),
        "POETRY_DATA_DIR": str(tmp_path / "poetry-data"),
        "POETRY_VIRTUALENVS_IN_PROJECT": "true",
        "PDM_CHECK_UPDATE": "false",
        "PDM_CACHE_DIR": str(tmp_path / "pdm-cache"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AZURE_AUTHORITY_HOST": f"https://{entra.ENTRA_HOST}",
    }
    return Clients(ado_world, tmp_path, env)
