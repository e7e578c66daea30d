"""Masking for any text that came from outside (az output, server replies) before we quote it."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

_MASK = "***"
_MAX_QUOTE = 300


@functools.cache  # compiled on the first quote, not on every lookup that imports this module
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    return (
        # The value of any JSON or form field named like a secret, whatever its shape: az printing
        # half a JSON document on failure, an OAuth error that echoes a refresh token.
        # The whole value, however it is quoted, escaped, bracketed or spaced: everything up to the
        # next field (`, "name":` or `&name=`) or the end of the line.
        re.compile(
            r"""(?im)((?:access_?token|refresh_?token|id_?token|token|secret|password|client_?secret)"""
            r"""[\\"']*\s*[:=])(.+?)(?=,\s*[\\"']*[A-Za-z_]+[\\"']*\s*:|&[A-Za-z_]+=|$)"""
        ),
        # JWTs (Entra and session tokens), then long opaque runs such as PATs (52 or 84 characters);
        # the second leaves hyphens out so that GUIDs (tenants, feeds) stay readable.
        re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*\.?[A-Za-z0-9_\-]*"),
        re.compile(r"(?<![A-Za-z0-9+/_])[A-Za-z0-9+/_]{32,}={0,2}"),
        # C0 and C1 control characters (ESC starts the sequences that retitle a window, clear the
        # screen or write the clipboard); newlines are kept for splitting, then dropped with the rest.
        re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]"),
    )


def strip_controls(text: str) -> str:
    """*text* without control characters, so that text from elsewhere cannot drive a terminal."""
    return _patterns()[3].sub("", text)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Return *text* with every known secret and anything token-shaped replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
    field, jwt, opaque, _ = _patterns()
    text = field.sub(lambda match: match.group(1) + " " + _MASK, text)
    text = opaque.sub(_MASK, jwt.sub(_MASK, text))
    return strip_controls(text)


def first_line(text: str, prefer: str | None = None) -> str:
    """The first non-empty line of *text* (the first one containing *prefer*, when there is one),
    at most 300 characters: the part of a library's error worth quoting."""
    lines = [line.strip() for line in strip_controls(text).splitlines() if line.strip()]
    chosen = [line for line in lines if prefer in line] if prefer else []
    return ((chosen or lines or ["no detail"])[0])[:_MAX_QUOTE]


def quote_output(text: str, secrets: Iterable[str | None] = ()) -> str:
    """A short, single-line, redacted excerpt of a program's output, for an error message."""
    lines = [line.strip() for line in redact(text, secrets).splitlines() if line.strip()]
    excerpt = " | ".join(lines)
    if len(excerpt) > _MAX_QUOTE:
        excerpt = excerpt[: _MAX_QUOTE - 3] + "..."
    return excerpt or "(no output)"


def without_userinfo(text: str) -> str:
    """*text* (a URL a person typed, ours or not, well formed or not) with anything that may be user
    info replaced by ``***``: safe to print, since people put PATs there. Everything between the
    scheme and its slashes (``https://``, ``https:/``, ``//``, or nothing) and the last ``@`` goes."""
    at = text.rfind("@")
    if at < 0:
        return text
    lead = re.match(r"(?:[A-Za-z][A-Za-z0-9+.-]*:(?=[/\\]))?[/\\]*", text)  # a scheme only before a slash
    start = lead.end() if lead else 0
    return text[:start] + "***@" + text[at + 1 :] if at >= start else text
