"""keyring-ado: Azure DevOps Artifacts credentials for pip, uv, Poetry, twine, pdm and hatch, through keyring."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from ._version import __version__  # noqa: PLC0415 - keyring imports the package for every lookup on the machine

        return __version__
    raise AttributeError(name)
