"""The client configuration that makes pip, uv or Poetry use keyring for a feed: never a secret.

``snippet`` is what ``keyring-ado setup CLIENT URL`` prints; ``write`` merges it into the client's
own file, keeping everything already there (an existing index stays, the feed is added beside it).
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._jsonfile import read_unlinked, replace_atomically, special_file
from ._path import absolute_entry
from ._pip_conf import ConfigError, merge_pip, newline_of, would_break
from .feeds import request_url
from .settings import home_directory

if sys.version_info >= (3, 11):
    import tomllib as _TOML
else:
    try:
        import tomli as _TOML  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        _TOML = None

__all__ = ["ConfigError", "advice", "config_path", "index_url", "snippet", "write"]

INDEX_NAME = "ado"


def index_url(url: str) -> str:
    """The feed's ``.../pypi/simple/`` URL, without user info, whatever URL of the feed was given."""
    clean = request_url(url) or url
    base, marker, _ = clean.partition("/pypi/")
    return f"{base}/pypi/simple/" if marker else f"{clean.rstrip('/')}/"


def snippet(client: str, index: str) -> str:
    """What ``setup CLIENT URL`` prints; :class:`ConfigError` for a URL that is not one printable line."""
    _check_printable(index, "not printed")
    if client == "pip":
        return f"[global]\nindex-url = {index}\nkeyring-provider = import\n"
    if client == "uv":
        return f'keyring-provider = "subprocess"\n\n{_uv_index(index)}'
    return _poetry_source(index)


def advice(client: str) -> str:
    if client == "pip":
        return "pip needs keyring-ado in its own environment for keyring-provider = import (pip install keyring-ado)"
    if client == "uv":
        return "uv runs the keyring command: `uv tool install keyring --with keyring-ado`"
    return "Poetry needs keyring-ado in its own environment: `poetry self add keyring-ado`"


def config_path(client: str, environ: Mapping[str, str], project: Path, *, platform: str = sys.platform) -> Path:
    r"""The user-level configuration file of pip or uv on *platform*, where they read it, or the
    Poetry project's pyproject.toml. Paths are in *platform*'s own form, whatever system runs this.

    pip (its ``configuration.py`` and ``appdirs.py``): ``%APPDATA%\pip\pip.ini`` on Windows; on macOS
    ``~/Library/Application Support/pip/pip.conf`` only when that directory exists, else
    ``~/.config/pip/pip.conf`` (pip reads just one of the two, and the second by default);
    elsewhere ``$XDG_CONFIG_HOME/pip/pip.conf``, ``~/.config/pip/pip.conf`` without it.
    uv (its storage reference): ``%APPDATA%\uv\uv.toml`` on Windows, ``$XDG_CONFIG_HOME/uv/uv.toml``
    or ``~/.config/uv/uv.toml`` on macOS and elsewhere. A relative ``APPDATA`` or ``XDG_CONFIG_HOME``
    is ignored, as pip and uv ignore it."""
    if client == "poetry":
        return project / "pyproject.toml"
    home = home_directory(platform, environ)
    if platform == "win32":
        base = environ.get("APPDATA", "").strip()
        if not absolute_entry(base, platform=platform):
            base = ntpath.join(home, "AppData", "Roaming")
        return Path(ntpath.join(base, client, "pip.ini" if client == "pip" else "uv.toml"))
    if platform == "darwin" and client == "pip":
        support = posixpath.join(home, "Library", "Application Support", "pip")
        return Path(support if os.path.isdir(support) else posixpath.join(home, ".config", "pip"), "pip.conf")
    base = environ.get("XDG_CONFIG_HOME", "").strip()
    if not posixpath.isabs(base):
        base = posixpath.join(home, ".config")
    return Path(base, client, "pip.conf" if client == "pip" else "uv.toml")


def _check_printable(index: str, outcome: str) -> None:
    """Refuse a URL with a space or a character that does not print (a control character, a C1
    control such as U+009B that terminals take as an escape, a bidirectional override): in
    ``pip.conf`` a line break or a space changes what the file means, and in a TOML file or on the
    terminal an invisible character makes the URL read as something it is not."""
    for number, character in enumerate(index, 1):
        if character.isspace() or not character.isprintable():
            raise ConfigError(
                f"the feed URL has a space or a control character, so it is {outcome}; give the feed's index URL "
                f"as its Connect to feed page shows it (U+{ord(character):04X} at character {number})"
            )


_LARGEST = 4 << 20  # a configuration file is a few KiB; one this large is not read, nor rewritten


def write(client: str, index: str, path: Path) -> bool:
    """Merge the configuration into *path*; False when it was already there. Nothing is written
    when the file cannot be read, parsed or written (:class:`ConfigError`).

    The file is edited, not regenerated: every line already there stays as it was (comments,
    spelling, order, line endings) and the new lines are added. The result is written to a
    temporary file beside it and renamed over it, with the old file's mode, so an interrupted
    write leaves the old file whole. A symbolic link is followed only within its own directory.
    """
    by_hand = f"add what `keyring-ado setup {client} URL` prints by hand"
    _check_printable(index, f"not written to {path}")
    try:
        target = _within_directory(path, by_hand)
        text, status = _read(target, path, by_hand)
        if client == "pip":
            merged = merge_pip(text or "", index, path, by_hand)
        else:
            if client == "poetry" and text is None:
                raise ConfigError(f"no {path}; run this in your Poetry project or pass --project")
            merged = _merge_toml(client, text or "", index, path, by_hand)
        if merged is None:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(status.st_mode) if status else _new_file_mode()
        replace_atomically(target, merged.encode("utf-8"), mode, status.st_gid if status else None)
    except OSError as exc:
        raise ConfigError(f"cannot update {path}: {exc.strerror or exc}; fix that, or {by_hand}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; fix it, or {by_hand}") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to read; fix it, or {by_hand}") from None
    return True


def _within_directory(path: Path, by_hand: str) -> Path:
    """The file *path* names: itself, or where its symbolic link leads when that is in the same
    directory. A link out of it (to a file this command was not asked to change) is refused."""
    if not path.is_symlink():
        return path
    try:
        real = Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:  # a dangling link: the file it names is created
        real = Path(os.path.realpath(path))
    if real.parent != Path(os.path.realpath(path.parent)):
        raise ConfigError(f"{path} is a symbolic link out of its directory (to {real}), so it is left alone; {by_hand}")
    return real


def _read(target: Path, path: Path, by_hand: str) -> tuple[str | None, os.stat_result | None]:
    """The text of *target* and its status; ``(None, None)`` when there is no such file."""
    try:
        data = None if special_file(target) else read_unlinked(target, _LARGEST + 1)
    except FileNotFoundError:
        return None, None
    if data is None:  # a FIFO would block for ever, a device could be anything
        raise ConfigError(f"{path} is not a regular file, so it is left alone; {by_hand}")
    if len(data) > _LARGEST:
        raise ConfigError(f"{path} is larger than 4 MiB, so it is left alone; {by_hand}")
    return data.decode("utf-8"), target.lstat()


def _new_file_mode() -> int:
    """What ``open()`` would give a new file: read-write for all, less the umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _merge_toml(client: str, text: str, index: str, path: Path, by_hand: str) -> str | None:
    """*text* with what is missing added (the provider as a line at the top, the index as a table
    at the end), or None when nothing is.

    What is there is judged by the parsed document, as uv and Poetry read it: an index or source
    whose URL is the feed, a top-level ``keyring-provider``, the index names in use. A comment
    naming the feed, a ``keyring-provider`` in ``[pip]`` or a name in single quotes is read as uv
    and Poetry read it. Without a TOML parser (Python 3.10 without tomli) the text is searched.
    """
    document = _check_toml(text, path, by_hand)
    table = "index" if client == "uv" else "tool.poetry.source"
    if document is None:
        needle = index.partition("://")[2].rstrip("/")
        has_feed = needle in text
        has_provider = re.search(r"(?m)^keyring-provider\s*=", text) is not None
        names = set(re.findall(r'(?m)^name\s*=\s*"([^"]+)"', text)) if f"[[{table}]]" in text else set()
    else:
        entries = _tables(document, table)
        has_feed = any(_same_feed(entry.get("url"), index) for entry in entries)
        if client == "uv":  # uv's older spellings of an index
            has_feed = has_feed or any(_same_feed(url, index) for url in _uv_index_urls(document))
        has_provider = "keyring-provider" in document
        names = {entry["name"] for entry in entries if isinstance(entry.get("name"), str)}
    add_provider = client == "uv" and not has_provider
    if has_feed and not add_provider:
        return None
    newline = newline_of(text)
    if add_provider:
        text = 'keyring-provider = "subprocess"' + newline + (newline if text else "") + text
    if not has_feed:
        added = _uv_index(index, _free_name(names)) if client == "uv" else _poetry_source(index, _free_name(names))
        body = text.rstrip("\r\n")
        text = body + (newline * 2 if body.strip() else "") + added.replace("\n", newline)
    _check_toml(text, path, by_hand, merged=True)
    return text


def _tables(document: dict[str, Any], dotted: str) -> list[dict[str, Any]]:
    """The tables of the array of tables *dotted* (``index``, ``tool.poetry.source``); none when
    the document has no such array (or something else under that name: the merge then fails its check)."""
    value: Any = document
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _uv_index_urls(document: dict[str, Any]) -> list[object]:
    """The URLs of uv's top-level ``index-url`` and ``extra-index-url`` (``[pip]`` is only for ``uv pip``)."""
    extra = document.get("extra-index-url")
    return [document.get("index-url"), *(extra if isinstance(extra, list) else [extra])]


def _same_feed(url: object, index: str) -> bool:
    """True when *url* is the feed's index URL, with or without a user name before the host (uv's
    index has one) or a slash at its end."""

    def bare(text: str) -> tuple[str, str, str]:
        scheme, _, rest = text.partition("://")
        authority, _, path = rest.partition("/")
        return scheme.lower(), authority.rpartition("@")[2].lower(), path.rstrip("/")

    return isinstance(url, str) and bare(url) == bare(index)


def _check_toml(text: str, path: Path, by_hand: str, *, merged: bool = False) -> dict[str, Any] | None:
    """The document in *text*: refuse to touch a file that is not TOML, or to leave one that is
    not. Python 3.10 has no TOML parser of its own: there the ``tomli`` backport is used when it
    is installed, and the merge goes ahead unchecked (None) when it is not."""
    parser = _toml_parser()
    if parser is None:
        return None
    try:
        document: dict[str, Any] = parser.loads(text)
    except parser.TOMLDecodeError as exc:
        if merged:
            raise would_break(path, str(exc), by_hand) from None
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix it, or {by_hand}") from None
    return document


def _toml_parser() -> Any:  # noqa: ANN401 - tomllib, or the same module as tomli
    """tomllib, or on Python 3.10 the tomli backport it came from (None when that is not installed)."""
    return _TOML


def _uv_index(index: str, name: str = INDEX_NAME) -> str:
    # A user name in the URL makes uv ask keyring before its first request (any name works).
    with_user = index.replace("https://", "https://VssSessionToken@", 1)
    return f"[[index]]\nname = {_toml_string(name)}\nurl = {_toml_string(with_user)}\n"


def _poetry_source(index: str, name: str = INDEX_NAME) -> str:
    return f'[[tool.poetry.source]]\nname = {_toml_string(name)}\nurl = {_toml_string(index)}\npriority = "primary"\n'


def _toml_string(value: str) -> str:
    """*value* as a TOML basic string: a quote, a backslash or a control character in it is
    escaped, so it can neither end the string early nor start another line."""
    escaped = []
    for character in value:
        if character in '"\\':
            escaped.append("\\" + character)
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            escaped.append(f"\\u{ord(character):04X}")
        else:
            escaped.append(character)
    return '"' + "".join(escaped) + '"'


def _free_name(names: set[str]) -> str:
    """``ado``, or ``ado-2``... when the file already has an index of that name (in any case)."""
    taken = {name.lower() for name in names}
    name, number = INDEX_NAME, 1
    while name in taken:
        number += 1
        name = f"{INDEX_NAME}-{number}"
    return name
