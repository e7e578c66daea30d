"""Finding a helper program (az, azd) on PATH the safe way: absolute entries only, never the
current directory. Kept apart from :mod:`keyring_ado._process` so that a lookup answered from the
token cache, which only checks that az exists, imports no subprocess machinery."""

from __future__ import annotations

import os
import sys


def which(name: str, search_path: str, *, platform: str = sys.platform, pathext: str = "") -> str | None:
    """The first *name* on *search_path* that is an executable file, or None.

    Unlike :func:`shutil.which`, never the current directory and never a relative PATH entry
    (``.``, ``bin``, an empty entry): on Windows ``shutil.which`` looks in the current directory
    first, so a cloned repository carrying ``az.cmd`` would run at ``pip install``. On Windows the
    extensions of ``PATHEXT`` are tried (``.COM;.EXE;.BAT;.CMD`` when it is unset)."""
    windows = platform == "win32"
    separator = ";" if windows else ":"
    candidates = candidate_names(name, platform=platform, pathext=pathext)
    for raw in search_path.split(separator):
        entry = raw.strip().strip('"') if windows else raw
        if not _absolute(entry, windows=windows):
            continue
        for candidate in candidates:
            path = (entry.rstrip("\\/") + ("\\" if windows else "/") + candidate) if entry else candidate
            if _executable_file(path, windows=windows):
                return path
    return None


def candidate_names(name: str, *, platform: str, pathext: str = "") -> list[str]:
    """The file names *name* may have: on Windows with each ``PATHEXT`` extension, in its order."""
    if platform != "win32" or "." in name:
        return [name]
    return [name + ext.lower() for ext in (pathext or ".COM;.EXE;.BAT;.CMD").split(";") if ext.strip()]


def absolute_entry(entry: str, *, platform: str) -> bool:
    """True for a PATH entry that names a directory regardless of the current directory."""
    return _absolute(entry, windows=platform == "win32")


def _absolute(entry: str, *, windows: bool) -> bool:
    if windows:  # C:\dir or \\server\share; never "dir", ".", "\dir" (relative to the drive) or ""
        return (len(entry) >= 3 and entry[0].isalpha() and entry[1] == ":" and entry[2] in "\\/") or entry.startswith(
            "\\\\"
        )
    return entry.startswith("/")


def _executable_file(path: str, *, windows: bool) -> bool:
    if windows and sys.platform != "win32":
        return False  # a Windows PATH judged on another system (tests) names no file here
    return os.path.isfile(path) and (windows or os.access(path, os.X_OK))
