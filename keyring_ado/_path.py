"""Finding a helper program (az, azd) on PATH the safe way: absolute entries only, never the
current directory. Kept apart from :mod:`keyring_ado._process` so that a lookup answered from the
token cache, which only checks that az exists, imports no subprocess machinery.

Every function takes the platform as an argument, so Windows rules are tested on any system."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def which(
    name: str,
    search_path: str,
    *,
    platform: str = sys.platform,
    pathext: str = "",
    is_file: Callable[[str], bool] | None = None,
) -> str | None:
    """The first *name* on *search_path* that is an executable file, or None.

    Unlike :func:`shutil.which`, never the current directory and never a relative PATH entry
    (``.``, ``bin``, an empty entry): on Windows ``shutil.which`` looks in the current directory
    first, so a cloned repository carrying ``az.cmd`` would run at ``pip install``. On Windows the
    extensions of ``PATHEXT`` are tried (``.COM;.EXE;.BAT;.CMD`` when it is unset), each directory
    in turn, so ``az.cmd`` is found and the extensionless ``az`` (a shell script for Git Bash,
    beside it in Azure CLI's ``wbin``) never is. *is_file* says whether a path is an executable
    file (by default, asked of this system; a Windows PATH judged elsewhere names no file here)."""
    windows = platform == "win32"
    separator = ";" if windows else ":"
    candidates = candidate_names(name, platform=platform, pathext=pathext)
    check = is_file or (lambda path: _executable_file(path, windows=windows))
    for raw in search_path.split(separator):
        entry = raw.strip().strip('"') if windows else raw
        if not absolute_entry(entry, platform=platform):
            continue
        for candidate in candidates:
            path = entry.rstrip("\\/" if windows else "/") + ("\\" if windows else "/") + candidate
            if check(path):
                return path
    return None


def candidate_names(name: str, *, platform: str, pathext: str = "") -> list[str]:
    """The file names *name* may have: on Windows with each ``PATHEXT`` extension, in its order."""
    if platform != "win32" or "." in name:
        return [name]
    return [name + ext.strip().lower() for ext in (pathext or ".COM;.EXE;.BAT;.CMD").split(";") if ext.strip()]


def absolute_entry(entry: str, *, platform: str) -> bool:
    """True for a path (a PATH entry, ``LOCALAPPDATA``) that means the same directory whatever the
    current directory and drive: on Windows ``C:\\dir`` or ``\\\\server\\share\\dir`` (either slash),
    never ``dir``, ``.``, ``\\dir`` (relative to the current drive), ``C:dir`` (relative to drive C's
    current directory), ``\\\\server`` without a share, or ``""``; elsewhere ``/dir``.

    Spelled out rather than :func:`ntpath.isabs`, whose answer for ``\\dir`` changed in Python
    3.13 and which takes ``\\\\server`` alone for absolute."""
    if platform != "win32":
        return entry.startswith("/")
    normal = entry.replace("/", "\\")
    if normal.startswith("\\\\"):
        server, _, rest = normal[2:].partition("\\")
        return bool(server) and bool(rest.partition("\\")[0])
    return len(normal) >= 3 and normal[0].isascii() and normal[0].isalpha() and normal[1:3] == ":\\"


def _executable_file(path: str, *, windows: bool) -> bool:
    if windows and sys.platform != "win32":
        return False  # a Windows PATH judged on another system names no file here
    return os.path.isfile(path) and (windows or os.access(path, os.X_OK))
