"""The benchmark's peer rows: a peer that does not install or does not answer is a row saying why.

The benchmark itself needs PyPI and minutes (docs/performance.md); these check, without either, the
paths it takes when a peer cannot be measured.
"""

from __future__ import annotations

import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench

SECRET = "bench-0123456789abcdef"


def fake_keyring(tmp_path: Path, script: str) -> Path:
    """A virtual environment whose ``keyring`` is *script* (run by this interpreter)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    command = venv / "bin" / "keyring"
    command.write_text(f"#!{sys.executable}\n{script}")
    command.chmod(command.stat().st_mode | stat.S_IXUSR)
    return venv


def scenario(venv: Path | None, **more: Any) -> bench.Scenario:
    return bench.Scenario("Azure feed, a peer", venv, bench.FEED, {"PATH": "/usr/bin:/bin"}, **more)


def test_a_package_that_does_not_install_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    with pytest.raises(bench.InstallFailed, match="No interpreter found"):
        bench.make_venv(uv, str(tmp_path / "no-python"), tmp_path / "venv", "keyring")


def test_a_lookup_that_does_not_answer_says_why_with_the_secret_hidden(tmp_path: Path) -> None:
    venv = fake_keyring(tmp_path, f"import sys\nsys.exit('RuntimeError: the provider said {SECRET} is wrong')\n")
    reason = bench.check(scenario(venv, answer=SECRET), [SECRET])
    assert reason == "exit 1, no password; stderr: RuntimeError: the provider said *** is wrong"


def test_a_lookup_that_answers_is_measured(tmp_path: Path) -> None:
    venv = fake_keyring(tmp_path, f"print({SECRET!r})\n")
    assert bench.check(scenario(venv, answer=SECRET), [SECRET]) is None
    assert bench.check(scenario(venv, answer=bench.ANY), [SECRET]) is None
    assert bench.check(scenario(venv, answer="another"), [SECRET]) == "exit 0, a wrong password; nothing on stderr"


def test_an_unmeasured_peer_is_a_row_and_fails_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    baseline = bench.Scenario("foreign URL, keyring alone", Path("plain"), bench.FOREIGN, {}, key="B")
    peer = scenario(None, baseline="B", skipped="artifacts-keyring did not install: no wheel", ours=False)
    results = bench.Results({baseline.name: 0.2}, {baseline.name: 0.2}, {}, {baseline.name: (0, 0)})
    assert bench.print_table([baseline, peer], results) is False
    row = next(line for line in capsys.readouterr().out.splitlines() if "a peer" in line)
    assert row.split("|")[3].strip() == "not measured: artifacts-keyring did not install: no wheel"


def test_an_unmeasured_row_of_ours_fails_the_benchmark() -> None:
    baseline = bench.Scenario("foreign URL, keyring alone", Path("plain"), bench.FOREIGN, {}, key="B")
    ours = scenario(None, baseline="B", skipped="exit 1, no password; nothing on stderr")
    results = bench.Results({baseline.name: 0.2}, {baseline.name: 0.2}, {}, {baseline.name: (0, 0)})
    assert bench.print_table([baseline, ours], results) is True
