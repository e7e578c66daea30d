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
"""

from __future__ import annotations

import glob
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SERVER_HOST
from tests.e2e.conftest import BIN, PACKAGE, Clients, Org
from tests.fakes import wheels

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
INSTALLS = "installs keyring-ado; the suite runs against the installed build (its effect is stood in for)"
SKIPPED = {
    "pip install keyring-ado": INSTALLS,
    "uv tool install keyring --with keyring-ado": INSTALLS,
    "poetry self add keyring-ado": INSTALLS,
    "pdm self add keyring-ado": INSTALLS,
    "tox run -m ci": "the test command itself, which this test is part of",
    "python benchmarks/bench.py": "the benchmark: builds environments from PyPI, minutes long",
    "docker build": "no Docker engine on the project's machines; the Dockerfile's RUN lines run instead",
}
#: What the project looks like before the page adds to it: an application, not a package to build.
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
    r"^```(?:(console)|\{code-block\} *(\w+)\n:caption: *(\S+)\n(?::\w+:.*\n)*|(dockerfile))\n(.*?)^```",
    flags=re.S | re.M,
)


@dataclass(frozen=True)
class Step:
    kind: str  # "command", "file" or "dockerfile"
    text: str
    name: str = ""


def steps(page: Path) -> list[Step]:
    found = []
    for console, _, caption, dockerfile, body in BLOCK.findall(page.read_text()):
        if console:
            for line in body.splitlines():
                found.extend(Step("command", c.strip()) for c in line.split("&&") if c.strip())
        elif dockerfile:
            found.append(Step("dockerfile", body))
        else:
            found.append(Step("file", body, caption))
    return found


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
        self.page = page
        self.project = clients.tmp / "project"
        self.project.mkdir()
        (self.project / "pyproject.toml").write_text(PROJECT)
        (self.project / "app").mkdir()
        (self.project / "app" / "__init__.py").write_text("")
        self.uploaded: list[str] = []
        self.build()
        clients.env["KEYRING_ADO_PAT"] = org.secret
        clients.env["UV_PYTHON"] = sys.executable  # the reader's Python, not whatever else is on PATH

    def build(self) -> None:
        """A wheel in ``dist/``, a new version each time (a feed refuses a file it already has)."""
        dist = self.project / "dist"
        shutil.rmtree(dist, ignore_errors=True)
        dist.mkdir()
        version = f"0.1.{len(self.uploaded)}"
        pyproject = self.project / "pyproject.toml"
        pyproject.write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text()))
        filename, content = wheels.build("app", version)
        (dist / filename).write_bytes(content)
        self.next_upload = filename

    def fill(self, text: str) -> str:
        return (
            text.replace("ORG", self.org.name).replace("FEED", "feed").replace("PACKAGE", PACKAGE)
            .replace("tfs.example.com", SERVER_HOST).replace("...", self.org.secret)
        )  # fmt: skip

    def file(self, name: str, body: str) -> None:
        path = self.project / name
        text = self.fill(body)
        if name == "pyproject.toml":
            text = path.read_text() + "\n" + text
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def command(self, command: str) -> None:
        if skip_reason(command) == INSTALLS:
            self.clients.keyring_outside_pip_env()  # as pipx / uv tool would leave `keyring` on PATH
            return
        if skip_reason(command):
            return
        words = shlex.split(self.fill(command))
        env = dict(self.clients.env)
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        if words[:2] == ["az", "login"]:
            self.clients.env.pop("KEYRING_ADO_PAT", None)
            self.clients.fake_az().configure("token", self.clients.world.entra.user_access_token())
            return
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            self.clients.env[name] = value
            return
        argv = self.argv(words, env)
        self.run(command, argv, env)
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
            self.clients.route_by_name()  # hatch publish ignores HTTPS_PROXY
            env["PYTHONPATH"] = self.clients.env["PYTHONPATH"]
        if tool in {"keyring", "uv", "poetry", "twine", "pdm", "hatch"}:
            return [str(BIN / tool), *args]
        pytest.fail(f"{self.page} shows `{' '.join(words)}`, which this test neither runs nor skips with a reason")

    def dockerfile(self, body: str) -> None:
        """BuildKit's ``RUN --mount=type=secret,id=X,env=VAR``: the secret is VAR for that one command."""
        for run in re.findall(r"^RUN (.*?)(?<!\\)$", body.replace("\\\n", " "), flags=re.M):
            mount = re.match(r"--mount=type=secret,id=\w+,env=(\w+)\s+(.*)", run)
            if not mount:
                self.command(run.strip())
                continue
            var, command = mount.groups()
            self.clients.env.pop("KEYRING_ADO_PAT", None)  # the image has no credential but the secret
            self.command(f"{var}=... {command}")

    def run(self, command: str, argv: list[str], env: dict[str, str]) -> None:
        result = self.clients.run(argv, env=env, cwd=self.project)
        assert result.returncode == 0, f"{self.page}: {self.fill(command)}\n{result.stdout}\n{result.stderr}"
        assert self.org.secret not in result.stderr
        if argv[0] != str(BIN / "keyring"):  # `keyring get` prints the secret; nothing else may
            assert self.org.secret not in result.stdout


PAGES_WITH_STEPS = [p for p in PAGES if any(s.kind != "file" for s in steps(p))]


@pytest.mark.parametrize("page", PAGES_WITH_STEPS, ids=page_id)
def test_page(clients: Clients, page: Path) -> None:
    """Follows the page from top to bottom; every command it shows succeeds."""
    org = clients.new_org()
    clients.world.state.add_file("tfs", "feed", PACKAGE, *wheels.build(PACKAGE, "1.0"))
    clients.world.state.accept("tfs", org.secret)
    reader = Reader(clients, org, page_id(page))
    if SERVER_HOST in reader.fill(page.read_text()) and "KEYRING_ADO_HOSTS" not in page.read_text():
        clients.env["KEYRING_ADO_HOSTS"] = SERVER_HOST
    for step in steps(page):
        if step.kind == "file":
            reader.file(step.name, step.text)
        elif step.kind == "dockerfile":
            reader.dockerfile(step.text)
        else:
            reader.command(step.text)
    arrived = clients.world.state.add_feed(org.name, "feed").files.get("app", {})
    assert set(reader.uploaded) <= set(arrived), "every upload the page shows reached the organisation's feed"


def test_every_skip_is_shown_somewhere() -> None:
    """SKIPPED lists only commands the docs still show."""
    shown = [command for _, command in documented_commands()]
    shown += [run for p in PAGES for s in steps(p) if s.kind == "dockerfile" for run in s.text.splitlines()]
    unused = [start for start in SKIPPED if not any(start in command for command in shown)]
    assert not unused, unused
