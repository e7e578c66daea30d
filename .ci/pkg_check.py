"""The built distributions, checked as a user gets them (``tox run -e pkg``, and the release workflow).

Usage: ``python .ci/pkg_check.py DIST WORK``. DIST holds the one sdist and the one wheel that
``python -m build`` made (twine has checked them); WORK is a directory for scratch files.

1. The wheel alone, none of the checkout, is installed into a new virtual environment (its
   dependencies come from the index pip is configured with) and run from a directory outside the
   checkout: ``keyring_ado`` is imported from that environment, ``keyring --list-backends`` lists
   the backend, ``keyring-ado --help`` exits 0, and a lookup for a URL that is not a feed prints
   nothing on stdout and exits 1 (keyring's "not found").
2. The sdist carries the package, the tests, the docs, the benchmark and what the test command
   needs; a wheel built from it holds the same files, byte for byte, as the wheel in DIST.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKEND = "keyring_ado.backend.AdoKeyring"
FOREIGN = "https://example.com/simple/"
#: The directories of the checkout the sdist carries whole.
SDIST_TREES = ("keyring_ado", "tests", "docs", "benchmarks")
#: And the files ``tox run -m ci`` needs in an unpacked sdist.
SDIST_FILES = ("pyproject.toml", "tox.ini", "README.md", ".ci/pkg_check.py")
#: Directories that hold what runs leave behind, not sources (and any whose name starts with a dot).
NOT_SOURCES = {"__pycache__", "_build"}
#: Variables that would put the checkout or the caller's keyring choice into the new environment.
DROPPED = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV", "PYTHON_KEYRING_BACKEND")
VENV_TIMEOUT = 120
INSTALL_TIMEOUT = 300
BUILD_TIMEOUT = 300
RUN_TIMEOUT = 60


def fail(message: str) -> SystemExit:
    return SystemExit(f"pkg_check: {message}")


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise fail(f"{' '.join(argv)} did not finish in {timeout:.0f} s") from None


def succeed(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    """Runs *argv* and returns its stdout; ends this script, showing its output, if it exits other than 0."""
    result = run(argv, cwd, env, timeout)
    if result.returncode != 0:
        raise fail(f"{' '.join(argv)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def only(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    if len(found) != 1:
        raise fail(f"expected one {pattern} in {directory}, found {[p.name for p in found]}")
    return found[0]


def clean_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in DROPPED}


def check_installed(wheel: Path, work: Path) -> None:
    env = clean_env()
    venv = work / "venv"
    succeed([sys.executable, "-m", "venv", str(venv)], work, env, VENV_TIMEOUT)
    scripts = venv / ("Scripts" if os.name == "nt" else "bin")
    python = str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    succeed([python, "-m", "pip", "install", "--no-input", str(wheel)], work, env, INSTALL_TIMEOUT)
    with tempfile.TemporaryDirectory() as elsewhere:
        cwd = Path(elsewhere).resolve()
        if cwd.is_relative_to(ROOT):
            raise fail(f"the temporary directory {cwd} is inside the checkout; set TMPDIR to one outside it")
        imported = succeed([python, "-c", "import keyring_ado; print(keyring_ado.__file__)"], cwd, env, RUN_TIMEOUT)
        if not Path(imported.strip()).resolve().is_relative_to(venv.resolve()):
            raise fail(f"keyring_ado was imported from {imported.strip()}, not from the new environment {venv}")
        keyring, keyring_ado = (
            shutil.which("keyring", path=str(scripts)),
            shutil.which("keyring-ado", path=str(scripts)),
        )
        if keyring is None or keyring_ado is None:
            raise fail(f"the wheel's environment has no keyring or keyring-ado command in {scripts}")
        backends = succeed([keyring, "--list-backends"], cwd, env, RUN_TIMEOUT)
        if not any(line.startswith(f"{BACKEND} ") for line in backends.splitlines()):
            raise fail(f"keyring --list-backends does not list {BACKEND}:\n{backends}")
        succeed([keyring_ado, "--help"], cwd, env, RUN_TIMEOUT)
        lookup = run([keyring, "get", FOREIGN, "user"], cwd, env, RUN_TIMEOUT)
        if lookup.returncode != 1 or lookup.stdout or "Traceback" in lookup.stderr:
            raise fail(
                f"keyring get {FOREIGN} user: expected exit 1 and nothing on stdout, got exit {lookup.returncode}"
                f" and {len(lookup.stdout)} characters on stdout\n{lookup.stderr}"
            )


def sources(directory: str) -> set[str]:
    """The files of the checkout's *directory*, as paths relative to the checkout."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / directory).rglob("*")
        if path.is_file()
        and path.suffix != ".pyc"
        and not any(part in NOT_SOURCES or part.startswith(".") for part in path.relative_to(ROOT / directory).parts)
    }


def contents(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: hashlib.sha256(archive.read(name)).hexdigest() for name in archive.namelist()}


def check_sdist(sdist: Path, wheel: Path, work: Path) -> None:
    unpacked = work / "sdist"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (top,) = unpacked.iterdir()
    carried = {path.relative_to(top).as_posix() for path in top.rglob("*") if path.is_file()}
    missing = sorted({*SDIST_FILES, *(f for tree in SDIST_TREES for f in sources(tree))} - carried)
    if missing:
        raise fail(f"the sdist lacks {missing}: see [tool.hatch.build.targets.sdist] in pyproject.toml")
    rebuilt = work / "from-sdist"
    succeed(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(rebuilt), str(top)], work, clean_env(), BUILD_TIMEOUT
    )
    again = only(rebuilt, "*.whl")
    if again.name != wheel.name:
        raise fail(f"the wheel built from the sdist is {again.name}, not {wheel.name}")
    before, after = contents(wheel), contents(again)
    differ = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    if differ:
        raise fail(f"the wheel built from the sdist differs from {wheel.name} in {differ}")


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise fail(f"usage: {argv[0]} DIST WORK")
    dist, work = Path(argv[1]).resolve(), Path(argv[2]).resolve()
    sdist, wheel = only(dist, "*.tar.gz"), only(dist, "*.whl")
    work.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pkg-check-", dir=work))  # nothing of an earlier run
    check_installed(wheel, work)
    check_sdist(sdist, wheel, work)
    print(f"pkg_check: {wheel.name} and {sdist.name} install, run and rebuild as they should")


if __name__ == "__main__":
    main(sys.argv)
