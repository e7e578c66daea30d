"""keyring-ado: Azure DevOps Artifacts credentials for pip, uv, Poetry, twine, pdm and hatch, through keyring."""

from __future__ import annotations

from ._version import __version__

__all__ = ["__version__"]
