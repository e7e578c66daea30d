"""Sphinx configuration for keyring-ado's documentation (MyST Markdown)."""

project = "keyring-ado"
author = "The keyring-ado developers"
copyright = "2026, The keyring-ado developers"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = "keyring-ado"
