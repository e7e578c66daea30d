"""``keyring-ado setup CLIENT URL --write`` edits the client's file: every line already there stays
as it was, the file is written in UTF-8 whatever the locale, atomically and with its mode, never
through a link out of its directory, and a URL cannot break out of the value it is written as."""

from __future__ import annotations

import ast
import codecs
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keyring_ado import client_config
from tests.helpers import FEED_URL

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes, links, locales and limits")


def cli(*args: str, config_home: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyring_ado", "setup", *args, "--write"],
        env={**os.environ, "XDG_CONFIG_HOME": str(config_home), "PYTHONDONTWRITEBYTECODE": "1", **environ},
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def toml(text: str) -> dict[str, object]:
    parser = client_config._toml_parser()
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
    assert client_config.write("pip", FEED_URL, conf) is True
    assert conf.read_bytes() == after.encode()
    assert client_config.write("pip", FEED_URL, conf) is False
    assert conf.read_bytes() == after.encode()


def test_uv_merge_keeps_windows_line_endings(tmp_path: Path) -> None:
    """uv.toml written with CRLF stays CRLF, its lines untouched, the new ones ending the same way."""
    conf = tmp_path / "uv.toml"
    conf.write_bytes(b'# mine\r\n[[index]]\r\nname = "corp"\r\nurl = "https://example.com/simple/"\r\n')
    assert client_config.write("uv", FEED_URL, conf) is True
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
    assert client_config.write(client, FEED_URL, conf) is True
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640


@POSIX
def test_a_new_file_gets_the_usual_mode(tmp_path: Path) -> None:
    """A file that was not there is made as any program would make it: 0666 less the umask."""
    umask = os.umask(0o027)
    try:
        assert client_config.write("uv", FEED_URL, tmp_path / "uv" / "uv.toml") is True
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
    assert client_config.write("pip", FEED_URL, directory / "pip.conf") is True
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
    assert client_config.write(client, index, conf) is True
    document = toml(conf.read_text(encoding="utf-8"))
    if client == "uv":
        assert document["index"] == [{"name": "ado", "url": index.replace("https://", "https://VssSessionToken@")}]
    else:
        assert document["tool"] == {"poetry": {"source": [{"name": "ado", "url": index, "priority": "primary"}]}}
    assert client_config.write(client, index, conf) is False
    assert toml(client_config.snippet(client, index)) == (document if client == "uv" else {"tool": document["tool"]})


@pytest.mark.parametrize("tail", ["\nkeyring-provider = subprocess", "\r[install]", " https://evil.example/simple/"])
def test_pip_refuses_a_url_that_would_break_its_line(tmp_path: Path, tail: str) -> None:
    """A newline would start a key of its own in pip.conf, a space a second index URL: refused,
    the file untouched (the command line never gets this far with such a URL; this is the last guard)."""
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\ntimeout = 60\n")
    with pytest.raises(client_config.ConfigError, match="has a space or a control character, so it is not written to"):
        client_config.write("pip", FEED_URL + tail, conf)
    assert conf.read_text() == "[global]\ntimeout = 60\n"


def test_a_file_too_large_to_be_a_configuration_is_left_alone(tmp_path: Path) -> None:
    """Reading stops at 4 MiB, so a larger file is refused rather than written back cut short."""
    conf = tmp_path / "uv.toml"
    before = b"# x\n" * ((4 << 20) // 4 + 1)
    conf.write_bytes(before)
    with pytest.raises(client_config.ConfigError, match=r"is larger than 4 MiB, so it is left alone"):
        client_config.write("uv", FEED_URL, conf)
    assert conf.read_bytes() == before


def pip_sees(conf: Path) -> dict[str, str]:
    """What pip's own loader takes from *conf* (``pip config --user list`` with PIP_CONFIG_FILE
    naming it reads that file alone), as ``section.key``: the judge of what a pip.conf means."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    run = subprocess.run(
        [sys.executable, "-m", "pip", "config", "--user", "list"],
        env={**environ, "PIP_CONFIG_FILE": str(conf)}, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = (line.partition("=") for line in run.stdout.splitlines() if not line.startswith(":env:"))
    return {key: ast.literal_eval(value) for key, _, value in lines}


@pytest.mark.parametrize(
    "before",
    [
        "[DEFAULT]\nindex-url = https://old-mirror.example/simple/\ntrusted-host = old-mirror.example\n",
        "[DEFAULT]\ntimeout = 5\n\n[install]\nuser = yes\n",
    ],
)
def test_pip_default_settings_a_new_global_would_apply_are_refused(tmp_path: Path, before: str) -> None:
    """pip takes [DEFAULT]'s settings only through its sections: alone they mean nothing, beside
    [install] they are pip install's. The merge took them for [global]'s and added a [global],
    after which pip used the old mirror, trusted its host, or the timeout, for every command.
    Refused, the file as it was."""
    conf = tmp_path / "pip.conf"
    conf.write_text(before)
    seen = pip_sees(conf)
    assert "global.index-url" not in seen
    with pytest.raises(
        client_config.ConfigError, match=r"has a \[DEFAULT\] section and no \[global\], and pip would apply"
    ):
        client_config.write("pip", FEED_URL, conf)
    assert conf.read_text() == before
    assert pip_sees(conf) == seen


def test_pip_default_settings_the_feed_replaces_stay_inert(tmp_path: Path) -> None:
    """A [DEFAULT] whose only settings the feed's lines set anew: the new [global] overrides them,
    and pip then uses the feed as its index (it kept the dormant mirror as the index, the feed an extra)."""
    conf = tmp_path / "pip.conf"
    conf.write_text("[DEFAULT]\nindex-url = https://old-mirror.example/simple/\n")
    assert pip_sees(conf) == {}
    assert client_config.write("pip", FEED_URL, conf) is True
    assert pip_sees(conf) == {"global.index-url": FEED_URL, "global.keyring-provider": "import"}
    assert client_config.write("pip", FEED_URL, conf) is False


def test_pip_reads_a_key_by_the_name_pip_gives_it(tmp_path: Path) -> None:
    """[global]'s ``index-url`` overrides a [DEFAULT] ``index_url`` for pip (one key to it); the merge
    took the [DEFAULT] one as the index and added the feed, already the index, as an extra one."""
    conf = tmp_path / "pip.conf"
    before = f"[DEFAULT]\nindex_url = https://old-mirror.example/simple/\n\n[global]\nindex-url = {FEED_URL}\n"
    conf.write_text(before)
    assert pip_sees(conf)["global.index-url"] == FEED_URL
    assert client_config.write("pip", FEED_URL, conf) is True
    assert conf.read_text() == before + "keyring-provider = import\n"
    assert pip_sees(conf) == {"global.index-url": FEED_URL, "global.keyring-provider": "import"}


def test_pip_conf_pip_cannot_load_is_left_alone(tmp_path: Path) -> None:
    """Two spellings of one key in a section: pip refuses the whole file, so the merge does too
    (it took the last one and wrote, leaving a file pip still could not load)."""
    conf = tmp_path / "pip.conf"
    before = "[global]\nindex-url = https://a.example/simple/\nIndex_URL = https://b.example/simple/\n"
    conf.write_text(before)
    with pytest.raises(subprocess.CalledProcessError):
        pip_sees(conf)
    with pytest.raises(client_config.ConfigError, match=r"is not a valid pip configuration file .*'index-url'"):
        client_config.write("pip", FEED_URL, conf)
    assert conf.read_text() == before


def add_tables(client: str, text: str) -> str:
    return f'[tool.poetry]\nname = "app"\n{text}' if client == "poetry" else text


def indexes(client: str, conf: Path) -> list[Any]:
    """The ``[[index]]`` tables of uv.toml, or the ``[[tool.poetry.source]]`` ones of pyproject.toml."""
    document: Any = toml(conf.read_text())
    return list(document.get("index", []) if client == "uv" else document["tool"]["poetry"].get("source", []))


@pytest.mark.parametrize("client", ["uv", "poetry"])
@pytest.mark.parametrize(
    "naming",
    [f"# TODO: add {FEED_URL} when it is ready\n", f'[tool.mirror]\nurl = "{FEED_URL}"\n'],
)
def test_toml_feed_named_outside_an_index_is_not_set_up(tmp_path: Path, client: str, naming: str) -> None:
    """A comment or another key naming the feed is no index: the feed is added (the text was
    searched, and the file called already set up with no index for the feed)."""
    conf = tmp_path / ("uv.toml" if client == "uv" else "pyproject.toml")
    conf.write_text(add_tables(client, naming))
    assert client_config.write(client, FEED_URL, conf) is True
    assert [entry["name"] for entry in indexes(client, conf)] == ["ado"]
    assert client_config.write(client, FEED_URL, conf) is False


def test_uv_keyring_provider_of_uv_pip_is_not_the_top_level_one(tmp_path: Path) -> None:
    """``keyring-provider`` in [pip] is for ``uv pip`` only; ``uv sync`` needs the top-level one,
    which was not added because a line anywhere began with the key."""
    conf = tmp_path / "uv.toml"
    conf.write_text('[pip]\nkeyring-provider = "disabled"\n')
    assert client_config.write("uv", FEED_URL, conf) is True
    document = toml(conf.read_text())
    assert document["keyring-provider"] == "subprocess"
    assert document["pip"] == {"keyring-provider": "disabled"}


def test_uv_feed_without_the_provider_gets_the_provider(tmp_path: Path) -> None:
    """The feed's index is there but uv would not ask keyring: the provider is added, the index
    not again (a file naming the feed anywhere was left as it was)."""
    url = FEED_URL.replace("https://", "https://VssSessionToken@")
    conf = tmp_path / "uv.toml"
    conf.write_text(f"[[index]]\nname = 'feed'\nurl = '{url}'\n")
    assert client_config.write("uv", FEED_URL, conf) is True
    assert conf.read_text() == f"keyring-provider = \"subprocess\"\n\n[[index]]\nname = 'feed'\nurl = '{url}'\n"
    assert client_config.write("uv", FEED_URL, conf) is False


@pytest.mark.parametrize("client", ["uv", "poetry"])
@pytest.mark.parametrize("spelled", ["name = 'ado'", '  name = "ado"', '"name" = "ado"', 'name = "ADO"'])
def test_toml_index_name_in_use_however_spelled(tmp_path: Path, client: str, spelled: str) -> None:
    """An index already called ``ado`` in single quotes, indented, with a quoted key or in capitals
    (Poetry refuses two sources whose names differ in case; uv's UV_INDEX_<NAME>_* variables would
    be shared): the feed's is ``ado-2``. The names were found by a pattern for ``name = "..."``."""
    table = "[[index]]" if client == "uv" else "[[tool.poetry.source]]"
    conf = tmp_path / ("uv.toml" if client == "uv" else "pyproject.toml")
    conf.write_text(add_tables(client, f'{table}\n{spelled}\nurl = "https://other.example/simple/"\n'))
    assert client_config.write(client, FEED_URL, conf) is True
    assert [str(entry["name"]).lower() for entry in indexes(client, conf)] == ["ado", "ado-2"]


INVISIBLE = ["\x9b", "\x9d", "\x85", "\u202e", "\u2066", "\u200b"]  # CSI, OSC, NEL, RLO, LRI, zero width space


@pytest.mark.parametrize("client", ["uv", "poetry"])
@pytest.mark.parametrize("character", INVISIBLE)
def test_toml_refuses_a_url_with_a_character_that_does_not_print(tmp_path: Path, client: str, character: str) -> None:
    """A C1 control (a terminal escape), a bidirectional override or another invisible character
    went raw into uv.toml or pyproject.toml: now refused, naming the character, the file untouched."""
    index = FEED_URL.replace("/feed/", f"/fe{character}ed/")
    conf = tmp_path / ("uv.toml" if client == "uv" else "pyproject.toml")
    conf.write_text(add_tables(client, ""))
    at = FEED_URL.index("/feed/") + 4  # counted from 1
    message = f"so it is not written to {re.escape(str(conf))}; .* \\(U\\+{ord(character):04X} at character {at}\\)$"
    with pytest.raises(client_config.ConfigError, match=message):
        client_config.write(client, index, conf)
    assert conf.read_text() == add_tables(client, "")


@pytest.mark.parametrize("client", ["pip", "uv", "poetry"])
@pytest.mark.parametrize("character", INVISIBLE)
def test_snippet_refuses_a_url_with_a_character_that_does_not_print(client: str, character: str) -> None:
    """``setup CLIENT URL`` printed such a URL to the terminal as it was given."""
    with pytest.raises(client_config.ConfigError, match="a space or a control character, so it is not printed; "):
        client_config.snippet(client, FEED_URL.replace("/feed/", f"/fe{character}ed/"))


def test_setup_prints_nothing_for_a_url_with_a_character_that_does_not_print(tmp_path: Path) -> None:
    """The command line takes such a URL as a feed; nothing reaches stdout, and the character is
    not echoed on stderr either."""
    url = FEED_URL.replace("/feed/", "/fe\x9b2Jed/")
    run = subprocess.run(
        [sys.executable, "-m", "keyring_ado", "setup", "pip", url],
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}, capture_output=True, text=True, timeout=60,
        check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stdout == ""
    assert "\x9b" not in run.stderr
    assert run.stderr.count("\n") == 1
    assert "(U+009B at character" in run.stderr, "the message names the character, not a crash report"
