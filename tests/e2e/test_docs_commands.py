"""Every page of the docs, run as a reader would follow it, against the fakes.

For each page, in order: files shown as a ``{code-block}`` with a ``:caption:`` are written into a
project directory (a ``pyproject.toml`` fragment is added to the project's own file), and every
command in a ``console`` block runs there, with what earlier commands set (``export``, ``az login``,
configuration written by ``keyring-ado setup``) still in effect. A command that is neither run nor
listed in SKIPPED with a reason fails the test, so the docs cannot quietly show a command nobody ran.

Placeholders are filled in: ORG and FEED with a fresh fake organisation's feed, PACKAGE with
demo-pkg, ``...`` with that organisation's PAT, ``tfs.example.com`` with the fake Azure DevOps
Server host. The reader starts with a PAT in ``KEYRING_ADO_PAT``; ``az login`` replaces it with a
signed-in fake az. The project, "app", depends on PACKAGE and has its wheel built in ``dist/``
for the upload commands (a new version after each upload, as a feed keeps every file it was given).

CI recipes (``yaml`` blocks) run their ``run:``/``script:``/``inlineScript:`` lines on an emulated
agent of the platform the block is for, with no credential but what that platform gives the job.
A ``dockerfile`` block's ``RUN`` lines run with nothing but BuildKit's secret mount. The pages in
READERS are followed by another reader (the headless page: a person at a terminal, nothing set).
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SERVER_HOST
from tests.e2e import terminal
from tests.e2e.conftest import BIN, PACKAGE, Clients, Org
from tests.e2e.test_clients import identity_variables, source_variables
from tests.fakes import wheels

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
INSTALLS = "installs keyring-ado; the suite runs against the installed build (its effect is stood in for)"
SKIPPED = {
    "pip install keyring-ado": INSTALLS,
    "pip install .": INSTALLS,
    "uv tool install keyring --with keyring-ado": INSTALLS,
    "poetry self add keyring-ado": INSTALLS,
    "pdm self add keyring-ado": INSTALLS,
    "tox run -m ci": "the test command itself, which this test is part of",
    "python benchmarks/bench.py": "the benchmark: builds environments from PyPI, minutes long",
    "docker build": "no Docker engine on the project's machines; the Dockerfile's RUN lines run instead",
}
#: The project before the page adds to it (pdm would otherwise build it with a backend from the feed).
PROJECT = f"""\
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["{PACKAGE}"]

[tool.pdm]
distribution = false
"""
BLOCK = re.compile(
    r"^```(?:(console)|\{code-block\} *(\w+)\n:caption: *(\S+)\n(?::\w+:.*\n)*|(dockerfile|yaml))\n(.*?)^```",
    flags=re.S | re.M,
)
#: Pages whose reader is not the default one (a PAT in KEYRING_ADO_PAT, no terminal).
READERS = {"docs/how-to/headless.md": "a person at a terminal over SSH, nothing configured"}


@dataclass(frozen=True)
class Step:
    kind: str  # "command", "file", "dockerfile" or "yaml" (a CI job)
    text: str
    name: str = ""


def steps(page: Path) -> list[Step]:
    found = []
    for console, _, caption, job, body in BLOCK.findall(page.read_text()):
        if console:
            for line in body.splitlines():
                found.extend(Step("command", c.strip()) for c in line.split("&&") if c.strip())
        elif job:
            found.append(Step(job, body))
        else:
            found.append(Step("file", body, caption))
    return found


def yaml_commands(body: str) -> list[str]:
    """The shell lines of a CI job: ``run:``, ``script:`` and ``inlineScript:``, one line or a ``|`` block."""
    commands = []
    lines = body.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)(?:- )?(?:run|script|inlineScript): *(.*)$", line)
        if not match:
            continue
        if match.group(2) not in {"|", ">"}:
            commands.append(match.group(2))
            continue
        for following in lines[i + 1 :]:
            if len(following) - len(following.lstrip()) <= len(match.group(1)) + 2:
                break
            commands.append(following.strip())
    return commands


def dockerfile_commands(body: str) -> list[str]:
    return re.findall(r"^RUN (.*)$", body.replace("\\\n", " "), flags=re.M)


def documented_commands() -> list[tuple[str, str]]:
    return [(page_id(p), s.text) for p in PAGES for s in steps(p) if s.kind == "command"]


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def skip_reason(command: str) -> str | None:
    return next((why for start, why in SKIPPED.items() if command.startswith(start) or f" {start}" in command), None)


class Reader:
    """Follows one page: a project directory, an environment, and the fake organisation."""

    def __init__(self, clients: Clients, org: Org, page: str) -> None:
        self.clients = clients
        self.org = org
        self.other = clients.new_org()  # OTHER: a second organisation, for cross-organisation recipes
        self.page = page
        self.at_terminal = page in READERS
        self.screens: list[str] = []
        self.project = clients.tmp / "project"
        self.project.mkdir()
        (self.project / "pyproject.toml").write_text(PROJECT)
        (self.project / "app").mkdir()
        (self.project / "app" / "__init__.py").write_text("")
        self.uploaded: list[str] = []
        self.build()
        self.env = dict(clients.env)
        self.env["UV_PYTHON"] = sys.executable  # the reader's Python, not whatever else is on PATH
        if not self.at_terminal:
            self.env["KEYRING_ADO_PAT"] = org.secret

    def build(self) -> None:
        """A wheel in ``dist/``, a new version each time (a feed refuses a file it already has)."""
        shutil.rmtree(self.project / "dist", ignore_errors=True)
        version = f"0.1.{len(self.uploaded)}"
        pyproject = self.project / "pyproject.toml"
        pyproject.write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text()))
        self.next_upload = wheels.write(self.project / "dist", "app", version).name

    def fill(self, text: str) -> str:
        return (
            text.replace("ORG", self.org.name).replace("OTHER", self.other.name).replace("FEED", "feed")
            .replace("PACKAGE", PACKAGE).replace("tfs.example.com", SERVER_HOST).replace("...", self.org.secret)
        )  # fmt: skip

    def file(self, name: str, body: str) -> None:
        path = self.project / name
        text = self.fill(body)
        if name == "pyproject.toml":
            text = path.read_text() + "\n" + text
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def command(self, command: str, env: dict[str, str] | None = None) -> None:
        """Runs *command* in *env* (the reader's shell unless a CI job or a build gives its own)."""
        env = self.env if env is None else env
        if skip_reason(command) == INSTALLS:
            self.clients.keyring_outside_pip_env(env)  # what uv tool / pipx would leave on PATH
            return
        if skip_reason(command):
            return
        words = shlex.split(self.fill(command))
        once = dict(env)
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            once[name] = value
        if words[:2] == ["az", "login"]:
            env.pop("KEYRING_ADO_PAT", None)
            az = self.clients.fake_az()
            az.configure("token", self.clients.world.entra.user_access_token())
            env["PATH"] = f"{az.directory}{os.pathsep}{env['PATH']}"
            return
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
            return
        self.run(command, self.argv(words, once), once)
        if words[0] in {"twine", "uv", "pdm", "hatch", "poetry"} and words[1] in {"upload", "publish"}:
            self.uploaded.append(self.next_upload)
            self.build()

    def argv(self, words: list[str], env: dict[str, str]) -> list[str]:
        words = [w for word in words for w in (sorted(glob.glob(word, root_dir=self.project)) or [word])]
        tool, args = words[0], words[1:]
        if tool == "pip":
            user_conf = Path(env["XDG_CONFIG_HOME"]) / "pip" / "pip.conf"
            if user_conf.exists():  # written by `keyring-ado setup pip --write`: pip's user file
                env["PIP_CONFIG_FILE"] = str(user_conf)
            target = ["--target", str(self.clients.target)] if args[:1] == ["install"] else []
            return [sys.executable, "-m", "pip", *args, *target]
        if tool == "keyring-ado":
            return [sys.executable, "-m", "keyring_ado", *args]
        if tool == "hatch":
            self.clients.route_by_name(env)  # hatch publish ignores HTTPS_PROXY
        if tool in {"keyring", "uv", "poetry", "twine", "pdm", "hatch"}:
            return [str(BIN / tool), *args]
        pytest.fail(f"{self.page} shows `{' '.join(words)}`, which this test neither runs nor skips with a reason")

    def dockerfile(self, body: str) -> None:
        """An image build: nothing of the reader's shell but PATH and the network, and BuildKit's
        ``RUN --mount=type=secret,id=X,env=VAR``, which makes the secret VAR for that one command."""
        image = dict(self.clients.env)  # the machine, without the reader's credentials
        for run in dockerfile_commands(body):
            mount = re.match(r"--mount=type=secret,id=\w+,env=(\w+)\s+(.*)", run)
            self.command(f"{mount.group(1)}=... {mount.group(2)}" if mount else run.strip(), image)

    def ci_job(self, body: str) -> None:
        """A CI job's shell lines, in the environment that platform gives them."""
        job = dict(self.clients.env)  # a fresh agent: the machine, without the reader's credentials
        if "AzureCLI@2" in body:  # a workload-identity service connection, and the job token
            job.update(identity_variables(self.clients, "Azure Pipelines service connection", self.org.name))
        elif "SYSTEM_ACCESSTOKEN" in body:  # Azure Pipelines, System.AccessToken mapped into the step
            job.update(source_variables(self.org, "SYSTEM_ACCESSTOKEN"))
        elif "id-token: write" in body:  # GitHub Actions with an Entra app's federated credential
            job.update(identity_variables(self.clients, "GitHub Actions OIDC"))
        else:
            pytest.fail(f"{self.page}: a YAML block this test cannot place on a CI platform")
        for command in yaml_commands(body):
            self.command(command, job)

    def run(self, command: str, argv: list[str], env: dict[str, str]) -> None:
        if self.at_terminal:
            session = terminal.run(argv, env, self.project)
            result = subprocess.CompletedProcess(
                argv, session.returncode, session.stdout, session.stderr + session.screen
            )
            self.screens.append(session.screen)
        else:
            result = self.clients.run(argv, env=env, cwd=self.project)
        assert result.returncode == 0, f"{self.page}: {self.fill(command)}\n{result.stdout}\n{result.stderr}"
        for secret in (self.org.secret, self.other.secret):
            assert secret not in result.stderr
            if argv[0] != str(BIN / "keyring"):  # `keyring get` prints the secret; nothing else may
                assert secret not in result.stdout


PAGES_WITH_STEPS = [p for p in PAGES if any(s.kind != "file" for s in steps(p))]


@pytest.mark.parametrize("page", PAGES_WITH_STEPS, ids=page_id)
def test_page(clients: Clients, page: Path) -> None:
    """Follows the page from top to bottom; every command it shows succeeds."""
    org = clients.new_org()
    clients.world.state.add_file("tfs", "feed", PACKAGE, *wheels.build(PACKAGE, "1.0"))
    clients.world.state.accept("tfs", org.secret)
    reader = Reader(clients, org, page_id(page))
    if SERVER_HOST in reader.fill(page.read_text()) and "KEYRING_ADO_HOSTS" not in page.read_text():
        reader.env["KEYRING_ADO_HOSTS"] = SERVER_HOST
    for step in steps(page):
        if step.kind == "file":
            reader.file(step.name, step.text)
        elif step.kind == "dockerfile":
            reader.dockerfile(step.text)
        elif step.kind == "yaml":
            reader.ci_job(step.text)
        else:
            reader.command(step.text)
    arrived = clients.world.state.add_feed(org.name, "feed").files.get("app", {})
    assert set(reader.uploaded) <= set(arrived), "every upload the page shows reached the organisation's feed"
    if reader.at_terminal:
        assert any("microsoft.com/devicelogin" in screen for screen in reader.screens), (
            "the page promises a device code"
        )


def test_every_skip_is_shown_somewhere() -> None:
    """SKIPPED lists only commands the docs still show."""
    shown = [command for _, command in documented_commands()]
    for page in PAGES:
        for step in steps(page):
            shown += dockerfile_commands(step.text) if step.kind == "dockerfile" else []
            shown += yaml_commands(step.text) if step.kind == "yaml" else []
    unused = [start for start in SKIPPED if not any(start in command for command in shown)]
    assert not unused, unused
