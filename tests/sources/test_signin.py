"""Our own sign-in against the fake Entra ID: the device code, the browser, the broker, and the
refusals. Where the sign-in is kept is tested in test_signin_storage.py."""

from __future__ import annotations

import io
import json
import stat
import sys
import threading
import time
import uuid
import webbrowser
from collections.abc import Callable
from pathlib import Path

import pytest

from keyring_ado.discovery import Authority
from keyring_ado.errors import SourceFailed, SourceUnavailable
from keyring_ado.settings import DEFAULT_SIGNIN_CLIENT_ID
from keyring_ado.sources import _interactive, _msal, signin
from keyring_ado.sources._entra import Entra
from keyring_ado.sources.base import Identity, Request
from keyring_ado.sources.signin import SignInSource
from tests.conftest import AdoWorld
from tests.fakes import entra
from tests.fakes.artifacts import TENANT
from tests.helpers import feed
from tests.sources.signin_helpers import configured, from_environment, lookup

FAKE_BROWSER = Path(__file__).resolve().parent.parent / "fakes" / "browser.py"


def device_code_answer(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, change: Callable[[dict[str, object]], dict[str, object]]
) -> None:
    """The fake Entra's device-code answer, changed by *change*: forged, odd or escape-laden."""
    original = routed.entra._devicecode

    def changed(tenant: str, form: dict[str, str]) -> object:
        status, headers, body = original(tenant, form)
        return status, headers, json.dumps(change(json.loads(body))).encode()

    monkeypatch.setattr(routed.entra, "_devicecode", changed)


def browser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str) -> None:
    monkeypatch.setenv("BROWSER", command)
    monkeypatch.setenv("FAKE_BROWSER_LOG", str(tmp_path / "browser.log"))
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # re-read BROWSER


def fake_browser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **knobs: str) -> Path:
    browser(monkeypatch, tmp_path, f"{sys.executable} {FAKE_BROWSER} %s")
    for name, value in knobs.items():
        monkeypatch.setenv(name, value)
    return tmp_path / "browser.log"


def test_identity_is_the_application_cloud_and_tenant_without_discovery(terminal: io.StringIO, tmp_path: Path) -> None:
    """What a remembered token is served again to: the Entra host, the client id, the tenant
    override and the directory the sign-in is kept in, told without asking the feed for its tenant,
    with the sign-in's files (a logout elsewhere changes them); unavailable at once when there is
    nowhere to remember a sign-in, or nothing is remembered and no one can answer."""

    def no_discovery(_feed: object) -> Authority:
        raise AssertionError("identity() must not discover the feed's tenant")

    request = Request(feed(), no_discovery)
    source = SignInSource(
        cache_dir=str(tmp_path / "signin"), entra=Entra(f"https://{entra.ENTRA_HOST}/"), tenant=TENANT
    )
    kept = str(tmp_path / "signin")
    files = (f"{kept}/msal-cache.bin", f"{kept}/msal-cache.json")
    assert source.identity(request) == Identity(
        "msal", (entra.ENTRA_HOST, DEFAULT_SIGNIN_CLIENT_ID, TENANT, kept), files=files
    )
    assert SignInSource(cache_dir=str(tmp_path)).identity(request).parts[::2] == ("login.microsoftonline.com", "")
    with pytest.raises(SourceUnavailable, match="KEYRING_ADO_CACHE=off"):
        SignInSource().identity(request)
    with pytest.raises(SourceUnavailable, match="no remembered sign-in, and this is a CI run"):
        SignInSource(cache_dir=str(tmp_path / "signin"), in_ci=True).identity(request)
    assert not (tmp_path / "signin").exists()


def test_device_code_then_remembered(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A device-code sign-in completes after the fake's two pending polls; a new app reuses it silently."""
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True)
    routed.entra.log.clear()
    token = source.get_token(lookup())
    assert routed.entra.valid_for(token.secret, TENANT)
    assert entra.claims_of(token.secret)["upn"] == "alice@contoso.test"
    assert "enter the code" in terminal.getvalue()
    assert terminal.getvalue().endswith("keyring-ado: signed in.\n")
    assert len(routed.entra.grants(entra.DEVICE_CODE_GRANT)) == 3  # two pending, one granted
    cache = tmp_path / "signin" / "msal-cache.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert json.loads(cache.read_text())["RefreshToken"], "the sign-in is kept for later processes"
    terminal.truncate(0)
    again = source.get_token(lookup())  # a new msal app: only the persisted cache
    assert again.source == "sign-in (remembered)"
    assert terminal.getvalue() == ""
    assert len(routed.entra.grants(entra.DEVICE_CODE_GRANT)) == 3


@pytest.mark.parametrize(
    ("environ", "reason"),
    [
        ({"CI": "true"}, "CI run"),
        ({"KEYRING_ADO_NONINTERACTIVE": "1"}, "prompts are turned off"),
        ({"ARTIFACTS_KEYRING_NONINTERACTIVE_MODE": "true"}, "prompts are turned off"),
        ({"PIP_NO_INPUT": "1"}, "prompts are turned off"),
        ({"TWINE_NON_INTERACTIVE": "1"}, "prompts are turned off"),
        ({"POETRY_NO_INTERACTION": "1"}, "prompts are turned off"),
        ({"PDM_NON_INTERACTIVE": "1"}, "prompts are turned off"),
        ({"TEAMCITY_VERSION": "2024.12"}, "CI run"),
        ({"CODEBUILD_BUILD_ID": "proj:1234"}, "CI run"),
        ({"BUILDKITE": "true"}, "CI run"),
        ({"CIRCLECI": "true"}, "CI run"),
        ({"BITBUCKET_BUILD_NUMBER": "17"}, "CI run"),
        ({"JENKINS_HOME": "/var/lib/jenkins"}, "CI run"),
    ],
)
def test_no_prompt_without_a_person(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], reason: str
) -> None:
    """CI and the non-interactive switches: unavailable, nothing shown, no device code asked for."""
    source = from_environment(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", **environ)
    routed.entra.log.clear()
    with pytest.raises(SourceUnavailable, match=reason):
        source.get_token(lookup())
    assert terminal.getvalue() == ""
    assert not [e for e in routed.entra.log if e["path"].endswith("/devicecode")]


def test_no_terminal(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No /dev/tty and no terminal on stderr: unavailable."""
    monkeypatch.setattr(signin, "terminal_reachable", lambda: False)
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True)
    with pytest.raises(SourceUnavailable, match="no terminal"):
        source.get_token(lookup())


def test_timeout_is_bounded(routed: AdoWorld, terminal: io.StringIO, tmp_path: Path) -> None:
    """Nobody completes the sign-in: it gives up after KEYRING_ADO_SIGNIN_TIMEOUT with what to do."""
    routed.entra.polls_before_approval = 1000
    try:
        source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True, timeout=2.0)
        started = time.monotonic()
        with pytest.raises(SourceFailed, match="did not complete within 2 s"):
            source.get_token(lookup())
        took = time.monotonic() - started
    finally:
        routed.entra.polls_before_approval = 2
    assert 2 <= took < 2 + 1 + 3, f"{took:.1f} s: bounded by the timeout, plus at most one poll interval"


def test_expired_access_token_is_refreshed_silently(routed: AdoWorld, terminal: io.StringIO, tmp_path: Path) -> None:
    """A remembered sign-in whose access token is about to expire is refreshed without a prompt."""
    routed.entra.token_lifetime = 120  # msal treats under five minutes left as expired
    try:
        source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True)
        source.get_token(lookup())
        routed.entra.log.clear()
        terminal.truncate(0)
        token = source.get_token(lookup())
    finally:
        routed.entra.token_lifetime = 3599
    assert token.source == "sign-in (remembered)"
    assert len(routed.entra.grants("refresh_token")) == 1
    assert not routed.entra.grants(entra.DEVICE_CODE_GRANT)
    assert terminal.getvalue() == ""


def test_browser_sign_in_with_a_display(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With a display, the sign-in opens the browser (PKCE, loopback redirect), not a device code."""
    log = fake_browser(monkeypatch, tmp_path)
    source = from_environment(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", DISPLAY=":0")
    assert source.display
    routed.entra.log.clear()
    token = source.get_token(lookup())
    assert token.source == "sign-in (browser)"
    assert routed.entra.valid_for(token.secret, TENANT)
    opened = log.read_text()
    assert f"https://{entra.ENTRA_HOST}/{TENANT}/oauth2/v2.0/authorize?" in opened
    assert "code_challenge_method=S256" in opened
    assert len(routed.entra.grants("authorization_code")) == 1
    assert not [e for e in routed.entra.log if e["path"].endswith("/devicecode")]
    (shown,) = terminal.getvalue().splitlines()  # the page, in case no browser opens (issue 14, item 3)
    assert shown.startswith("keyring-ado: opening a browser to sign in; if none opens, open this page")
    assert shown.endswith(opened.strip().partition("?")[2])


@pytest.mark.parametrize(
    ("refusal", "expected"),
    [
        (("authorization_declined", "AADSTS70000: The user declined the sign-in."), "was declined"),
        (("expired_token", "AADSTS70019: Verification code expired."), "code expired before it was used"),
        (
            ("invalid_grant", "AADSTS530033: Access has been blocked by Conditional Access policies."),
            "because of a Conditional Access policy",
        ),
        (("access_denied", "AADSTS50199: For security reasons, user confirmation is required."), "Conditional Access"),
        (("invalid_client", "AADSTS700016: Application not found in the directory."), "AADSTS700016"),
    ],
)
def test_a_refused_device_code_ends_at_once_with_entras_reason(
    routed: AdoWorld, terminal: io.StringIO, tmp_path: Path, refusal: tuple[str, str], expected: str
) -> None:
    """Anything but authorization_pending / slow_down ends the sign-in at once, quoting Entra's code,
    not "did not complete within 180 s" three minutes later (review item 15)."""
    routed.entra.device_refusal = refusal
    try:
        source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True, timeout=60.0)
        started = time.monotonic()
        with pytest.raises(SourceFailed) as failure:
            source.get_token(lookup())
        assert time.monotonic() - started < 10
    finally:
        routed.entra.device_refusal = None
    message = str(failure.value)
    assert expected in message
    assert refusal[1].split(":")[0] in message, "Entra's own code is quoted"
    assert "did not complete within" not in message
    if "Conditional Access" in expected:
        assert "az login" in message
        assert "keyring-ado[broker]" in message


def test_a_secret_quoted_back_by_entra_is_masked(routed: AdoWorld, terminal: io.StringIO, tmp_path: Path) -> None:
    """Entra's refusal is quoted with every secret the configuration holds masked, even one that
    does not look like a token (the masks for token shapes would let it through)."""
    secret = "correct-horse-battery"
    routed.entra.device_refusal = ("invalid_client", f"AADSTS700016: Application {secret} not found.")
    try:
        source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True, secrets=(secret,))
        with pytest.raises(SourceFailed) as failure:
            source.get_token(lookup())
    finally:
        routed.entra.device_refusal = None
    assert "AADSTS700016: Application *** not found." in str(failure.value)
    assert secret not in str(failure.value)


def test_a_secret_in_msals_error_is_masked(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """msal's own error (here: Entra ID refused the authority, which msal quotes) is quoted in one
    line with every secret the configuration holds masked."""
    secret = "correct-horse-battery"
    refused = json.dumps({"error": "invalid_tenant", "error_description": "AADSTS90002: no such tenant"}).encode()
    monkeypatch.setattr(routed.entra, "_openid", lambda host, tenant: (400, [], refused))
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True, secrets=(secret,))
    with pytest.raises(SourceFailed) as failure:
        source.get_token(Request(feed(), lambda _feed: Authority(secret, entra.ENTRA_HOST)))
    said = str(failure.value)
    assert said.startswith(f"could not reach Entra ID (https://{entra.ENTRA_HOST}): Unable to get authority")
    assert f"{entra.ENTRA_HOST}/***" in said
    assert secret not in said


ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZWNobyBwd25lZA==\x07\x9b31m"


def test_text_from_entra_cannot_drive_the_terminal(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An escape-laden device-code message (window title, clear screen, OSC 52 clipboard) never
    reaches the terminal: only the checked URI and code are shown (issue 14, item 6)."""
    device_code_answer(routed, monkeypatch, lambda answer: {**answer, "message": ESCAPES + str(answer["message"])})
    configured(routed, tmp_path / "signin", allow_unencrypted_cache=True).get_token(lookup())
    shown = terminal.getvalue()
    assert "https://microsoft.com/devicelogin" in shown
    assert "enter the code" in shown
    assert not any(ch in shown for ch in "\x1b\x07\x9b")


@pytest.mark.parametrize(
    "field",
    [
        {"verification_uri": "https://evil.example/devicelogin"},
        {"verification_uri": "http://microsoft.com/devicelogin"},
        {"user_code": "ABC\x1b[2JDEF"},
        {"user_code": "x" * 40},
    ],
)
def test_a_device_code_prompt_that_is_not_entras_is_refused(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, field: dict[str, str]
) -> None:
    """A verification URI off Microsoft's hosts or over http, or a code that is not a short word: nothing shown."""
    device_code_answer(routed, monkeypatch, lambda answer: {**answer, **field})
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True)
    with pytest.raises(SourceFailed, match="does not look like its own"):
        source.get_token(lookup())
    assert terminal.getvalue() == ""


@pytest.mark.parametrize(
    "uri", ["https://evil.example\\@microsoft.com/devicelogin", "https://evil.example@microsoft.com/devicelogin"]
)
def test_a_device_code_page_with_user_info_is_refused(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, uri: str
) -> None:
    """urllib reads microsoft.com as the host of these; a browser goes to evil.example."""
    device_code_answer(routed, monkeypatch, lambda answer: {**answer, "verification_uri": uri})
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True)
    with pytest.raises(SourceFailed, match="does not look like its own"):
        source.get_token(lookup())
    assert terminal.getvalue() == ""


def test_quoted_remote_text_loses_its_control_characters() -> None:
    """Entra error descriptions and issuer bodies are quoted without C0/C1 controls."""
    from keyring_ado._redact import first_line, quote_output, redact

    for quoted in (first_line(ESCAPES + "AADSTS50076: MFA"), quote_output(ESCAPES + "bad"), redact(ESCAPES)):
        assert not any(ch in quoted for ch in "\x1b\x07\x9b"), repr(quoted)


def test_the_sign_in_is_azure_artifacts_own_application(
    routed: AdoWorld, terminal: io.StringIO, tmp_path: Path
) -> None:
    """The default client id is pinned (Azure Artifacts' public client), and the fake Entra knows
    only the applications registered in it: a random id would be refused, so this cannot drift."""
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True)
    routed.entra.log.clear()
    source.get_token(lookup())
    started = [e for e in routed.entra.log if e["path"].endswith("/devicecode")]
    assert [e["client_id"] for e in started] == ["d5a56ea4-7369-46b8-a538-c370805301bf"]
    assert {e["client_id"] for e in routed.entra.grants(entra.DEVICE_CODE_GRANT)} == {started[0]["client_id"]}


def test_keyring_ado_client_id_is_honoured(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KEYRING_ADO_CLIENT_ID: your organisation's own registration signs in; an unregistered one is
    refused by Entra with AADSTS700016, quoted."""
    ours = str(uuid.uuid4())
    routed.entra.public_clients.add(ours)
    source = from_environment(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", KEYRING_ADO_CLIENT_ID=ours)
    routed.entra.log.clear()
    token = source.get_token(lookup())
    assert entra.claims_of(token.secret)["appid"] == ours
    assert {e["client_id"] for e in routed.entra.log if "client_id" in e} == {ours}
    stranger = str(uuid.uuid4())
    other = str(Path(source.cache_dir or "") / "other")
    refused = from_environment(monkeypatch, KEYRING_ADO_CACHE_DIR=other, KEYRING_ADO_CLIENT_ID=stranger)
    with pytest.raises(SourceFailed, match="AADSTS700016"):
        refused.get_token(lookup())


# --- issue 14, items 1-3: the browser and the broker never wedge the sign-in --------------------------


@pytest.mark.parametrize(
    "case",
    [("/bin/false %s", "no browser could be started"), ("/bin/true %s", "did not finish within 3 s")],
    ids=["no-browser", "browser-never-answers"],
)
def test_a_browser_step_that_fails_leaves_the_device_code_its_full_time(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: tuple[str, str]
) -> None:
    """With a display and no working browser, the page is shown at once, and the device code that
    follows gets the whole KEYRING_ADO_SIGNIN_TIMEOUT (it was abandoned after one poll)."""
    command, said = case
    browser(monkeypatch, tmp_path, command)
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True, display=True, timeout=3.0)
    routed.entra.log.clear()
    token = source.get_token(lookup())
    assert token.source == "sign-in (device code)"
    shown = terminal.getvalue().splitlines()
    assert shown[0].startswith(f"keyring-ado: opening a browser to sign in; if none opens, open this page on this "
                               f"machine: https://{entra.ENTRA_HOST}/{TENANT}/oauth2/v2.0/authorize?")  # fmt: skip
    assert said in shown[1]
    assert "enter the code" in shown[2]
    assert shown[-1] == "keyring-ado: signed in."


def test_a_silent_local_connection_does_not_stall_the_browser_redirect(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Another local process connects to the loopback redirect and sends nothing: the real redirect
    is still taken (each connection is bounded), well before the sign-in's deadline."""
    log = fake_browser(monkeypatch, tmp_path, FAKE_BROWSER_SILENT_FIRST="1")
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True, display=True, timeout=30.0)
    started = time.monotonic()
    token = source.get_token(lookup())
    assert token.source == "sign-in (browser)"
    assert time.monotonic() - started < 15
    assert "silent connection opened" in log.read_text()


def test_the_broker_is_never_used_without_a_display(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker installed on a machine reached over SSH: a device code, not a window nobody sees."""
    asked: list[str] = []
    monkeypatch.setattr(_msal, "broker_available", lambda: True)
    monkeypatch.setattr(_interactive, "_broker", lambda app, timeout: asked.append("broker"))
    source = from_environment(
        monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", SSH_CONNECTION="10.0.0.1 22 10.0.0.2 22"
    )
    assert not source.display
    token = source.get_token(lookup())
    assert token.source == "sign-in (device code)"
    assert asked == []


def test_the_brokers_wait_is_bounded() -> None:
    """A broker window that never returns: after KEYRING_ADO_SIGNIN_TIMEOUT the sign-in moves on."""
    forever = threading.Event()

    class App:
        CONSOLE_WINDOW_HANDLE = object()

        def acquire_token_interactive(self, scopes: list[str], **options: object) -> dict[str, str]:
            forever.wait()
            return {}

    started = time.monotonic()
    try:
        assert _interactive._broker(App(), 1.0) is None
    finally:
        forever.set()
    assert 1 <= time.monotonic() - started < 3


# --- what an outside attack on the above found (each failed before its fix) -------------------------


def test_answers_without_the_sign_ins_state_are_ignored(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Another local process posts a code with no state, a guessed state, an error: each is refused
    and the wait goes on; the browser's own answer signs in (one forged request ended it before)."""
    log = fake_browser(monkeypatch, tmp_path, FAKE_BROWSER_FORGED_FIRST="1")
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True, display=True)
    token = source.get_token(lookup())
    assert token.source == "sign-in (browser)"
    assert log.read_text().count("forged answer refused with 400") == 3


def test_text_posted_to_the_redirect_never_reaches_the_terminal(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An error answer's free text (anyone who read the state from a command line can post one) is
    not shown: only the error code, then the device code."""
    fake_browser(monkeypatch, tmp_path, FAKE_BROWSER_ERROR="use https://evil.example/login and code EVIL1234")
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True, display=True)
    token = source.get_token(lookup())
    assert token.source == "sign-in (device code)"
    shown = terminal.getvalue()
    assert "keyring-ado: the browser sign-in failed (access_denied); using a device code instead" in shown
    assert "evil" not in shown.lower()


@pytest.mark.parametrize("interval", [0, "5", -3])
def test_a_device_code_interval_from_entra_cannot_outlast_the_deadline(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, interval: object
) -> None:
    """msal checks the deadline once per second of Entra's interval: 0 polled without pause for ever.
    The interval is made whole seconds from 1 to 60."""
    device_code_answer(routed, monkeypatch, lambda answer: {**answer, "interval": interval})
    monkeypatch.setattr(routed.entra, "polls_before_approval", 10_000)
    monkeypatch.setattr(routed.entra, "device_interval", 0)
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True, timeout=2.0)
    routed.entra.log.clear()
    started = time.monotonic()
    with pytest.raises(SourceFailed, match="did not complete within 2 s"):
        source.get_token(lookup())
    assert time.monotonic() - started < 8
    assert len(routed.entra.grants(entra.DEVICE_CODE_GRANT)) <= 4, "about one poll a second"


def test_a_device_code_answer_msal_cannot_read_is_one_line(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An interval of null made msal raise TypeError out of the sign-in."""
    device_code_answer(routed, monkeypatch, lambda answer: {**answer, "interval": None})
    source = configured(routed, tmp_path / "signin", allow_unencrypted_cache=True)
    with pytest.raises(SourceFailed, match="with an answer that cannot be read"):
        source.get_token(lookup())
    assert terminal.getvalue() == ""


def test_msal_extensions_warnings_stay_off_stderr() -> None:
    """Its 'failed to create lock file' warning reached stderr through logging's last resort."""
    import logging

    from keyring_ado.sources._entra import quiet_azure_loggers

    logger = logging.getLogger("msal_extensions")
    before = logger.level
    try:
        logger.setLevel(logging.NOTSET)
        quiet_azure_loggers()
        assert logger.getEffectiveLevel() == logging.ERROR
    finally:
        logger.setLevel(before)
