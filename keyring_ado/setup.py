"""The client configuration that makes pip, uv or Poetry use keyring for a feed: never a secret.

``snippet`` is what ``keyring-ado setup CLIENT URL`` prints; ``write`` merges it into the client's
own file, keeping everything already there (an existing index stays, the feed is added beside it).
"""

from __future__ import annotations

import configparser
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

INDEX_NAME = "ado"


def index_url(url: str) -> str:
    """The feed's ``.../pypi/simple/`` URL, without user info, whatever URL of the feed was given."""
    from .feeds import request_url  # noqa: PLC0415

    clean = request_url(url) or url
    base, marker, _ = clean.partition("/pypi/")
    return f"{base}/pypi/simple/" if marker else f"{clean.rstrip('/')}/"


def snippet(client: str, index: str) -> str:
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


def config_path(client: str, environ: Mapping[str, str], project: Path) -> Path:
    """The user-level configuration file of pip or uv, or the Poetry project's pyproject.toml."""
    if client == "poetry":
        return project / "pyproject.toml"
    name = "pip.ini" if client == "pip" and sys.platform == "win32" else ("pip.conf" if client == "pip" else "uv.toml")
    if sys.platform == "win32":
        base = Path(environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin" and client == "pip":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / client / name


class ConfigError(Exception):
    """The client's file cannot be merged into; the message says which file, why, and what to do."""


def write(client: str, index: str, path: Path) -> bool:
    """Merge the configuration into *path*; False when it was already there. Nothing is written
    when the file cannot be read, parsed or written (:class:`ConfigError`)."""
    by_hand = f"add what `keyring-ado setup {client} URL` prints by hand"
    from ._jsonfile import special_file  # noqa: PLC0415

    try:
        if special_file(path):
            raise ConfigError(f"{path} is not a regular file, so it is left alone; {by_hand}")
        if client == "pip":
            return _write_pip(index, path, by_hand)
        return _write_toml(client, index, path, by_hand)
    except OSError as exc:
        raise ConfigError(f"cannot update {path}: {exc.strerror or exc}; fix that, or {by_hand}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; fix it, or {by_hand}") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to read; fix it, or {by_hand}") from None


def _write_toml(client: str, index: str, path: Path, by_hand: str) -> bool:
    if client == "poetry" and not path.exists():
        raise ConfigError(f"no {path}; run this in your Poetry project or pass --project")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    _check_toml(text, path, by_hand)
    if index.partition("://")[2].rstrip("/") in text:  # with or without a user name before the host
        return False
    if client == "uv":
        if not re.search(r"(?m)^keyring-provider\s*=", text):
            text = 'keyring-provider = "subprocess"\n' + ("\n" if text else "") + text
        text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + _uv_index(index, _free_name(text, "index"))
    else:
        text = text.rstrip("\n") + "\n\n" + _poetry_source(index, _free_name(text, "tool.poetry.source"))
    _check_toml(text, path, by_hand, merged=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def _check_toml(text: str, path: Path, by_hand: str, *, merged: bool = False) -> None:
    """Refuse to touch a file that is not TOML, or to leave one that is not. Python 3.10 has no
    TOML parser of its own: there the ``tomli`` backport is used when it is installed, and the
    merge goes ahead unchecked when it is not."""
    parser = _toml_parser()
    if parser is None:
        return
    try:
        parser.loads(text)
    except parser.TOMLDecodeError as exc:
        if merged:
            raise ConfigError(f"adding the feed would leave {path} invalid ({exc}); {by_hand}") from None
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix it, or {by_hand}") from None


def _toml_parser() -> Any:  # noqa: ANN401 - tomllib, or the same module as tomli
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415

        return tomllib
    try:
        import tomli  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415
    except ImportError:
        return None
    return tomli


def _write_pip(index: str, path: Path, by_hand: str) -> bool:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0]
        raise ConfigError(f"{path} is not a valid pip configuration file ({reason}); fix it, or {by_hand}") from None
    if not parser.has_section("global"):
        parser.add_section("global")
    section = parser["global"]
    changed = False
    existing = section.get("index-url")
    extras = section.get("extra-index-url", "").split()
    if existing is None:
        section["index-url"] = index
        changed = True
    elif existing.rstrip("/") != index.rstrip("/") and index not in extras:
        section["extra-index-url"] = " ".join([*extras, index])  # keep their index, add the feed beside it
        changed = True
    if "keyring-provider" not in section:
        section["keyring-provider"] = "import"
        changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as stream:
            parser.write(stream)
    return changed


def _uv_index(index: str, name: str = INDEX_NAME) -> str:
    # A user name in the URL makes uv ask keyring before its first request (any name works).
    with_user = index.replace("https://", "https://VssSessionToken@", 1)
    return f'[[index]]\nname = "{name}"\nurl = "{with_user}"\n'


def _poetry_source(index: str, name: str = INDEX_NAME) -> str:
    return f'[[tool.poetry.source]]\nname = "{name}"\nurl = "{index}"\npriority = "primary"\n'


def _free_name(text: str, table: str) -> str:
    """``ado``, or ``ado-2``... when the file already has an index of that name."""
    names = set(re.findall(r'(?m)^name\s*=\s*"([^"]+)"', text)) if f"[[{table}]]" in text else set()
    name, number = INDEX_NAME, 1
    while name in names:
        number += 1
        name = f"{INDEX_NAME}-{number}"
    return name
