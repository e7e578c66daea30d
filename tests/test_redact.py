"""Masking of text that came from outside before it is quoted in a message."""

from __future__ import annotations

from keyring_ado._redact import first_line, quote_output, redact
from tests.fakes.az import jwt


def test_jwts_and_long_opaque_runs_are_masked() -> None:
    """Entra tokens and PAT-shaped runs are replaced; GUIDs and words stay readable."""
    token = jwt()
    pat = "a" * 52
    text = f"ERROR: AADSTS50076 for tenant 72f988bf-86f1-41af-91ab-2d7cd011db47: {token} {pat}"
    masked = redact(text)
    assert token not in masked
    assert pat not in masked
    assert "72f988bf-86f1-41af-91ab-2d7cd011db47" in masked
    assert masked.startswith("ERROR: AADSTS50076 for tenant")


def test_known_secrets_are_masked_even_when_short() -> None:
    """A secret the caller knows is masked whatever its shape."""
    assert redact("password is hunter2", ["hunter2"]) == "password is ***"


def test_quote_is_one_short_line() -> None:
    """Program output becomes one line, bounded, and says so when empty."""
    assert quote_output("line one\n\n  line two  \n") == "line one | line two"
    assert len(quote_output("word " * 500)) == 300
    assert quote_output("") == "(no output)"


def test_first_line_prefers_the_entra_code() -> None:
    """Library errors are quoted by their first line, or their AADSTS line when asked."""
    text = "\nClientSecretCredential authentication failed\n  AADSTS7000215: Invalid client secret.\n"
    assert first_line(text) == "ClientSecretCredential authentication failed"
    assert first_line(text, prefer="AADSTS") == "AADSTS7000215: Invalid client secret."
    assert first_line("", prefer="AADSTS") == "no detail"
    assert len(first_line("x" * 500)) == 300
