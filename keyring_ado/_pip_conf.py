"""Editing pip's configuration file as pip reads it: the feed and the keyring provider go into
``[global]``, every other line stays as it was, and the result must mean what the file meant
plus the feed, or nothing is written."""

from __future__ import annotations

import configparser
import io
import re
from collections.abc import Mapping
from pathlib import Path


class ConfigError(Exception):
    """The client's file cannot be merged into; the message says which file, why, and what to do."""


def would_break(path: Path, reason: str, by_hand: str) -> ConfigError:
    return ConfigError(f"adding the feed would leave {path} invalid ({reason}); {by_hand}")


def merge_pip(text: str, index: str, path: Path, by_hand: str) -> str | None:
    """*text* with the feed and the provider in ``[global]``, or None when they are there.

    pip reads the file with :mod:`configparser`, as :func:`_read_ini` does; that decides what the
    file means (an existing ``index-url`` stays, the feed goes into ``extra-index-url`` beside it).
    pip takes ``[DEFAULT]``'s settings only through the file's sections (alone, they mean nothing
    to it), so a new ``[global]`` would make them apply to every command: such a file is refused
    unless the feed's own lines set all of them anew. The lines are then edited in place: a value
    grows at its end, new keys go after the last line of ``[global]`` (a new ``[global]`` at the
    end of the file). The result is read back and must mean what the file meant plus the feed, or
    nothing is written.
    """
    before = _read_ini(text, path, f"{path} is not a valid pip configuration file", f"fix it, or {by_hand}")
    settings = dict(before["global"]) if before.has_section("global") else {}
    changes: dict[str, str] = {}
    existing = settings.get("index-url")
    urls = settings.get("extra-index-url", "").split()
    if existing is None:
        changes["index-url"] = index
    elif existing.rstrip("/") != index.rstrip("/") and index not in urls:
        changes["extra-index-url"] = " ".join([*urls, index])
    if "keyring-provider" not in settings:
        changes["keyring-provider"] = "import"
    if not changes:
        return None
    if not before.has_section("global") and before.defaults().keys() - changes.keys():
        raise ConfigError(
            f"{path} has a [DEFAULT] section and no [global], and pip would apply [DEFAULT]'s settings to every "
            f"command once [global] is added; move them into the section they are meant for, or {by_hand}"
        )
    merged = _edit_global(text, changes, index)
    after = _read_ini(merged, path, f"adding the feed would leave {path} invalid", by_hand)
    expected = _ini_meaning(before)
    expected["global"] = _section_meaning({**settings, **changes})
    if _ini_meaning(after) != expected:
        raise would_break(path, "its other settings would read differently", by_hand)
    return merged


class _PipParser(configparser.RawConfigParser):
    """The parser pip reads its configuration files with: ``Index_URL`` and ``--index-url`` are
    ``index-url`` (two spellings of one key in a section are an error, as in pip)."""

    def optionxform(self, optionstr: str) -> str:
        return _pip_name(optionstr)


def _read_ini(text: str, path: Path, problem: str, then: str) -> configparser.RawConfigParser:
    """*text* read as pip reads its configuration files (lines split at any line ending)."""
    parser = _PipParser()
    try:
        parser.read_file(io.StringIO(text, newline=None), source=str(path))
    except configparser.Error as exc:
        raise ConfigError(f"{problem} ({str(exc).splitlines()[0]}); {then}") from None
    return parser


def _ini_meaning(parser: configparser.RawConfigParser) -> dict[str, dict[str, str]]:
    meaning = {name: _section_meaning(parser[name]) for name in parser.sections()}
    meaning[parser.default_section] = _section_meaning(parser.defaults())
    return meaning


def _section_meaning(settings: Mapping[str, str]) -> dict[str, str]:
    """The settings as pip takes them: ``extra-index-url`` is a list, however its URLs are spaced."""
    return {key: " ".join(value.split()) if key == "extra-index-url" else value for key, value in settings.items()}


def _pip_name(key: str) -> str:
    """The name pip reads a key as: ``Index_URL`` and ``--index-url`` are ``index-url``."""
    return key.lower().replace("_", "-").removeprefix("--")


def _edit_global(text: str, changes: Mapping[str, str], index: str) -> str:
    """*text* with *changes* made to its ``[global]`` section, every other line kept as it is.

    An ``extra-index-url`` already in the section gets *index* after its last value (on a line
    of its own when the value spans lines); any other change is a new ``key = value`` line. The
    lines are read the way :mod:`configparser` reads them: a line indented deeper than the key
    before it continues that key's value, blank and comment lines end nothing.
    """
    lines = io.StringIO(text, newline="").readlines()
    newline = newline_of(text)
    header, last, values = _global_layout(lines)
    added = "".join(f"{key} = {value}{newline}" for key, value in changes.items() if key not in values)
    for key in changes.keys() & values.keys():  # only extra-index-url is ever there already
        first, final = values[key]
        if final == first:
            lines[final] = lines[final].rstrip() + f" {index}{newline}"
        else:
            indent = lines[final][: len(lines[final]) - len(lines[final].lstrip())]
            lines[final] = _ended(lines[final], newline) + f"{indent}{index}{newline}"
    if header is None:
        ending = [_ended(lines.pop(), newline)] if lines else []
        blank = newline if ending and ending[0].strip() else ""
        return "".join([*lines, *ending, blank, f"[global]{newline}", added])
    if added:
        lines[last] = _ended(lines[last], newline) + added
    return "".join(lines)


def _ended(line: str, newline: str) -> str:
    """*line* with a line ending (the last line of a file may have none)."""
    return line if line.endswith(("\n", "\r")) else line + newline


def _global_layout(lines: list[str]) -> tuple[int | None, int, dict[str, tuple[int, int]]]:
    """Where ``[global]`` is: its header line, its last line that is not blank or a comment, and
    for each of its keys the first and last line of its value."""
    header: int | None = None
    last = 0
    values: dict[str, tuple[int, int]] = {}
    section: str | None = None
    option: str | None = None
    indent = 0
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        depth = len(line) - len(line.lstrip())
        if option is not None and depth > indent:  # the value goes on
            if section == "global":
                values[option] = (values[option][0], number)
                last = number
            continue
        indent = depth
        found = configparser.ConfigParser.SECTCRE.match(stripped)
        if found:
            section, option = found.group("header"), None
            if section == "global":
                header = last = number
            continue
        found = configparser.ConfigParser.OPTCRE.match(stripped)
        option = _pip_name(found.group("option").rstrip()) if found else None
        if section == "global" and option is not None:
            values[option] = (number, number)
            last = number
    return header, last, values


def newline_of(text: str) -> str:
    """The line ending the file uses (its first one), so added lines match it."""
    found = re.search(r"\r\n|\r|\n", text)
    return found.group() if found else "\n"
