"""Masking of text that came from outside before it is quoted in a message."""

from __future__ import annotations

import pytest

from keyring_ado._redact import first_line, quote_output, redact, without_userinfo
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


def test_a_secret_field_keeps_its_name_and_loses_its_value_exactly() -> None:
    """Half a JSON document or a form: the field's name stays (it says what was there), one space,
    the mask; nothing of the value. Found by mutation testing (the shape was never asserted)."""
    assert redact('{"accessToken": "short-1", "tenant": "t"}') == '{"accessToken": ***, "tenant": "t"}'
    assert redact("grant_type=x&refresh_token=abc&scope=y") == "grant_type=x&refresh_token= ***&scope=y"


def test_a_quote_masks_the_known_secrets_it_is_given() -> None:
    """A short secret az echoed (no token shape to find it by) is masked by value."""
    assert quote_output("line one\nlogin with p4ss-w0rd failed", ["p4ss-w0rd"]) == "line one | login with *** failed"


def test_a_quote_of_exactly_the_limit_is_kept_whole() -> None:
    assert quote_output("x " * 149 + "yz") == "x " * 149 + "yz"
    assert quote_output("x " * 149 + "yz!").endswith("...")


def test_control_characters_are_removed_not_replaced() -> None:
    assert redact("a\x1b[2Jb\x9bc\x07d") == "a[2Jbcd"


@pytest.mark.parametrize(
    ("typed", "printed"),
    [
        (
            "https://pkgs.dev.azure.com/org/_packaging/f/pypi/simple/",
            "https://pkgs.dev.azure.com/org/_packaging/f/pypi/simple/",
        ),
        ("https://me:pat@pkgs.dev.azure.com/org/", "https://***@pkgs.dev.azure.com/org/"),
        ("https:/me:pat@pkgs.dev.azure.com/org/", "https:/***@pkgs.dev.azure.com/org/"),
        ("https:\\\\me:pat@pkgs.dev.azure.com/org/", "https:\\\\***@pkgs.dev.azure.com/org/"),
        ("//me:pat@pkgs.dev.azure.com/org/", "//***@pkgs.dev.azure.com/org/"),
        ("me:pat@pkgs.dev.azure.com/org/", "***@pkgs.dev.azure.com/org/"),
        ("https://a@b:pat@pkgs.dev.azure.com/org/", "https://***@pkgs.dev.azure.com/org/"),
        ("HTTPS://me@pkgs.dev.azure.com/", "HTTPS://***@pkgs.dev.azure.com/"),
        ("git+https://me@pkgs.dev.azure.com/", "git+https://***@pkgs.dev.azure.com/"),
        ("1https://me@pkgs.dev.azure.com/", "***@pkgs.dev.azure.com/"),
        ("mailto:me@example.com", "***@example.com"),
        ("https://pkgs.dev.azure.com/org/x@y", "https://***@y"),
        ("@", "***@"),
        ("", ""),
    ],
)
def test_without_userinfo_masks_everything_that_may_be_user_info(typed: str, printed: str) -> None:
    """What the CLI prints of a URL a person typed: exactly this (mutation testing found the
    function checked only by subprocess tests it could not see)."""
    assert without_userinfo(typed) == printed
