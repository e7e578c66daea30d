"""Every command in the docs' ``console`` blocks, run against the fakes, or skipped for a stated reason.

A command that is neither run here nor in SKIPPED fails the test, so new docs cannot quietly show a
command nobody ran. Placeholders are filled in: ORG and FEED with a fake organisation's feed,
PACKAGE with demo-pkg, ``...`` with that organisation's PAT, ``tfs.example.com`` with the fake
Azure DevOps Server host. ``az login`` signs the fake az in.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from tests.conftest import SERVER_HOST
from tests.e2e.conftest import BIN, PACKAGE, Clients
from tests.fakes import wheels

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SKIPPED = {
    "pip install keyring-ado": "installs the package; the suite runs against the installed build already",
    "tox run -m ci": "the test command itself, which this test is part of",
    "python benchmarks/bench.py --rounds 30": "the benchmark: builds environments from PyPI, minutes long",
    "docker build": "no Docker engine on the project's machines",
    "uv sync --keyring-provider subprocess": "shown as a fragment of a project; uv sync is covered by test_clients",
}


def documented_commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in re.findall(r"```console\n(.*?)```", page.read_text(), flags=re.S):
            for line in block.splitlines():
                for command in line.split("&&"):
                    if command.strip():
                        found.append((page.relative_to(ROOT).as_posix(), command.strip()))
    return found


def skip_reason(command: str) -> str | None:
    return next((why for start, why in SKIPPED.items() if command.startswith(start) or f" {start}" in command), None)


@pytest.mark.parametrize(("page", "command"), documented_commands(), ids=lambda v: v[:60])
def test_documented_command(clients: Clients, page: str, command: str) -> None:
    """Runs the command as the page shows it, placeholders filled in, and expects success."""
    reason = skip_reason(command)
    if reason:
        pytest.skip(reason)
    org = clients.new_org()
    clients.world.state.add_file("tfs", "feed", PACKAGE, *wheels.build(PACKAGE, "1.0"))
    clients.world.state.accept("tfs", org.secret)
    filled = (
        command.replace("ORG", org.name).replace("FEED", "feed").replace("PACKAGE", PACKAGE)
        .replace("tfs.example.com", SERVER_HOST).replace("...", org.secret)
    )  # fmt: skip
    words = shlex.split(filled)
    clients.env["KEYRING_ADO_PAT"] = org.secret  # the reader has some credential; `az login` below is one
    if words[:2] == ["az", "login"]:
        clients.env.pop("KEYRING_ADO_PAT")
        clients.fake_az().configure("token", clients.world.entra.user_access_token())
        return
    if words[0] == "export":
        name, _, value = words[1].partition("=")
        clients.env[name] = value
        return
    if words[0] == "pip":
        words = [sys.executable, "-m", "pip", *words[1:], "--target", str(clients.target)]
    elif words[0] in {"keyring", "keyring-ado"}:
        words = (
            [str(BIN / "keyring"), *words[1:]]
            if words[0] == "keyring"
            else [sys.executable, "-m", "keyring_ado", *words[1:]]
        )
    else:
        pytest.fail(f"{page} shows `{command}`, which this test neither runs nor skips with a reason")
    if "KEYRING_ADO_HOSTS" not in clients.env and SERVER_HOST in filled:
        clients.env["KEYRING_ADO_HOSTS"] = SERVER_HOST
    result = clients.run(words)
    assert result.returncode == 0, f"{page}: {filled}\n{result.stdout}\n{result.stderr}"
    assert org.secret not in result.stderr
