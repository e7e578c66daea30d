"""``keyring-ado setup CLIENT URL --write`` edits the client's file: every line already there stays
as it was, the file is written in UTF-8 whatever the locale, atomically and with its mode, never
through a link out of its directory, and a URL cannot break out of the value it is written as."""

from __future__ import annotations

import codecs
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from keyring_ado import setup
from tests.helpers import FEED_URL

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes, links, locales and limits")


def cli(*args: str, config_home: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyring_ado", "setup", *args, "--write"],
        env={**os.environ, "XDG_CONFIG_HOME": str(config_home), "PYTHONDONTWRITEBYTECODE": "1", **environ},
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def toml(text: str) -> dict[str, object]:
    parser = setup._toml_parser()
    if parser is None:
        pytest.skip("no TOML parser (Python 3.10 without tomli)")
    document: dict[str, object] = parser.loads(text)
    return document


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (  # the feed beside their index, at the end of [global]: comments, spelling and order kept
            "# my pip settings\n[global]\nIndex-URL = https://pypi.org/simple/\n; slow network\nTimeout = 60\n\n"
            "# installs go to the user site\n[install]\nUser = yes\n",
            "# my pip settings\n[global]\nIndex-URL = https://pypi.org/simple/\n; slow network\nTimeout = 60\n"
            f"extra-index-url = {FEED_URL}\nkeyring-provider = import\n\n"
            "# installs go to the user site\n[install]\nUser = yes\n",
        ),
        (  # an extra-index-url over several lines gets the feed as one more line
            "[global]\nindex-url = https://pypi.org/simple/\nextra-index-url =\n    https://a.example/simple/\n"
            "    # a comment inside the value\n    https://b.example/simple/\nKeyring-Provider = subprocess\n",
            "[global]\nindex-url = https://pypi.org/simple/\nextra-index-url =\n    https://a.example/simple/\n"
            f"    # a comment inside the value\n    https://b.example/simple/\n    {FEED_URL}\n"
            "Keyring-Provider = subprocess\n",
        ),
        (  # Windows line endings, pip's other spellings of a key, and no newline at the very end
            "[global]\r\nindex_url = https://pypi.org/simple/\r\nEXTRA_INDEX_URL = https://a.example/simple/",
            "[global]\r\nindex_url = https://pypi.org/simple/\r\n"
            f"EXTRA_INDEX_URL = https://a.example/simple/ {FEED_URL}\r\nkeyring-provider = import\r\n",
        ),
        (  # no [global] yet: one at the end, after a last line that had no newline
            "[install]\nuser = yes",
            f"[install]\nuser = yes\n\n[global]\nindex-url = {FEED_URL}\nkeyring-provider = import\n",
        ),
    ],
)
def test_pip_merge_keeps_every_line(tmp_path: Path, before: str, after: str) -> None:
    """The lines already in pip.conf stay byte for byte; the feed and the provider are added."""
    conf = tmp_path / "pip.conf"
    conf.write_bytes(before.encode())
    assert setup.write("pip", FEED_URL, conf) is True
    assert conf.read_bytes() == after.encode()
    assert setup.write("pip", FEED_URL, conf) is False
    assert conf.read_bytes() == after.encode()


def test_uv_merge_keeps_windows_line_endings(tmp_path: Path) -> None:
    """uv.toml written with CRLF stays CRLF, its lines untouched, the new ones ending the same way."""
    conf = tmp_path / "uv.toml"
    conf.write_bytes(b'# mine\r\n[[index]]\r\nname = "corp"\r\nurl = "https://example.com/simple/"\r\n')
    assert setup.write("uv", FEED_URL, conf) is True
    url = FEED_URL.replace("https://", "https://VssSessionToken@")
    assert (
        conf.read_bytes()
        == (
            'keyring-provider = "subprocess"\r\n\r\n# mine\r\n[[index]]\r\nname = "corp"\r\n'
            f'url = "https://example.com/simple/"\r\n\r\n[[index]]\r\nname = "ado"\r\nurl = "{url}"\r\n'
        ).encode()
    )


@POSIX
def test_pip_conf_in_utf8_under_a_c_locale(tmp_path: Path) -> None:
    """A UTF-8 path in pip.conf, run where the locale's encoding is ASCII: the whole file is kept
    and written in UTF-8 (it was written in the locale's encoding: a traceback and half a file)."""
    environ = {"LC_ALL": "C", "PYTHONUTF8": "0"}
    probe = subprocess.run(
        [sys.executable, "-c", "import locale; print(locale.getpreferredencoding(False))"],
        env={**os.environ, **environ}, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert codecs.lookup(probe.stdout.strip()).name == "ascii", "the test needs a locale whose encoding is ASCII"
    conf = tmp_path / "config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True)
    before = "[global]\n# Jürgen's corporate CA\ncert = /home/jürgen/certs/ca-bündel.pem\n"
    conf.write_bytes(before.encode())
    run = cli("pip", FEED_URL, config_home=tmp_path / "config", **environ)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert conf.read_bytes() == (before + f"index-url = {FEED_URL}\nkeyring-provider = import\n").encode()


@POSIX
@pytest.mark.parametrize("client", ["pip", "uv"])
def test_a_write_that_fails_midway_leaves_the_file_whole(tmp_path: Path, client: str) -> None:
    """The file-size limit stops the write partway (as a full disk would): the old file is there
    byte for byte, no temporary file is left, and the command says so in one line."""
    import resource

    conf = tmp_path / "config" / client / ("pip.conf" if client == "pip" else "uv.toml")
    conf.parent.mkdir(parents=True)
    before = (
        "[global]\n# keep this\ntimeout = 60\n" if client == "pip" else 'keyring-provider = "subprocess"\n# keep this\n'
    ).encode() + b"# padding\n" * 10
    conf.write_bytes(before)
    limit = len(before) // 2  # less than the old file, far less than the new one

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    run = subprocess.run(
        [sys.executable, "-m", "keyring_ado", "setup", client, FEED_URL, "--write"],
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True, text=True, timeout=60, check=False, preexec_fn=limited,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith(f"keyring-ado: cannot update {conf}: File too large; ")
    assert run.stderr.count("\n") == 1
    assert conf.read_bytes() == before
    assert os.listdir(conf.parent) == [conf.name]


@POSIX
@pytest.mark.parametrize("client", ["pip", "uv", "poetry"])
def test_the_file_mode_is_kept(tmp_path: Path, client: str) -> None:
    """A 0640 file stays 0640 through the rewrite (a temporary file is made 0600)."""
    conf = tmp_path / {"pip": "pip.conf", "uv": "uv.toml", "poetry": "pyproject.toml"}[client]
    conf.write_text("[global]\n" if client == "pip" else "# mine\n")
    conf.chmod(0o640)
    assert setup.write(client, FEED_URL, conf) is True
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640


@POSIX
def test_a_new_file_gets_the_usual_mode(tmp_path: Path) -> None:
    """A file that was not there is made as any program would make it: 0666 less the umask."""
    umask = os.umask(0o027)
    try:
        assert setup.write("uv", FEED_URL, tmp_path / "uv" / "uv.toml") is True
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "uv" / "uv.toml").stat().st_mode) == 0o640


@POSIX
@pytest.mark.parametrize("client", ["pip", "uv", "poetry"])
def test_a_link_out_of_the_directory_is_refused(tmp_path: Path, client: str) -> None:
    """pip.conf, uv.toml or pyproject.toml linked to a file elsewhere: one line, nothing written."""
    elsewhere = tmp_path / "elsewhere" / "shared.conf"
    elsewhere.parent.mkdir()
    elsewhere.write_text("[global]\n" if client == "pip" else "# shared\n")
    config_home, project = tmp_path / "config", tmp_path / "app"
    link = {"pip": config_home / "pip" / "pip.conf", "uv": config_home / "uv" / "uv.toml",
            "poetry": project / "pyproject.toml"}[client]  # fmt: skip
    link.parent.mkdir(parents=True)
    link.symlink_to(elsewhere)
    run = cli(client, FEED_URL, "--project", str(project), config_home=config_home)
    assert run.returncode == 1
    assert run.stderr == (
        f"keyring-ado: {link} is a symbolic link out of its directory (to {elsewhere}), so it is left alone; "
        f"add what `keyring-ado setup {client} URL` prints by hand\n"
    )
    assert elsewhere.read_text() == ("[global]\n" if client == "pip" else "# shared\n")
    assert link.is_symlink()


@POSIX
def test_a_link_within_the_directory_is_followed(tmp_path: Path) -> None:
    """A link to a file beside it is kept a link; the file it names is the one updated."""
    directory = tmp_path / "pip"
    directory.mkdir()
    real = directory / "pip-work.conf"
    real.write_text("[global]\ntimeout = 60\n")
    (directory / "pip.conf").symlink_to("pip-work.conf")
    assert setup.write("pip", FEED_URL, directory / "pip.conf") is True
    assert (directory / "pip.conf").is_symlink()
    assert real.read_text() == f"[global]\ntimeout = 60\nindex-url = {FEED_URL}\nkeyring-provider = import\n"
    assert sorted(os.listdir(directory)) == ["pip-work.conf", "pip.conf"]


@pytest.mark.parametrize("client", ["uv", "poetry"])
def test_a_url_with_a_quote_or_a_backslash_stays_one_toml_string(tmp_path: Path, client: str) -> None:
    """A quote ended the TOML string early (the merge was then refused as invalid); now the URL is
    escaped, reads back as it was given, and is recognised as there on the next run."""
    index = 'https://pkgs.dev.azure.com/contoso/_packaging/f"e\\ed/pypi/simple/'
    conf = tmp_path / ("uv.toml" if client == "uv" else "pyproject.toml")
    conf.write_text('[project]\nname = "app"\n' if client == "poetry" else "")
    assert setup.write(client, index, conf) is True
    document = toml(conf.read_text(encoding="utf-8"))
    if client == "uv":
        assert document["index"] == [{"name": "ado", "url": index.replace("https://", "https://VssSessionToken@")}]
    else:
        assert document["tool"] == {"poetry": {"source": [{"name": "ado", "url": index, "priority": "primary"}]}}
    assert setup.write(client, index, conf) is False
    assert toml(setup.snippet(client, index)) == (document if client == "uv" else {"tool": document["tool"]})


@pytest.mark.parametrize("tail", ["\nkeyring-provider = subprocess", "\r[install]", " https://evil.example/simple/"])
def test_pip_refuses_a_url_that_would_break_its_line(tmp_path: Path, tail: str) -> None:
    """A newline would start a key of its own in pip.conf, a space a second index URL: refused,
    the file untouched (the command line never gets this far with such a URL; this is the last guard)."""
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\ntimeout = 60\n")
    with pytest.raises(setup.ConfigError, match="has a space or a control character, so it is not written to"):
        setup.write("pip", FEED_URL + tail, conf)
    assert conf.read_text() == "[global]\ntimeout = 60\n"


def test_a_file_too_large_to_be_a_configuration_is_left_alone(tmp_path: Path) -> None:
    """Reading stops at 4 MiB, so a larger file is refused rather than written back cut short."""
    conf = tmp_path / "uv.toml"
    before = b"# x\n" * ((4 << 20) // 4 + 1)
    conf.write_bytes(before)
    with pytest.raises(setup.ConfigError, match=r"is larger than 4 MiB, so it is left alone"):
        setup.write("uv", FEED_URL, conf)
    assert conf.read_bytes() == before
