"""Sphinx configuration for keyring-ado's documentation (MyST Markdown)."""

project = "keyring-ado"
author = "The keyring-ado developers"
copyright = "2026, The keyring-ado developers"

extensions = ["myst_parser", "sphinx_copybutton"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]

# MyST: headings down to ### get anchors, so `[text](page.md#anchor)` resolves; a link to a missing
# page or anchor is a `myst.xref_missing` warning, which `-W` turns into a failed build.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Furo follows the reader's light or dark preference and has a toggle; no logo, the title is the name.
html_theme = "furo"
html_title = "keyring-ado"

# Copy buttons copy the command, not the prompt: `$ `, `>>> `, `... ` and `PS> ` are stripped, and in a
# block with prompts only the prompted lines are copied (its output lines are left out). A block
# without prompts, as the docs' console blocks are, is copied whole.
copybutton_prompt_text = r"\$ |>>> |\.\.\. |PS> "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
