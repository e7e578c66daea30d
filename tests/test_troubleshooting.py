"""Every message keyring-ado can show a user has an entry in docs/troubleshooting.md.

The messages are found in the source, not listed by hand: the text of every ``SourceFailed`` and
``SourceUnavailable``, every warning, every settings problem, every reason a source gives in an
``Attempt``, every command-line error, and the strings that finish a message (the next step, why a
sign-in cannot prompt). Each literal piece of twelve characters or more must appear, word for word,
on the page, so an entry quotes the message as it is shown.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "troubleshooting.md"
MESSAGE_CALLS = {
    "SourceFailed",
    "SourceUnavailable",
    "ProcessTimeout",
    "warning",
    "SystemExit",
    "problem",
    "_error",
    "ConfigError",
}
MESSAGE_FUNCTIONS = {"_why_not_interactive", "next_step"}
PLACEHOLDER = "\0"


def _text(node: ast.expr) -> str | None:
    """The message a string expression builds, with a placeholder for each computed part."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER for v in node.values)  # type: ignore[misc]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return (_text(node.left) or PLACEHOLDER) + (_text(node.right) or PLACEHOLDER)
    return None


def _messages() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "keyring_ado").rglob("*.py")):
        tree = ast.parse(path.read_text())
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                argument = node.args[2] if name == "Attempt" and len(node.args) > 2 else node.args[0]
                if name in MESSAGE_CALLS or (name == "Attempt" and len(node.args) > 2):
                    text = _text(argument)
                    if text:
                        found.append((f"{where}:{node.lineno}", text))
            elif isinstance(node, ast.FunctionDef) and node.name in MESSAGE_FUNCTIONS:
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Return) and inner.value is not None:
                        text = _text(inner.value)
                        if text:
                            found.append((f"{where}:{inner.lineno}", text))
    return found


def _pieces(message: str) -> list[str]:
    parts = re.split(f"{PLACEHOLDER}|%s|%r|%g", message)
    return [p.strip(" ;:,.()") for p in parts if len(p.strip(" ;:,.()")) >= 12]


MESSAGES = _messages()


def test_the_messages_are_found() -> None:
    """The scan sees the messages it is meant to (a scan that finds nothing proves nothing)."""
    assert len(MESSAGES) > 60
    texts = " | ".join(text for _, text in MESSAGES)
    assert "az is not logged in" in texts
    assert "no credential for" in texts


@pytest.mark.parametrize(("where", "message"), MESSAGES, ids=[where for where, _ in MESSAGES])
def test_message_has_an_entry(where: str, message: str) -> None:
    page = PAGE.read_text()
    missing = [piece for piece in _pieces(message) if piece not in page]
    assert not missing, f"{where}: docs/troubleshooting.md does not quote {missing} (message: {message!r})"
