"""How much keyring-ado costs a `keyring get`, as ratios against baselines measured in the same run.

Usage (from the repository root; needs uv, network access to PyPI, and a few minutes)::

    python benchmarks/bench.py [--rounds 40] [--python python3]

It builds fresh virtual environments (keyring alone; keyring with keyring-ado from this checkout;
and the same pair with keyrings.alt, so that both pick a working backend and neither prints
keyring's "no backend" traceback), then runs every scenario once per round, in a shuffled order,
as whole `keyring get` processes. It prints the median wall-clock and CPU time of each and their
ratios to the baseline, and, where valgrind is installed, the instructions one run executes (the
same however busy the machine is); the targets are checked on those counts when they exist.
The Azure scenarios use the tests' fake az, and check that no az call was made when they say so.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.az import FakeAz, jwt  # noqa: E402 - the tests' fake, from this checkout

FOREIGN = "https://example.com/simple/"
FEED = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"
IN_PROCESS = """
import os, time
from keyring_ado.backend import AdoKeyring
ring = AdoKeyring()
url = os.environ["BENCH_URL"]
ring.get_credential(url, None)
best = float("inf")
for _ in range(5):
    started = time.perf_counter()
    for _ in range(20000):
        ring.get_credential(url, None)
    best = min(best, (time.perf_counter() - started) / 20000)
print(f"{best * 1e6:.2f}")
"""


@dataclass
class Scenario:
    name: str
    venv: Path
    service: str
    env: dict[str, str]
    baseline: str | None = None
    target: float | None = None

    def command(self) -> list[str]:
        return [str(self.venv / "bin" / "keyring"), "get", self.service, "user"]


def make_venv(uv: str, python: str, where: Path, *packages: str) -> Path:
    subprocess.run([uv, "venv", "--quiet", "--python", python, str(where)], check=True, timeout=300)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(where / "bin" / "python"), *packages],
        check=True,
        timeout=600,
    )
    return where


def time_once(scenario: Scenario) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one run of the scenario's command.

    os.wait4 blocks until the child exits; subprocess.run(timeout=...) would poll in 50 ms steps
    and round every wall time up to them. A timer kills a run that hangs.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        scenario.command(),
        env=scenario.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    watchdog = threading.Timer(120, process.kill)
    watchdog.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        watchdog.cancel()
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime


def instructions(scenario: Scenario) -> int | None:
    """Instructions one run executes, counted by valgrind's callgrind: the same on a busy machine."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    result = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *scenario.command()],
        env=scenario.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, timeout=600, check=False,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", result.stderr)
    return int(found.group(1)) if found else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--no-instructions", action="store_true", help="skip the valgrind instruction counts")
    args = parser.parse_args()
    uv = shutil.which("uv")
    if uv is None:
        sys.exit("bench.py needs uv on PATH (pip install uv)")

    scratch = Path(tempfile.mkdtemp(prefix="keyring-ado-bench-"))
    try:
        return run(scratch, uv, args.python, args.rounds, count=not args.no_instructions)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


def run(scratch: Path, uv: str, python: str, rounds: int, *, count: bool) -> int:  # noqa: PLR0915 - one report
    keyring_version = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('keyring'))"],
        capture_output=True, text=True, check=False, timeout=60,
    ).stdout.strip()  # fmt: skip
    keyring_req = f"keyring=={keyring_version}" if keyring_version else "keyring"
    print(f"building environments in {scratch} ({keyring_req}) ...", file=sys.stderr)
    plain = make_venv(uv, python, scratch / "plain", keyring_req)
    ours = make_venv(uv, python, scratch / "ours", keyring_req, str(ROOT))
    alt = make_venv(uv, python, scratch / "alt", keyring_req, "keyrings.alt")
    alt_ours = make_venv(uv, python, scratch / "alt-ours", keyring_req, "keyrings.alt", str(ROOT))

    home = scratch / "home"
    home.mkdir()
    az = FakeAz(scratch / "az-bin", profile_dir=home / ".azure")  # where the children's az profile is
    az.configure("token", jwt(lifetime=3600))
    base_env = {
        "PATH": f"{az.directory}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(scratch / "cache"),
        "XDG_DATA_HOME": str(scratch / "data"),
        "XDG_CONFIG_HOME": str(scratch / "config"),
        "LANG": "C.UTF-8",
        # The feed is fictional: name its tenant so that nothing probes the real service.
        "KEYRING_ADO_TENANT": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    }
    pat_env = {**base_env, "KEYRING_ADO_PAT": "benchmark-pat"}
    no_cache_env = {**base_env, "KEYRING_ADO_CACHE": "off"}
    scenarios = [
        Scenario("foreign URL, keyring alone (baseline)", plain, FOREIGN, base_env),
        Scenario("foreign URL, keyring-ado installed", ours, FOREIGN, base_env, "baseline", 1.05),
        Scenario("Azure feed, token cached by an earlier process", ours, FEED, base_env, "baseline", 1.25),
        Scenario("Azure feed, KEYRING_ADO_PAT", ours, FEED, pat_env, "baseline", 1.15),
        Scenario("Azure feed, az every time (KEYRING_ADO_CACHE=off)", ours, FEED, no_cache_env, "baseline"),
        Scenario("foreign URL, keyring + keyrings.alt (baseline 2)", alt, FOREIGN, base_env),
        Scenario("foreign URL, keyring + keyrings.alt + keyring-ado", alt_ours, FOREIGN, base_env, "baseline 2", 1.05),
    ]
    # Warm the token cache and every environment once; count az calls from here on.
    for scenario in scenarios:
        time_once(scenario)
    az_before = len(az.calls)

    walls: dict[str, list[float]] = {s.name: [] for s in scenarios}
    cpus: dict[str, list[float]] = {s.name: [] for s in scenarios}
    for _ in range(rounds):
        for scenario in random.sample(scenarios, len(scenarios)):
            wall, cpu = time_once(scenario)
            walls[scenario.name].append(wall)
            cpus[scenario.name].append(cpu)
    counted = {s.name: instructions(s) for s in scenarios} if count else {}
    az_during = len(az.calls) - az_before
    expected_az = rounds + (1 if counted.get(scenarios[4].name) else 0)

    medians = {name: statistics.median(values) for name, values in walls.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpus.items()}
    baselines = {"baseline": scenarios[0].name, "baseline 2": scenarios[5].name}
    in_process = subprocess.run(
        [str(ours / "bin" / "python"), "-c", IN_PROCESS], env={**pat_env, "BENCH_URL": FEED},
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout.strip()  # fmt: skip

    cold_env = {**base_env, "XDG_CACHE_HOME": str(scratch / "cold-cache")}
    cold_before = len(az.calls)
    for _ in range(5):
        time_once(Scenario("cold", ours, FEED, cold_env))
    cold_calls = len(az.calls) - cold_before

    print(f"\nkeyring get, median of {rounds} rounds per scenario (each a new process), {python_version(python)}\n")
    have_counts = bool(counted) and all(counted.values())
    judged = "instructions" if have_counts else "wall time"
    print(f"Targets are checked on {judged}; instruction counts (valgrind) do not move with the machine's load.\n")
    print(
        f"| {'scenario':<52} | {'wall':>9} | {'ratio':>6} | {'CPU':>9} | {'ratio':>6} "
        f"| {'instructions':>13} | {'ratio':>6} | {'target':>7} |"
    )
    print(f"|{'-' * 54}|{'-' * 11}|{'-' * 8}|{'-' * 11}|{'-' * 8}|{'-' * 15}|{'-' * 8}|{'-' * 9}|")
    failed = False
    for scenario in scenarios:
        base = baselines[scenario.baseline] if scenario.baseline else scenario.name
        wall, cpu = medians[scenario.name], cpu_medians[scenario.name]
        ratio, cpu_ratio = wall / medians[base], cpu / cpu_medians[base]
        counts, base_counts = counted.get(scenario.name), counted.get(base)
        count_ratio = counts / base_counts if counts and base_counts else None
        checked = count_ratio if have_counts and count_ratio is not None else ratio
        target = f"<= {scenario.target:.2f}" if scenario.target else ""
        met = scenario.target is None or checked <= scenario.target
        failed |= not met
        flag = "" if met else " !"
        count_text = f"{counts / 1e6:9.1f} M" if counts else f"{'n/a':>11}"
        count_ratio_text = f"{count_ratio:5.2f}x" if count_ratio else f"{'':>6}"
        print(
            f"| {scenario.name:<52} | {wall * 1e3:6.1f} ms | {ratio:5.2f}x | {cpu * 1e3:6.1f} ms | {cpu_ratio:5.2f}x "
            f"| {count_text:>13} | {count_ratio_text} | {target:>7} |{flag}"
        )
    print(f"\nin-process repeated lookup (Azure feed, same process): {in_process} us per call (target < 50 us)")
    print(f"az calls while timing: {az_during} (expected {expected_az}: only the KEYRING_ADO_CACHE=off rows)")
    print(f"cold cache, 5 processes in a row: {cold_calls} az call(s) (target 1)")
    failed |= az_during != expected_az or cold_calls != 1 or float(in_process) >= 50
    return 1 if failed else 0


def python_version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import platform; print('Python', platform.python_version(), platform.machine())"],
        capture_output=True, text=True, check=False, timeout=60,
    ).stdout.strip()  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
