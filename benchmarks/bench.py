"""How much keyring-ado costs a `keyring get`, as ratios against baselines measured in the same run.

Usage (from the repository root, with the test extra installed; needs uv, network access to PyPI,
and a few minutes)::

    python benchmarks/bench.py [--rounds 40] [--python python3]

It builds fresh virtual environments (keyring alone; keyring with keyring-ado from this checkout;
the same pair with keyrings.alt, so that both pick a working backend and neither prints keyring's
"no backend" traceback; and keyring with each of its peers from PyPI, artifacts-keyring,
artifacts-keyring-nofuss and keyrings.artifacts, each in its own environment), then runs every
scenario once per round, in a shuffled order, as whole `keyring get` processes. It prints the
median wall-clock and CPU time of each and their ratios to the baseline named in the `vs` column,
and, where valgrind is installed, the instructions one run executes (the same however busy the
machine is); the targets are checked on those counts when they exist.

The Azure scenarios use the tests' fakes: `az`, and Azure Artifacts and Entra ID served on loopback
behind a proxy that routes their real host names (every child is pointed at it, so nothing leaves
the machine). The script checks that each lookup answers what it should before timing it, and that
no az call or Entra token request was made by a row that says it makes none. A peer that does not
install, or does not answer, is a row saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
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

from benchmarks.fake_world import FakeWorld, serve  # noqa: E402 - needs ROOT on sys.path
from tests.fakes.az import FakeAz, jwt  # noqa: E402 - the tests' fake, from this checkout

FOREIGN = "https://example.com/simple/"
FEED = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
#: keyring-ado's peers on PyPI: each is installed alone with keyring into its own environment.
PEERS = ("artifacts-keyring", "artifacts-keyring-nofuss", "keyrings.artifacts")
ANY = object()
"""A scenario's ``answer`` when any non-empty password will do (a token the fakes made)."""
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
    venv: Path | None
    service: str
    env: dict[str, str]
    baseline: str | None = None
    """The ``key`` of the scenario this one is compared with."""
    target: float | None = None
    key: str | None = None
    """Set on a baseline: the name other rows compare with (the `vs` column)."""
    answer: object = None
    """The password the lookup must print (ANY: any); None: not checked (a foreign URL)."""
    fresh_cache: Path | None = None
    """Each run gets a new empty cache directory under this one: a first lookup."""
    az_calls: int = 0
    """az runs one lookup makes; checked over the timed runs."""
    token_requests: int = 0
    """Entra ID token requests one lookup makes; checked over the timed runs."""
    child: bool = False
    """The lookup runs a child process (az, a credential provider) that valgrind does not count."""
    skipped: str | None = None
    """Why the scenario was not measured: its package did not install, or its lookup did not answer."""
    ours: bool = True
    """A keyring-ado row: if it cannot be measured, the benchmark fails."""

    def command(self) -> list[str]:
        assert self.venv is not None, self.skipped
        return [str(self.venv / "bin" / "keyring"), "get", self.service, "user"]

    def run_env(self) -> dict[str, str]:
        """The environment of one run: with a new, empty cache when the scenario is a first lookup."""
        if self.fresh_cache is None:
            return self.env
        return {**self.env, "XDG_CACHE_HOME": tempfile.mkdtemp(dir=self.fresh_cache)}


class InstallFailed(Exception):
    """uv could not build an environment; the message is uv's, on one line."""


def make_venv(uv: str, python: str, where: Path, *packages: str) -> Path:
    for argv, timeout in (
        ([uv, "venv", "--quiet", "--python", python, str(where)], 300),
        # Compiled, as pip installs: otherwise every run would compile every module it imports again.
        (
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--compile-bytecode",
                "--python",
                str(where / "bin" / "python"),
                *packages,
            ],
            600,
        ),
    ):
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise InstallFailed(f"`uv {argv[1]}` took more than {timeout} s") from None
        if result.returncode != 0:
            said = " ".join(result.stderr.split())  # uv wraps its message over lines
            raise InstallFailed(said[:240] if said else f"`uv {argv[1]}` exited {result.returncode}")
    return where


def time_once(scenario: Scenario) -> tuple[float, float]:
    """Wall-clock and CPU (user + system, the children it waited for included) seconds of one run.

    os.wait4 blocks until the child exits; subprocess.run(timeout=...) would poll in 50 ms steps
    and round every wall time up to them. A timer kills a run that hangs.
    """
    env = scenario.run_env()
    started = time.perf_counter()
    process = subprocess.Popen(
        scenario.command(),
        env=env,
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


def check(scenario: Scenario, hidden: list[str]) -> str | None:
    """Run the scenario once (which warms it too); why its answer was not the expected one, or None.

    The reason is the exit code and stderr's last line, with every secret the benchmark made hidden.
    """
    try:
        result = subprocess.run(
            scenario.command(), env=scenario.run_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=180, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "no answer within 180 s"
    printed = result.stdout.strip()
    if answered(scenario, printed):
        return None
    said = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    reason = f"exit {result.returncode}, {'a wrong password' if printed else 'no password'}"
    reason += f"; stderr: {said[-1][:160]}" if said else "; nothing on stderr"
    for secret in hidden:
        reason = reason.replace(secret, "***")
    return reason


def answered(scenario: Scenario, printed: str) -> bool:
    """Whether a lookup that printed *printed* gave the scenario's answer (any, when none is set)."""
    return scenario.answer is None or (bool(printed) and scenario.answer in (ANY, printed))


def instructions(valgrind: str, scenario: Scenario) -> int | None:
    """Instructions one run executes, counted by valgrind's callgrind: the same on a busy machine.

    Only the keyring process is followed: a child it runs (az, a credential provider) is not counted.
    None when valgrind printed no count, or the lookup, slowed down some fifty times, did not answer.
    """
    result = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *scenario.command()],
        env=scenario.run_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", result.stderr)
    return int(found.group(1)) if found and answered(scenario, result.stdout.strip()) else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--no-instructions", action="store_true", help="skip the valgrind instruction counts")
    parser.add_argument("--no-peers", action="store_true", help="leave out the peers' rows")
    args = parser.parse_args()
    uv = shutil.which("uv")
    if uv is None:
        sys.exit("bench.py needs uv on PATH (pip install uv)")

    scratch = Path(tempfile.mkdtemp(prefix="keyring-ado-bench-"))
    try:
        with serve(scratch / "world") as world:
            return run(
                scratch, uv, args.python, args.rounds, world, count=not args.no_instructions, peers=not args.no_peers
            )
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class Environments:
    """The virtual environments, and each peer's: its environment, or why it has none."""

    plain: Path
    ours: Path
    alt: Path
    alt_ours: Path
    peers: dict[str, Path | str]
    versions: dict[str, str]


def build(scratch: Path, uv: str, python: str, *, peers: bool) -> Environments:
    keyring_version = installed_version(Path(python), "keyring")
    keyring_req = f"keyring=={keyring_version}" if keyring_version else "keyring"
    print(f"building environments in {scratch} ({keyring_req}) ...", file=sys.stderr)
    plain = make_venv(uv, python, scratch / "plain", keyring_req)
    ours = make_venv(uv, python, scratch / "ours", keyring_req, str(ROOT))
    alt = make_venv(uv, python, scratch / "alt", keyring_req, "keyrings.alt")
    alt_ours = make_venv(uv, python, scratch / "alt-ours", keyring_req, "keyrings.alt", str(ROOT))
    peer_venvs: dict[str, Path | str] = {}
    versions: dict[str, str] = {}
    for peer in PEERS if peers else ():
        try:
            peer_venvs[peer] = where = make_venv(uv, python, scratch / peer, keyring_req, peer)
            versions[peer] = installed_version(where / "bin" / "python", peer)
        except InstallFailed as failed:
            peer_venvs[peer] = f"{peer} did not install: {failed}"
    return Environments(plain, ours, alt, alt_ours, peer_venvs, versions)


def make_scenarios(
    scratch: Path, venvs: Environments, world: FakeWorld, az: FakeAz
) -> tuple[list[Scenario], list[str]]:
    """The rows, and the secrets the benchmark made (hidden wherever a lookup's stderr is shown)."""
    pat = f"bench-{secrets.token_hex(8)}"
    world.state.add_feed("contoso", "feed")
    world.state.accept("contoso", pat)
    client_id, client_secret = world.entra.add_secret_client()
    # Every child goes through the proxy to the fakes: a request for any other host is refused.
    first_lookup_env = {
        "PATH": f"{az.directory}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(az.profile_dir.parent),
        "XDG_CACHE_HOME": str(scratch / "cache"),
        "XDG_DATA_HOME": str(scratch / "data"),
        "XDG_CONFIG_HOME": str(scratch / "config"),
        "LANG": "C.UTF-8",
        **world.env(),
    }
    # The other rows name the feed's tenant, so that they never ask the feed for it.
    base_env = {**first_lookup_env, "KEYRING_ADO_TENANT": TENANT}
    pat_env = {**base_env, "KEYRING_ADO_PAT": "benchmark-pat"}
    no_cache_env = {**base_env, "KEYRING_ADO_CACHE": "off"}
    endpoints = json.dumps({"endpointCredentials": [{"endpoint": FEED, "username": "user", "password": pat}]})
    endpoints_env = {
        **base_env,
        "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS": endpoints,
        "ARTIFACTS_KEYRING_NONINTERACTIVE_MODE": "true",  # artifacts-keyring: never a device-code prompt
    }
    sp_env = {**first_lookup_env, "AZURE_CLIENT_ID": client_id, "AZURE_TENANT_ID": TENANT}
    sp_env["AZURE_CLIENT_SECRET"] = client_secret
    fresh = scratch / "first-lookups"
    fresh.mkdir()
    ours = venvs.ours
    scenarios = [
        Scenario("foreign URL, keyring alone", venvs.plain, FOREIGN, base_env, key="B"),
        Scenario("foreign URL, keyring-ado installed", ours, FOREIGN, base_env, "B", 1.05),
        Scenario("Azure feed, token cached by an earlier process", ours, FEED, base_env, "B", 1.25, answer=ANY),
        Scenario("Azure feed, KEYRING_ADO_PAT", ours, FEED, pat_env, "B", 1.15, answer="benchmark-pat"),
        Scenario(
            "Azure feed, az every time (KEYRING_ADO_CACHE=off)",
            ours,
            FEED,
            no_cache_env,
            "B",
            answer=ANY,
            az_calls=1,
            child=True,
        ),
        Scenario(
            "Azure feed, first lookup, az",
            ours,
            FEED,
            first_lookup_env,
            "B",
            answer=ANY,
            fresh_cache=fresh,
            az_calls=1,
            child=True,
        ),
        Scenario(
            "Azure feed, first lookup, service principal",
            ours,
            FEED,
            sp_env,
            "B",
            answer=ANY,
            fresh_cache=fresh,
            token_requests=1,
        ),
        Scenario(
            "Azure feed, service principal, token cached",
            ours,
            FEED,
            {**sp_env, "XDG_CACHE_HOME": str(scratch / "sp-cache")},
            "B",
            answer=ANY,
        ),
        Scenario("foreign URL, keyring + keyrings.alt", venvs.alt, FOREIGN, base_env, key="B2"),
        Scenario("foreign URL, keyring + keyrings.alt + keyring-ado", venvs.alt_ours, FOREIGN, base_env, "B2", 1.05),
        Scenario(
            "Azure feed, VSS_NUGET_EXTERNAL_FEED_ENDPOINTS, keyring-ado",
            ours,
            FEED,
            endpoints_env,
            "B",
            key="E",
            answer=pat,
        ),
    ]
    for peer, where in venvs.peers.items():
        venv, why = (where, None) if isinstance(where, Path) else (None, where)
        label = f"{peer} {venvs.versions[peer]}" if peer in venvs.versions else peer
        foreign = Scenario(f"foreign URL, {label} installed", venv, FOREIGN, base_env, "B", skipped=why, ours=False)
        scenarios.append(foreign)
        if peer == "artifacts-keyring":
            name = f"Azure feed, VSS_NUGET_EXTERNAL_FEED_ENDPOINTS, {label}"
            feed = Scenario(name, venv, FEED, endpoints_env, "E", answer=pat, child=True, skipped=why, ours=False)
            scenarios.append(feed)
    return scenarios, [pat, client_secret]


@dataclass
class Results:
    walls: dict[str, float]
    """Median wall-clock seconds per measured scenario."""
    cpus: dict[str, float]
    """Median CPU seconds (the children waited for included)."""
    counted: dict[str, int | None]
    """Instructions of one run, for each scenario valgrind ran (None: not in its output)."""
    calls: dict[str, tuple[int, int]]
    """HTTP requests the fakes received and az runs, in one warm run."""


def measure(
    measured: list[Scenario], rounds: int, world: FakeWorld, az: FakeAz, *, count: bool
) -> tuple[Results, bool]:
    """Time every scenario once per round in a shuffled order; whether the az and Entra calls made
    while timing were the ones the scenarios expect (printed)."""
    calls = {s.name: observed_calls(s, world, az) for s in measured}
    az_before, tokens_before = len(az.calls), len(world.entra.grants("client_credentials"))
    walls: dict[str, list[float]] = {s.name: [] for s in measured}
    cpus: dict[str, list[float]] = {s.name: [] for s in measured}
    for _ in range(rounds):
        for scenario in random.sample(measured, len(measured)):
            wall, cpu = time_once(scenario)
            walls[scenario.name].append(wall)
            cpus[scenario.name].append(cpu)
    valgrind = shutil.which("valgrind") if count else None
    counted = {s.name: instructions(valgrind, s) for s in measured} if valgrind else {}
    runs = {s.name: rounds + (1 if s.name in counted else 0) for s in measured}
    az_during = len(az.calls) - az_before
    tokens_during = len(world.entra.grants("client_credentials")) - tokens_before
    expected_az = sum(s.az_calls * runs[s.name] for s in measured)
    expected_tokens = sum(s.token_requests * runs[s.name] for s in measured)
    results = Results(
        {name: statistics.median(values) for name, values in walls.items()},
        {name: statistics.median(values) for name, values in cpus.items()},
        counted,
        calls,
    )
    print(f"az calls while timing: {az_during} (expected {expected_az}: the az every time and first lookup rows)")
    print(f"Entra token requests while timing: {tokens_during} (expected {expected_tokens}: the first lookup rows)")
    return results, az_during == expected_az and tokens_during == expected_tokens


def run(scratch: Path, uv: str, python: str, rounds: int, world: FakeWorld, *, count: bool, peers: bool) -> int:
    venvs = build(scratch, uv, python, peers=peers)
    home = scratch / "home"
    home.mkdir()
    az = FakeAz(scratch / "az-bin", profile_dir=home / ".azure")  # where the children's az profile is
    az.configure("token", jwt(lifetime=3600))
    scenarios, hidden = make_scenarios(scratch, venvs, world, az)
    # Check every lookup's answer once, which warms the token caches and every environment too.
    for scenario in scenarios:
        if scenario.skipped is None:
            scenario.skipped = check(scenario, hidden)
    measured = [s for s in scenarios if s.skipped is None]

    print(f"\nkeyring get, median of {rounds} rounds per scenario (each a new process), {python_version(python)}\n")
    results, calls_as_expected = measure(measured, rounds, world, az, count=count)
    pat_env = next(s.env for s in scenarios if s.answer == "benchmark-pat")
    in_process = subprocess.run(
        [str(venvs.ours / "bin" / "python"), "-c", IN_PROCESS], env={**pat_env, "BENCH_URL": FEED},
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout.strip()  # fmt: skip
    cold_env = {**scenarios[2].env, "XDG_CACHE_HOME": str(scratch / "cold-cache")}
    cold_before = len(az.calls)
    for _ in range(5):
        time_once(Scenario("cold", venvs.ours, FEED, cold_env))
    cold_calls = len(az.calls) - cold_before
    print(f"in-process repeated lookup (Azure feed, same process): {in_process} us per call (target < 50 us)")
    print(f"cold cache, 5 processes in a row: {cold_calls} az call(s) (target 1)\n")

    failed = print_table(scenarios, results)
    print(
        "\nvs: the baseline of the row's ratios ([B], [B2], [E]). HTTP, az: the requests the fake feed and"
        "\nEntra ID received, and the az runs, in one lookup after the first. M+: valgrind counts the keyring"
        "\nprocess only, not the child it runs (az, Microsoft's .NET credential provider); CPU counts both."
    )
    failed |= not calls_as_expected or cold_calls != 1 or float(in_process) >= 50
    return 1 if failed else 0


def print_table(scenarios: list[Scenario], results: Results) -> bool:
    """Print the table; True when a target was missed or a keyring-ado row could not be measured."""
    counted = results.counted
    keyed = {s.key: s.name for s in scenarios if s.key}
    judged_rows = [(s.name, keyed[s.baseline]) for s in scenarios if s.target is not None and s.baseline]
    have_counts = bool(counted) and all(counted.get(name) and counted.get(base) for name, base in judged_rows)
    judged = "instructions" if have_counts else "wall time"
    print(f"Targets are checked on {judged}; instruction counts (valgrind) do not move with the machine's load.\n")
    width = max(len(s.name) + 4 for s in scenarios)
    print(
        f"| {'scenario':<{width}} | vs | {'wall':>9} | {'ratio':>6} | {'CPU':>9} | {'ratio':>6} "
        f"| {'instructions':>13} | {'ratio':>6} | HTTP | az | {'target':>7} |"
    )
    print(
        f"|{'-' * (width + 2)}|----|{'-' * 11}|{'-' * 8}|{'-' * 11}|{'-' * 8}|{'-' * 15}|{'-' * 8}"
        f"|------|----|{'-' * 9}|"
    )
    failed = False
    for scenario in scenarios:
        name = f"{scenario.name} [{scenario.key}]" if scenario.key else scenario.name
        vs = scenario.baseline or ""
        if scenario.skipped is not None:
            print(f"| {name:<{width}} | {vs:<2} | not measured: {scenario.skipped} |")
            failed |= scenario.ours
            continue
        base = keyed[scenario.baseline] if scenario.baseline else scenario.name
        if base not in results.walls:  # its baseline could not be measured: no ratio
            base, vs = scenario.name, "--"
        wall, cpu = results.walls[scenario.name], results.cpus[scenario.name]
        ratio, cpu_ratio = wall / results.walls[base], cpu / results.cpus[base]
        counts, base_counts = counted.get(scenario.name), counted.get(base)
        count_ratio = counts / base_counts if counts and base_counts else None
        checked = count_ratio if have_counts and count_ratio is not None else ratio
        target = f"<= {scenario.target:.2f}" if scenario.target else ""
        met = scenario.target is None or checked <= scenario.target
        failed |= not met
        plus = "+" if scenario.child else " "
        count_text = f"{counts / 1e6:9.1f} M{plus}" if counts else f"{'n/a':>12}"
        count_ratio_text = f"{count_ratio:5.2f}x" if count_ratio else f"{'':>6}"
        http, az_runs = results.calls[scenario.name]
        print(
            f"| {name:<{width}} | {vs:<2} | {wall * 1e3:6.1f} ms | {ratio:5.2f}x | {cpu * 1e3:6.1f} ms "
            f"| {cpu_ratio:5.2f}x | {count_text:>13} | {count_ratio_text} | {http:>4} | {az_runs:>2} "
            f"| {target:>7} |{'' if met else ' !'}"
        )
    return failed


def observed_calls(scenario: Scenario, world: FakeWorld, az: FakeAz) -> tuple[int, int]:
    """HTTP requests the fakes received and az runs made, in one more (untimed) run of the scenario."""
    requests_before, az_before = len(world.state.received()), len(az.calls)
    time_once(scenario)
    return len(world.state.received()) - requests_before, len(az.calls) - az_before


def installed_version(python: Path, distribution: str) -> str:
    """The version of *distribution* that *python* imports; empty when it has none."""
    return subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({distribution!r}))"],
        capture_output=True, text=True, check=False, timeout=60,
    ).stdout.strip()  # fmt: skip


def python_version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import platform; print('Python', platform.python_version(), platform.machine())"],
        capture_output=True, text=True, check=False, timeout=60,
    ).stdout.strip()  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
