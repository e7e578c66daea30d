"""What differs between Windows, macOS and Linux, tested on any of them: the platform is an argument.

Where the token cache lives, where pip and uv read their user configuration, how az is found on a
Windows PATH, and that no message can fail to print on a cp1252 console. Windows and macOS inputs
are fed to the same functions the running system uses; where a file has to exist, a temporary
directory stands in for the Windows disk or the macOS home directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path, PureWindowsPath

import pytest

from keyring_ado import _path, client_config, settings, variables
from keyring_ado.settings import Settings
from tests.test_troubleshooting import MESSAGES, PLACEHOLDER

ALICE = r"C:\Users\alice"
LOCAL = r"C:\Users\alice\AppData\Local"
ROAMING = r"C:\Users\alice\AppData\Roaming"
WBIN = r"C:\Program Files\Microsoft SDKs\Azure\CLI2\wbin"
PATHEXT = ".COM;.EXE;.BAT;.CMD"


# --- where the token cache lives --------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("win32", {"LOCALAPPDATA": LOCAL, "USERPROFILE": ALICE}, LOCAL + r"\keyring-ado"),
        ("win32", {"LOCALAPPDATA": r"D:\Profiles\alice\Local"}, r"D:\Profiles\alice\Local\keyring-ado"),
        ("win32", {"USERPROFILE": ALICE}, LOCAL + r"\keyring-ado"),
        ("win32", {"LOCALAPPDATA": "AppData", "USERPROFILE": ALICE}, LOCAL + r"\keyring-ado"),
        ("win32", {"LOCALAPPDATA": r"\Users\alice", "USERPROFILE": ALICE}, LOCAL + r"\keyring-ado"),
        ("win32", {"USERPROFILE": ALICE, "HOME": "/home/alice", "XDG_CACHE_HOME": "/xdg"}, LOCAL + r"\keyring-ado"),
        ("darwin", {"HOME": "/Users/alice"}, "/Users/alice/Library/Caches/keyring-ado"),
        ("darwin", {"HOME": "/Users/alice", "LOCALAPPDATA": LOCAL}, "/Users/alice/Library/Caches/keyring-ado"),
        ("linux", {"HOME": "/home/alice", "XDG_CACHE_HOME": "/var/cache/alice"}, "/var/cache/alice/keyring-ado"),
        ("linux", {"HOME": "/home/alice"}, "/home/alice/.cache/keyring-ado"),
        ("linux", {"HOME": "/home/alice", "XDG_CACHE_HOME": " "}, "/home/alice/.cache/keyring-ado"),
        ("linux", {"HOME": "/home/alice", "XDG_CACHE_HOME": "cache"}, "/home/alice/.cache/keyring-ado"),
        ("linux", {"HOME": "/home/alice", "USERPROFILE": ALICE}, "/home/alice/.cache/keyring-ado"),
        ("freebsd14", {"HOME": "/home/alice", "XDG_CACHE_HOME": "/tmp/c"}, "/tmp/c/keyring-ado"),
        ("win32", {"KEYRING_ADO_CACHE_DIR": r"~\tokens", "USERPROFILE": ALICE}, r"C:\Users\alice\tokens"),
        ("win32", {"KEYRING_ADO_CACHE_DIR": r"E:\ado\..\cache", "LOCALAPPDATA": LOCAL}, r"E:\cache"),
        ("darwin", {"KEYRING_ADO_CACHE_DIR": "~/tokens", "HOME": "/Users/alice"}, "/Users/alice/tokens"),
        ("linux", {"KEYRING_ADO_CACHE_DIR": "~", "HOME": "/home/alice"}, "/home/alice"),
    ],
)
def test_cache_directory(platform: str, environ: dict[str, str], expected: str) -> None:
    """``%LOCALAPPDATA%\\keyring-ado`` on Windows, ``~/Library/Caches/keyring-ado`` on macOS and
    ``$XDG_CACHE_HOME/keyring-ado`` elsewhere, in the platform's own path form: each platform's
    variables only, ``~`` its own home (``USERPROFILE`` on Windows), a relative base ignored."""
    assert settings.cache_directory(platform, environ) == expected


@pytest.mark.skipif(sys.platform in {"win32", "darwin"}, reason="the XDG rules are this system's only on Linux")
def test_a_relative_xdg_cache_home_never_puts_tokens_under_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``XDG_CACHE_HOME=.cache`` started in a cloned repository: the tokens go to the home directory
    the lookup's environment names (not the test process's), never into the repository."""
    monkeypatch.chdir(tmp_path)
    config = Settings.from_environ({"HOME": "/home/bob", "XDG_CACHE_HOME": ".cache"})
    assert config.cache.directory == "/home/bob/.cache/keyring-ado"


# --- where pip and uv read their user configuration -------------------------------------------


@pytest.mark.parametrize(
    ("client", "platform", "environ", "expected"),
    [
        ("pip", "win32", {"APPDATA": ROAMING, "USERPROFILE": ALICE}, ROAMING + r"\pip\pip.ini"),
        ("uv", "win32", {"APPDATA": ROAMING, "USERPROFILE": ALICE}, ROAMING + r"\uv\uv.toml"),
        ("pip", "win32", {"USERPROFILE": ALICE}, ROAMING + r"\pip\pip.ini"),
        (
            "uv",
            "win32",
            {"APPDATA": "Roaming", "USERPROFILE": ALICE, "XDG_CONFIG_HOME": "/x"},
            ROAMING + r"\uv\uv.toml",
        ),
        ("uv", "darwin", {"HOME": "/Users/alice"}, "/Users/alice/.config/uv/uv.toml"),
        (
            "uv",
            "darwin",
            {"HOME": "/Users/alice", "XDG_CONFIG_HOME": "/Users/alice/dot"},
            "/Users/alice/dot/uv/uv.toml",
        ),
        ("pip", "linux", {"HOME": "/home/alice", "XDG_CONFIG_HOME": "/home/alice/dot"}, "/home/alice/dot/pip/pip.conf"),
        ("pip", "linux", {"HOME": "/home/alice"}, "/home/alice/.config/pip/pip.conf"),
        ("uv", "linux", {"HOME": "/home/alice", "XDG_CONFIG_HOME": "dot"}, "/home/alice/.config/uv/uv.toml"),
        ("pip", "linux", {"HOME": "/home/alice", "APPDATA": ROAMING}, "/home/alice/.config/pip/pip.conf"),
    ],
)
def test_config_path(client: str, platform: str, environ: dict[str, str], expected: str) -> None:
    """pip's and uv's user files: ``%APPDATA%\\pip\\pip.ini`` and ``%APPDATA%\\uv\\uv.toml`` on
    Windows, ``$XDG_CONFIG_HOME`` (``~/.config``) elsewhere; a relative base is ignored, as they
    ignore it."""
    assert str(client_config.config_path(client, environ, Path("project"), platform=platform)) == expected


@pytest.mark.parametrize(
    ("exists", "expected"),
    [
        ((), ".config/pip/pip.conf"),
        ((".config/pip/pip.conf",), ".config/pip/pip.conf"),
        (("Library/Application Support/pip/",), "Library/Application Support/pip/pip.conf"),
        ((".config/pip/pip.conf", "Library/Application Support/pip/"), "Library/Application Support/pip/pip.conf"),
    ],
    ids=["fresh", "only-dot-config", "application-support", "both"],
)
def test_pip_on_macos_reads_application_support_only_when_it_exists(
    tmp_path: Path, exists: tuple[str, ...], expected: str
) -> None:
    """pip on macOS reads ``~/Library/Application Support/pip/pip.conf`` when that directory
    exists and ``~/.config/pip/pip.conf`` otherwise, never both (``pip/_internal/utils/appdirs.py``).
    Writing to Application Support on a Mac without it would create the directory, and pip would
    then read the new file alone, dropping everything in ``~/.config/pip/pip.conf``."""
    for name in exists:
        target = tmp_path / name
        if name.endswith("/"):
            target.mkdir(parents=True)
        else:
            target.parent.mkdir(parents=True)
            target.write_text("[global]\n")
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}  # pip ignores it on macOS
    assert client_config.config_path("pip", environ, tmp_path, platform="darwin") == tmp_path / expected


def _client(client: str) -> list[str]:
    if client == "pip":
        return [sys.executable, "-m", "pip", "cache", "dir"]
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        pytest.skip("uv is not installed beside this Python")
    return [str(uv), "cache", "dir"]


@pytest.mark.skipif(sys.platform == "win32", reason="pip asks Windows for the Roaming folder, not APPDATA")
@pytest.mark.parametrize("client", ["pip", "uv"])
@pytest.mark.parametrize("xdg", ["unset", "absolute", "relative"])
def test_the_real_client_reads_the_file_we_would_write(tmp_path: Path, client: str, xdg: str) -> None:
    """pip and uv themselves, run here, read their cache directory from the file ``config_path``
    names for this system: the file ``setup --write`` edits is the one the client reads."""
    home = tmp_path / "home"  # made by the autouse fixture
    environ = {"PATH": os.defpath, "HOME": str(home)}
    if xdg != "unset":
        environ["XDG_CONFIG_HOME"] = str(tmp_path / "xdg") if xdg == "absolute" else "xdg"
    path = client_config.config_path(client, environ, tmp_path)
    target = path if path.is_absolute() else tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    marker = tmp_path / "marker"
    target.write_text(f"[global]\ncache-dir = {marker}\n" if client == "pip" else f'cache-dir = "{marker}"\n')
    result = subprocess.run(
        _client(client), env=environ, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(marker), (path, result.stderr)


# --- finding az on a Windows PATH -------------------------------------------------------------


class WindowsDisk:
    """A Windows file system in a temporary directory: ``C:\\dir\\f`` is ``root/C/dir/f`` and
    ``\\\\server\\share\\f`` is ``root/server/share/f``. It records every path it is asked about."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.asked: list[str] = []

    def add(self, *paths: str) -> None:
        for path in paths:
            local = self._local(path)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text("@echo off\n")

    def __call__(self, path: str) -> bool:
        self.asked.append(path)
        return self._local(path).is_file()

    def _local(self, path: str) -> Path:  # case-insensitive, as Windows is
        pure = PureWindowsPath(path.lower())
        return self.root.joinpath(pure.drive.strip("\\/:").replace("\\", "/"), *pure.parts[1:])


def test_az_cmd_is_found_in_azure_clis_wbin(tmp_path: Path) -> None:
    """Azure CLI's Windows installer puts ``az.cmd`` and an extensionless ``az`` (for Git Bash) in
    its ``wbin``, quoted in PATH because of the space in Program Files. PATHEXT's extensions are
    tried in order in each absolute entry, the bare ``az`` never, and the entries relative to the
    current directory or drive (``.``, empty, ``C:wbin``, ``\\Program Files\\...``) are never
    looked in, though a cloned repository there carries an ``az.cmd``."""
    disk = WindowsDisk(tmp_path)
    disk.add(WBIN + r"\az", WBIN + r"\az.cmd", r"C:\src\repo\az.cmd", r"C:\src\repo\wbin\az.cmd", r"C:\az.cmd")
    relative = [".", "", "wbin", "C:wbin", r"\Program Files\Microsoft SDKs\Azure\CLI2\wbin"]
    search_path = ";".join([*relative, r"C:\Windows\system32", f'"{WBIN}"', r"C:\src\repo"])
    found = _path.which("az", search_path, platform="win32", pathext=PATHEXT, is_file=disk)
    assert found == WBIN + r"\az.cmd"
    system32 = [rf"C:\Windows\system32\az{ext}" for ext in (".com", ".exe", ".bat", ".cmd")]
    assert disk.asked == [*system32, *(rf"{WBIN}\az{ext}" for ext in (".com", ".exe", ".bat", ".cmd"))]


def test_windows_search_order_unc_shares_and_separators(tmp_path: Path) -> None:
    """Each directory in PATH order, and within one PATHEXT's order; a UNC share, a trailing
    backslash and forward slashes are all taken as Windows takes them."""
    disk = WindowsDisk(tmp_path)
    disk.add(r"C:\a\az.cmd", r"C:\b\az.exe", r"C:\b\az.cmd", r"\\fileserver\tools\az.exe")
    assert _path.which("az", r"C:\a;C:\b", platform="win32", pathext=PATHEXT, is_file=disk) == r"C:\a\az.cmd"
    assert _path.which("az", r"C:\b\;C:\a", platform="win32", pathext=PATHEXT, is_file=disk) == r"C:\b\az.exe"
    assert _path.which("az", "c:/b", platform="win32", pathext=".CMD", is_file=disk) == r"c:/b\az.cmd"
    unc = r"\\fileserver\tools" + "\\"
    assert _path.which("az", unc, platform="win32", pathext=PATHEXT, is_file=disk) == r"\\fileserver\tools\az.exe"
    assert _path.which("az.cmd", r"C:\b", platform="win32", pathext=".EXE", is_file=disk) == r"C:\b\az.cmd"
    assert _path.which("azd", r"C:\a;C:\b", platform="win32", pathext=PATHEXT, is_file=disk) is None


@pytest.mark.skipif(sys.platform == "win32", reason="on Windows a Windows PATH names this system's files")
def test_a_windows_path_names_no_file_on_another_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a stand-in disk, a Windows PATH judged on Linux or macOS finds nothing: here
    ``C:\\a\\az.cmd`` would be a file of that name in the current directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "C:\\a\\az.cmd").write_text("")
    assert _path.which("az", "C:\\a", platform="win32", pathext=PATHEXT) is None


@pytest.mark.parametrize(
    ("entry", "absolute"),
    [
        ("C:\\Program Files\\Azure CLI\\wbin", True),
        ("c:/tools", True),
        ("C:\\", True),
        ("\\\\server\\share\\bin", True),
        ("\\\\server\\share", True),
        ("//server/share/bin", True),
        ("\\\\?\\C:\\tools", True),
        (".", False),
        ("", False),
        ("wbin", False),
        ("\\wbin", False),  # relative to the current drive
        ("C:wbin", False),  # relative to drive C's current directory
        ("C:", False),
        ("\\\\server", False),  # a server, no share: "\\server\az.cmd" is no file
        ("\\\\", False),  # "\\" + "az.cmd" would be \az.cmd, on the current drive
        ("/usr/bin", False),
    ],
)
def test_windows_path_entries(entry: str, absolute: bool) -> None:
    """Windows rules, judged on any system: only drive-rooted and UNC share entries are searched."""
    assert _path.absolute_entry(entry, platform="win32") is absolute


def test_windows_extensions() -> None:
    """az is az.cmd on Windows: PATHEXT's extensions are tried in order, lower-cased, blanks
    around them dropped (``.COM;.EXE;.BAT;.CMD`` when PATHEXT is unset)."""
    assert _path.candidate_names("az", platform="win32", pathext=".EXE;.CMD") == ["az.exe", "az.cmd"]
    assert _path.candidate_names("az", platform="win32", pathext=" .EXE ; .CMD ;") == ["az.exe", "az.cmd"]
    assert _path.candidate_names("az", platform="win32") == ["az.com", "az.exe", "az.bat", "az.cmd"]
    assert _path.candidate_names("az", platform="linux") == ["az"]
    assert _path.candidate_names("az", platform="darwin", pathext=PATHEXT) == ["az"]


# --- every message prints on a cp1252 console -------------------------------------------------


def test_every_message_is_ascii_apart_from_what_is_put_into_it() -> None:
    """The text of every message keyring-ado can show (the troubleshooting page's collector) is
    ASCII; only an interpolated path, URL or system error may be anything else. A Windows console
    or log in cp1252 (or any code page) shows such a message whole."""
    assert len(MESSAGES) > 60
    not_ascii = [(where, text) for where, text in MESSAGES if not text.replace(PLACEHOLDER, "").isascii()]
    assert not not_ascii


def _cp1252_cli(tmp_path: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[bytes]:
    env = {name: value for name, value in os.environ.items() if name not in variables.ALL_VARIABLES}
    env.update({"PYTHONIOENCODING": "cp1252", "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(tmp_path), **environ})
    return subprocess.run(
        [sys.executable, "-m", "keyring_ado", *args],
        env=env, capture_output=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_path_cp1252_cannot_show_is_escaped_not_fatal(tmp_path: Path) -> None:
    """A command whose message names a path with characters cp1252 lacks (here, an error) prints
    its one line with the characters escaped, and never stops on a UnicodeEncodeError."""
    not_a_directory = tmp_path / "\u4e2d\u6587"
    not_a_directory.write_text("")
    result = _cp1252_cli(tmp_path, "logout", KEYRING_ADO_CACHE_DIR=str(not_a_directory))
    stderr = result.stderr.decode("cp1252")
    assert result.returncode == 1, stderr
    assert f"keyring-ado: {tmp_path}{os.sep}\\u4e2d\\u6587 is not a directory" in stderr
    assert "stopped unexpectedly" not in stderr
    assert "Traceback" not in stderr


def test_setup_write_reports_a_path_cp1252_cannot_show(tmp_path: Path) -> None:
    """``setup --write`` into a profile whose path cp1252 cannot show writes the file and says
    where, escaped."""
    home = tmp_path / "\u0416\u0435\u043d\u044f"
    home.mkdir()
    environ = {"HOME": str(home), "USERPROFILE": str(home), "XDG_CONFIG_HOME": "", "APPDATA": ""}
    result = _cp1252_cli(tmp_path, "setup", "uv", "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/",
                         "--write", **environ)  # fmt: skip
    stderr = result.stderr.decode("cp1252")
    assert result.returncode == 0, stderr
    written = client_config.config_path("uv", environ, tmp_path)
    assert "keyring-provider" in written.read_text(encoding="utf-8")
    assert "keyring-ado: updated " + str(written).encode("cp1252", "backslashreplace").decode("cp1252") in stderr
    assert "stopped unexpectedly" not in stderr
