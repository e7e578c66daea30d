"""Load: many `keyring get` processes at once against a cold cache."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.az import FakeAz, jwt
from tests.helpers import process_env

URL = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"
PROCESSES = 32


def test_32_cold_processes(tmp_path: Path, fake_az: FakeAz) -> None:
    """32 processes started together: all get the token, az runs once, the cache is valid after."""
    token = jwt()
    fake_az.configure("token", token, delay=0.5)
    env = process_env(tmp_path, fake_az.directory, KEYRING_ADO_TENANT="72f988bf-86f1-41af-91ab-2d7cd011db47")
    started = time.monotonic()
    argv = [sys.executable, "-m", "keyring", "get", URL, "VssSessionToken"]
    pipes = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    processes = [subprocess.Popen(argv, env=env, text=True, **pipes) for _ in range(PROCESSES)]
    results = [process.communicate(timeout=180) for process in processes]
    assert [p.returncode for p in processes] == [0] * PROCESSES, [err for _, err in results if err][:3]
    assert {out for out, _ in results} == {token + "\n"}
    assert all(err == "" for _, err in results)
    assert len(fake_az.calls) == 1, "one az call for all of them"
    cache = json.loads((tmp_path / "cache" / "keyring-ado" / "tokens.json").read_text())
    assert [key.rpartition(":")[0] for key in cache["entries"]] == ["dev.azure.com|contoso|az"]
    assert time.monotonic() - started < 120
