"""Helper programs: a hard deadline, bounded output, none of our secrets, and never from the cwd."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from keyring_ado import _path, _process
from keyring_ado.errors import SourceFailed, SourceUnavailable
from keyring_ado.sources.azure_cli import AzureCliSource
from tests.fakes.az import FakeAz, jwt
from tests.helpers import config, configured, feed, request

GRANDCHILD = """
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
print('{"accessToken": "x"}')
"""


def test_a_grandchild_holding_the_pipe_does_not_outlive_the_deadline() -> None:
    """``setsid sleep 60 &`` inside az keeps the output pipe open: we still return at the deadline
    (review item 8; it waited 60 s before)."""
    started = time.monotonic()
    with pytest.raises(_process.ProcessTimeout, match="did not answer within 2 s"):
        _process.run([sys.executable, "-c", GRANDCHILD], timeout=2)
    assert time.monotonic() - started < 2 + _process.KILL_GRACE + 1.5


def test_a_process_that_ignores_the_deadline_is_killed() -> None:
    """A plain hang ends at the deadline, and the process is gone afterwards."""
    started = time.monotonic()
    with pytest.raises(_process.ProcessTimeout):
        _process.run([sys.executable, "-c", "import time; time.sleep(60)"], timeout=1)
    assert time.monotonic() - started < 1 + _process.KILL_GRACE + 1.5


def test_output_is_capped() -> None:
    """10 MB of output keeps 1 MiB in memory; the program still finishes normally."""
    flood = "import sys; sys.stdout.write('x' * (10 << 20)); sys.stderr.write('e' * (3 << 20))"
    result = _process.run([sys.executable, "-c", flood], timeout=30)
    assert result.returncode == 0
    assert len(result.stdout) == _process.MAX_OUTPUT
    assert len(result.stderr) == _process.MAX_OUTPUT


def test_our_secret_variables_are_not_handed_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """az gets our environment without the secrets it has no use for."""
    monkeypatch.setenv("SYSTEM_ACCESSTOKEN", "job-secret")
    monkeypatch.setenv("KEYRING_ADO_PAT", "pat-secret")
    monkeypatch.setenv("UNRELATED", "kept")
    show = (
        "import os; print(sorted(k for k in os.environ if k in {'SYSTEM_ACCESSTOKEN','KEYRING_ADO_PAT','UNRELATED'}))"
    )
    result = _process.run([sys.executable, "-c", show], timeout=30, hide=("SYSTEM_ACCESSTOKEN", "KEYRING_ADO_PAT"))
    assert result.stdout.strip() == "['UNRELATED']"


def test_az_runs_without_the_ci_secrets(fake_az: FakeAz, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real source hides every secret variable settings knows of from az."""
    fake_az.configure("token", jwt())
    environ = {"PATH": os.environ["PATH"], "SYSTEM_ACCESSTOKEN": "job-secret", "AZURE_CLIENT_SECRET": "sp-secret"}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    configured(AzureCliSource, config(**environ)).get_token(request(feed(), config(**environ)))
    seen = fake_az.environments[-1]
    assert "SYSTEM_ACCESSTOKEN" not in seen
    assert "AZURE_CLIENT_SECRET" not in seen


def test_never_from_the_current_directory_or_a_relative_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``PATH=.:bin:`` with az in the cwd: az is not found, so a cloned repository's az never runs
    (review item 10; Git Credential Manager's CVE-2020-26233 class)."""
    planted = FakeAz(tmp_path / "repo")
    planted.configure("token", jwt())
    (tmp_path / "repo" / "bin").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    for search_path in (".", f".:bin:{tmp_path / 'empty'}", "", ":", "repo"):
        assert _path.which("az", search_path) is None, search_path
        with pytest.raises(SourceUnavailable, match="not on PATH"):
            configured(AzureCliSource, config(PATH=search_path)).get_token(request(feed(), config(PATH=search_path)))
    assert planted.calls == []
    assert _path.which("az", f"{tmp_path / 'repo'}") == str(tmp_path / "repo" / "az")


def test_the_az_timeout_is_hard_through_the_source(fake_az: FakeAz) -> None:
    """The az source with a grandchild-leaving az: a clear failure at KEYRING_ADO_AZ_TIMEOUT."""
    fake_az.configure("grandchild", jwt())
    started = time.monotonic()
    with pytest.raises(SourceFailed, match="did not answer within 2 s"):
        configured(AzureCliSource, config(KEYRING_ADO_AZ_TIMEOUT="2")).get_token(
            request(feed(), config(KEYRING_ADO_AZ_TIMEOUT="2"))
        )
    assert time.monotonic() - started < 2 + _process.KILL_GRACE + 1.5


@pytest.mark.parametrize(
    "tenant",
    [
        "72f988bf-86f1-41af-91ab-2d7cd011db47 & calc",
        "contoso.onmicrosoft.com",
        "72f988bf-86f1-41af-91ab-2d7cd011db47\n",
    ],
)
def test_only_fixed_arguments_and_guids_reach_az(fake_az: FakeAz, tenant: str) -> None:
    """az is a .cmd on Windows: an argument outside the fixed set (here a tenant that is not a GUID)
    is refused in code before anything runs."""
    from keyring_ado.sources.azure_cli import run_cli

    argv = [str(fake_az.path), "account", "get-access-token", "--tenant", tenant]
    with pytest.raises(SourceFailed, match="outside the fixed set"):
        run_cli(argv, config(), by_hand="az")
    assert fake_az.calls == []
