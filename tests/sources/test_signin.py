"""Our own sign-in against the fake Entra ID: device code, the remembered sign-in, and the refusals."""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from keyring_ado.errors import SourceFailed, SourceUnavailable
from keyring_ado.settings import Settings
from keyring_ado.sources import signin
from keyring_ado.sources.signin import SignInSource
from tests.conftest import AdoWorld
from tests.fakes import entra
from tests.fakes.artifacts import TENANT
from tests.helpers import feed


def device_code_answer(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, change: Callable[[dict[str, object]], dict[str, object]]
) -> None:
    """The fake Entra's device-code answer, changed by *change*: forged, odd or escape-laden."""
    original = routed.entra._devicecode

    def changed(tenant: str, form: dict[str, str]) -> object:
        status, headers, body = original(tenant, form)
        return status, headers, json.dumps(change(json.loads(body))).encode()

    monkeypatch.setattr(routed.entra, "_devicecode", changed)


def current(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KEYRING_ADO_TENANT", TENANT)
    return Settings.from_environ(os.environ)


def test_device_code_then_remembered(routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    """A device-code sign-in completes after the fake's two pending polls; a new app reuses it silently."""
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    routed.entra.log.clear()
    token = SignInSource().get_token(feed(), settings)
    assert routed.entra.valid_for(token.secret, TENANT)
    assert entra.claims_of(token.secret)["upn"] == "alice@contoso.test"
    assert "enter the code" in terminal.getvalue()
    assert terminal.getvalue().endswith("keyring-ado: signed in.\n")
    assert len(routed.entra.grants(entra.DEVICE_CODE_GRANT)) == 3  # two pending, one granted
    cache = Path(settings.cache_dir or "") / "msal-cache.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert json.loads(cache.read_text())["RefreshToken"], "the sign-in is kept for later processes"
    terminal.truncate(0)
    again = SignInSource().get_token(feed(), settings)  # a new msal app: only the persisted cache
    assert again.source == "sign-in (remembered)"
    assert terminal.getvalue() == ""
    assert len(routed.entra.grants(entra.DEVICE_CODE_GRANT)) == 3


def test_forget_removes_the_remembered_sign_in(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `keyring-ado logout` calls: the sign-in's file goes, and the next lookup prompts again."""
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    SignInSource().get_token(feed(), settings)
    directory = Path(settings.cache_dir or "")
    assert signin.forget(directory) == ([str(directory / "msal-cache.json")], None)
    assert not (directory / "msal-cache.json").exists()
    assert signin.forget(directory) == ([], None)
    terminal.truncate(0)
    SignInSource().get_token(feed(), settings)
    assert "enter the code" in terminal.getvalue(), "nothing remembered: a new prompt"


def test_refuses_unencrypted_storage_without_opt_in(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Secret Service here: no sign-in is kept in plain text unless the user allows it."""
    settings = current(monkeypatch)
    with pytest.raises(SourceFailed, match="KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE=1"):
        SignInSource().get_token(feed(), settings)
    assert terminal.getvalue() == ""
    assert not list(Path(settings.cache_dir or "").glob("msal-cache.json"))


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
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", **environ)
    routed.entra.log.clear()
    with pytest.raises(SourceUnavailable, match=reason):
        SignInSource().get_token(feed(), settings)
    assert terminal.getvalue() == ""
    assert not [e for e in routed.entra.log if e["path"].endswith("/devicecode")]


def test_no_terminal(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """No /dev/tty and no terminal on stderr: unavailable."""
    monkeypatch.setattr(signin, "_terminal_reachable", lambda: False)
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    with pytest.raises(SourceUnavailable, match="no terminal"):
        SignInSource().get_token(feed(), settings)


def test_timeout_is_bounded(routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody completes the sign-in: it gives up after KEYRING_ADO_SIGNIN_TIMEOUT with what to do."""
    routed.entra.polls_before_approval = 1000
    try:
        settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", KEYRING_ADO_SIGNIN_TIMEOUT="2")
        started = time.monotonic()
        with pytest.raises(SourceFailed, match="did not complete within 2 s"):
            SignInSource().get_token(feed(), settings)
        took = time.monotonic() - started
    finally:
        routed.entra.polls_before_approval = 2
    assert 2 <= took < 2 + 1 + 3, f"{took:.1f} s: bounded by the timeout, plus at most one poll interval"


def test_expired_access_token_is_refreshed_silently(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remembered sign-in whose access token is about to expire is refreshed without a prompt."""
    routed.entra.token_lifetime = 120  # msal treats under five minutes left as expired
    try:
        settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
        SignInSource().get_token(feed(), settings)
        routed.entra.log.clear()
        terminal.truncate(0)
        token = SignInSource().get_token(feed(), settings)
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
    import sys

    log = tmp_path / "browser.log"
    browser = Path(__file__).resolve().parent.parent / "fakes" / "browser.py"
    monkeypatch.setenv("BROWSER", f"{sys.executable} {browser} %s")
    monkeypatch.setenv("FAKE_BROWSER_LOG", str(log))
    import webbrowser

    monkeypatch.setattr(webbrowser, "_tryorder", None)  # re-read BROWSER
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", DISPLAY=":0")
    assert settings.display
    routed.entra.log.clear()
    token = SignInSource().get_token(feed(), settings)
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
    routed: AdoWorld,
    terminal: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    refusal: tuple[str, str],
    expected: str,
) -> None:
    """Anything but authorization_pending / slow_down ends the sign-in at once, quoting Entra's code,
    not "did not complete within 180 s" three minutes later (review item 15)."""
    import time

    routed.entra.device_refusal = refusal
    try:
        settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", KEYRING_ADO_SIGNIN_TIMEOUT="60")
        started = time.monotonic()
        with pytest.raises(SourceFailed) as failure:
            SignInSource().get_token(feed(), settings)
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


ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZWNobyBwd25lZA==\x07\x9b31m"


def test_text_from_entra_cannot_drive_the_terminal(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An escape-laden device-code message (window title, clear screen, OSC 52 clipboard) never
    reaches the terminal: only the checked URI and code are shown (issue 14, item 6)."""
    device_code_answer(routed, monkeypatch, lambda answer: {**answer, "message": ESCAPES + answer["message"]})
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    SignInSource().get_token(feed(), settings)
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
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, field: dict[str, str]
) -> None:
    """A verification URI off Microsoft's hosts or over http, or a code that is not a short word: nothing shown."""
    device_code_answer(routed, monkeypatch, lambda answer: {**answer, **field})
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    with pytest.raises(SourceFailed, match="does not look like its own"):
        SignInSource().get_token(feed(), settings)
    assert terminal.getvalue() == ""


def test_quoted_remote_text_loses_its_control_characters() -> None:
    """Entra error descriptions and issuer bodies are quoted without C0/C1 controls."""
    from keyring_ado._redact import first_line, quote_output, redact

    for quoted in (first_line(ESCAPES + "AADSTS50076: MFA"), quote_output(ESCAPES + "bad"), redact(ESCAPES)):
        assert not any(ch in quoted for ch in "\x1b\x07\x9b"), repr(quoted)


def test_the_sign_in_is_azure_artifacts_own_application(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default client id is pinned (Azure Artifacts' public client), and the fake Entra knows
    only the applications registered in it: a random id would be refused, so this cannot drift."""
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    routed.entra.log.clear()
    SignInSource().get_token(feed(), settings)
    started = [e for e in routed.entra.log if e["path"].endswith("/devicecode")]
    assert [e["client_id"] for e in started] == ["d5a56ea4-7369-46b8-a538-c370805301bf"]
    assert {e["client_id"] for e in routed.entra.grants(entra.DEVICE_CODE_GRANT)} == {started[0]["client_id"]}


def test_keyring_ado_client_id_is_honoured(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KEYRING_ADO_CLIENT_ID: your organisation's own registration signs in; an unregistered one is
    refused by Entra with AADSTS700016, quoted."""
    import uuid

    ours = str(uuid.uuid4())
    routed.entra.public_clients.add(ours)
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", KEYRING_ADO_CLIENT_ID=ours)
    routed.entra.log.clear()
    token = SignInSource().get_token(feed(), settings)
    assert entra.claims_of(token.secret)["appid"] == ours
    assert {e["client_id"] for e in routed.entra.log if "client_id" in e} == {ours}
    stranger = str(uuid.uuid4())
    monkeypatch.setenv("KEYRING_ADO_CACHE_DIR", str(Path(settings.cache_dir or "") / "other"))
    refused = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", KEYRING_ADO_CLIENT_ID=stranger)
    with pytest.raises(SourceFailed, match="AADSTS700016"):
        SignInSource().get_token(feed(), refused)


# --- issue 14, items 1-3 and 11: the sign-in never wedges, never hangs, and logout means logout -----


class FakeSecretStore:
    """The system's secret store as msal-extensions' Linux and macOS persistences use it: the secret
    is kept apart from its marker file at the cache's location. ``lock()`` makes every access wait,
    as a locked login keyring waits for an unlock dialog."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.unlocked = threading.Event()
        self.unlocked.set()
        self.waited = 0

    def lock(self) -> None:
        self.unlocked.clear()

    def persistence(self, location: str) -> object:
        store = self

        class Persistence:
            is_encrypted = True

            def save(self, content: str) -> None:
                store.wait()
                store.secrets[location] = content
                Path(location).touch()

            def load(self) -> str:
                from msal_extensions.persistence import PersistenceNotFound

                store.wait()
                if location not in store.secrets:
                    raise PersistenceNotFound(message="nothing kept")
                return store.secrets[location]

            def time_last_modified(self) -> float:
                from msal_extensions.persistence import PersistenceNotFound

                try:
                    return os.path.getmtime(location)
                except OSError:
                    raise PersistenceNotFound(message="no marker") from None

            def get_location(self) -> str:
                return location

        return Persistence()

    def wait(self) -> None:
        if not self.unlocked.is_set():
            self.waited += 1
            self.unlocked.wait()


@pytest.fixture
def secret_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSecretStore]:
    import msal_extensions

    store = FakeSecretStore()
    monkeypatch.setattr(msal_extensions, "build_encrypted_persistence", store.persistence)
    yield store
    store.unlocked.set()  # let an abandoned probe thread end


def remembered(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, **environ: str) -> Settings:
    """A sign-in made earlier (device code, at a terminal), whose access token needs refreshing now."""
    monkeypatch.setattr(routed.entra, "token_lifetime", 120)  # msal refreshes under five minutes left: a write
    monkeypatch.setattr(signin, "_terminal_reachable", lambda: True)
    monkeypatch.setattr(signin, "_terminal", lambda: contextlib.nullcontext(io.StringIO()))
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    SignInSource().get_token(feed(), settings)
    monkeypatch.setattr(signin, "_terminal_reachable", lambda: False)
    return current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", **environ)


def test_a_stale_msal_lock_file_does_not_block_the_sign_in(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock file left by a killed process (nobody holds it) is cleared: the remembered sign-in is
    refreshed and kept, at once; it used to fail every time, reported as "has expired"."""
    settings = remembered(routed, monkeypatch, KEYRING_ADO_NONINTERACTIVE="1")
    lock = Path(settings.cache_dir or "") / "msal-cache.json.lockfile"
    lock.write_text("4242 /usr/bin/keyring")
    routed.entra.log.clear()
    started = time.monotonic()
    token = SignInSource().get_token(feed(), settings)
    assert token.source == "sign-in (remembered)"
    assert time.monotonic() - started < 4, "no wait on a lock nobody holds"
    assert len(routed.entra.grants("refresh_token")) == 1
    assert not lock.exists()
    cache = json.loads((Path(settings.cache_dir or "") / "msal-cache.json").read_text())
    assert any(t["secret"] == token.secret for t in cache["AccessToken"].values()), "the refreshed token was kept"


def test_a_lock_a_live_process_keeps_is_one_clear_line(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds the cache's lock past msal's own wait: one line naming the lock, not
    "the remembered sign-in has expired"."""
    import subprocess
    import sys

    settings = remembered(routed, monkeypatch, KEYRING_ADO_NONINTERACTIVE="1")
    lock = Path(settings.cache_dir or "") / "msal-cache.json.lockfile"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl,sys,time; f=open(sys.argv[1],'w'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('held', flush=True); time.sleep(60)", str(lock)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    with holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "held\n"
            with pytest.raises(SourceFailed) as failure:
                SignInSource().get_token(feed(), settings)
        finally:
            holder.kill()
    assert "kept the sign-in's cache locked" in str(failure.value)
    assert "msal-cache.json.lockfile" in str(failure.value)


def test_a_locked_secret_store_does_not_hang_a_non_interactive_lookup(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, secret_store: FakeSecretStore
) -> None:
    """A locked login keyring waits for an unlock dialog for ever: in CI the lookup gives up on the
    store after its deadline with one line, instead of hanging with it."""
    settings = current(monkeypatch, CI="true", KEYRING_ADO_NONINTERACTIVE="1")
    directory = Path(settings.cache_dir or "")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "msal-cache.bin").touch()  # a sign-in is kept in the store
    secret_store.lock()
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as unavailable:
        SignInSource().get_token(feed(), settings)
    took = time.monotonic() - started
    assert signin.storage.STORAGE_TIMEOUT <= took < signin.storage.STORAGE_TIMEOUT + 3
    assert "did not answer within 5 s" in str(unavailable.value)
    assert "CI run" in str(unavailable.value)
    assert secret_store.waited == 1


def test_nothing_remembered_and_no_person_touches_no_storage(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, secret_store: FakeSecretStore
) -> None:
    """Non-interactive is decided before storage is opened: with nothing remembered, the store is not asked."""
    settings = current(monkeypatch, CI="true")
    secret_store.lock()
    with pytest.raises(SourceUnavailable, match="no remembered sign-in"):
        SignInSource().get_token(feed(), settings)
    assert secret_store.waited == 0


def browser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str) -> None:
    import webbrowser

    monkeypatch.setenv("BROWSER", command)
    monkeypatch.setenv("FAKE_BROWSER_LOG", str(tmp_path / "browser.log"))
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # re-read BROWSER


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
    settings = current(
        monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", DISPLAY=":0", KEYRING_ADO_SIGNIN_TIMEOUT="3"
    )
    routed.entra.log.clear()
    token = SignInSource().get_token(feed(), settings)
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
    import sys

    fake = Path(__file__).resolve().parent.parent / "fakes" / "browser.py"
    browser(monkeypatch, tmp_path, f"{sys.executable} {fake} %s")
    monkeypatch.setenv("FAKE_BROWSER_SILENT_FIRST", "1")
    settings = current(
        monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", DISPLAY=":0", KEYRING_ADO_SIGNIN_TIMEOUT="30"
    )
    started = time.monotonic()
    token = SignInSource().get_token(feed(), settings)
    assert token.source == "sign-in (browser)"
    assert time.monotonic() - started < 15
    assert "silent connection opened" in (tmp_path / "browser.log").read_text()


def test_the_broker_is_never_used_without_a_display(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker installed on a machine reached over SSH: a device code, not a window nobody sees."""
    asked: list[str] = []
    monkeypatch.setattr(signin, "_broker_available", lambda: True)
    monkeypatch.setattr(signin, "_broker", lambda app, settings: asked.append("broker"))
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", SSH_CONNECTION="10.0.0.1 22 10.0.0.2 22")
    assert not settings.display
    token = SignInSource().get_token(feed(), settings)
    assert token.source == "sign-in (device code)"
    assert asked == []


def test_the_brokers_wait_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker window that never returns: after KEYRING_ADO_SIGNIN_TIMEOUT the sign-in moves on."""
    forever = threading.Event()

    class App:
        CONSOLE_WINDOW_HANDLE = object()

        def acquire_token_interactive(self, scopes: list[str], **options: object) -> dict[str, str]:
            forever.wait()
            return {}

    settings = current(monkeypatch, KEYRING_ADO_SIGNIN_TIMEOUT="1")
    started = time.monotonic()
    try:
        assert signin._broker(App(), settings) is None
    finally:
        forever.set()
    assert 1 <= time.monotonic() - started < 3


def test_logout_clears_the_secret_store_even_without_its_marker(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, secret_store: FakeSecretStore
) -> None:
    """The marker file beside the cache is gone (a cleaned cache directory), the secret is not:
    `keyring-ado logout` clears it all the same."""
    settings = current(monkeypatch)
    SignInSource().get_token(feed(), settings)
    directory = Path(settings.cache_dir or "")
    (location,) = secret_store.secrets
    assert json.loads(secret_store.secrets[location])["RefreshToken"]
    (directory / "msal-cache.bin").unlink()
    assert signin.forget(directory) == (["the encrypted sign-in (msal-cache.bin)"], None)
    assert secret_store.secrets[location] == "{}"
    assert signin.forget(directory) == ([], None)


def test_a_plaintext_sign_in_moves_into_encrypted_storage_once_there_is_one(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sign-in kept in an owner-only file before the machine had a secret store: once the store is
    there, the sign-in moves into it and no refresh token stays in plain text."""
    import msal_extensions

    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    SignInSource().get_token(feed(), settings)
    plaintext = Path(settings.cache_dir or "") / "msal-cache.json"
    assert plaintext.exists()
    store = FakeSecretStore()
    monkeypatch.setattr(msal_extensions, "build_encrypted_persistence", store.persistence)
    terminal.truncate(0)
    token = SignInSource().get_token(feed(), settings)
    assert token.source == "sign-in (remembered)"
    assert terminal.getvalue() == ""
    assert not plaintext.exists()
    (kept,) = store.secrets.values()
    assert json.loads(kept)["RefreshToken"]


# --- what an outside attack on the above found (each failed before its fix) -------------------------


def fake_browser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **knobs: str) -> Path:
    import sys

    fake = Path(__file__).resolve().parent.parent / "fakes" / "browser.py"
    browser(monkeypatch, tmp_path, f"{sys.executable} {fake} %s")
    for name, value in knobs.items():
        monkeypatch.setenv(name, value)
    return tmp_path / "browser.log"


def test_answers_without_the_sign_ins_state_are_ignored(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Another local process posts a code with no state, a guessed state, an error: each is refused
    and the wait goes on; the browser's own answer signs in (one forged request ended it before)."""
    log = fake_browser(monkeypatch, tmp_path, FAKE_BROWSER_FORGED_FIRST="1")
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", DISPLAY=":0")
    token = SignInSource().get_token(feed(), settings)
    assert token.source == "sign-in (browser)"
    assert log.read_text().count("forged answer refused with 400") == 3


def test_text_posted_to_the_redirect_never_reaches_the_terminal(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An error answer's free text (anyone who read the state from a command line can post one) is
    not shown: only the error code, then the device code."""
    fake_browser(monkeypatch, tmp_path, FAKE_BROWSER_ERROR="use https://evil.example/login and code EVIL1234")
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", DISPLAY=":0")
    token = SignInSource().get_token(feed(), settings)
    assert token.source == "sign-in (device code)"
    shown = terminal.getvalue()
    assert "keyring-ado: the browser sign-in failed (access_denied); using a device code instead" in shown
    assert "evil" not in shown.lower()


@pytest.mark.parametrize("interval", [0, "5", -3])
def test_a_device_code_interval_from_entra_cannot_outlast_the_deadline(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, interval: object
) -> None:
    """msal checks the deadline once per second of Entra's interval: 0 polled without pause for ever.
    The interval is made whole seconds from 1 to 60."""
    device_code_answer(routed, monkeypatch, lambda answer: {**answer, "interval": interval})
    monkeypatch.setattr(routed.entra, "polls_before_approval", 10_000)
    monkeypatch.setattr(routed.entra, "device_interval", 0)
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1", KEYRING_ADO_SIGNIN_TIMEOUT="2")
    routed.entra.log.clear()
    started = time.monotonic()
    with pytest.raises(SourceFailed, match="did not complete within 2 s"):
        SignInSource().get_token(feed(), settings)
    assert time.monotonic() - started < 8
    assert len(routed.entra.grants(entra.DEVICE_CODE_GRANT)) <= 4, "about one poll a second"


def test_a_device_code_answer_msal_cannot_read_is_one_line(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interval of null made msal raise TypeError out of the sign-in."""
    device_code_answer(routed, monkeypatch, lambda answer: {**answer, "interval": None})
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    with pytest.raises(SourceFailed, match="with an answer that cannot be read"):
        SignInSource().get_token(feed(), settings)
    assert terminal.getvalue() == ""


def test_no_sign_in_is_kept_in_a_directory_others_can_write(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Another user could plant a link at msal-cache.json there and collect the refresh token."""
    from keyring_ado import _jsonfile

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    victim = tmp_path / "elsewhere.json"
    (shared / "msal-cache.json").symlink_to(victim)
    monkeypatch.setenv("KEYRING_ADO_CACHE_DIR", str(shared))
    _jsonfile.forget_refusals()
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    with pytest.raises(SourceFailed, match="is not yours alone"):
        SignInSource().get_token(feed(), settings)
    assert not victim.exists()
    assert terminal.getvalue() == ""


@pytest.mark.parametrize(
    "case",
    [(name, kind) for name in ("msal-cache.json", "msal-cache.json.lockfile", "msal-cache.bin.lockfile")
     for kind in ("link", "fifo")],
    ids="-".join,
)  # fmt: skip
def test_a_link_or_fifo_among_the_sign_ins_files_is_refused(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: tuple[str, str]
) -> None:
    """msal-extensions opens its lock file 'wb+' (a link there truncated its target) and waits 5 s on
    a FIFO before failing after the person has signed in: refused up front, the target untouched."""
    name, kind = case
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    directory = Path(settings.cache_dir or "")
    directory.mkdir(parents=True, mode=0o700, exist_ok=True)
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    if kind == "link":
        (directory / name).symlink_to(target)
    else:
        os.mkfifo(directory / name)
    with pytest.raises(SourceFailed, match="is not a regular file"):
        SignInSource().get_token(feed(), settings)
    assert target.read_text() == "keep me"
    assert terminal.getvalue() == ""


def test_a_plaintext_cache_that_is_not_private_is_left_alone(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, secret_store: FakeSecretStore
) -> None:
    """A plaintext cache others can read is not read, so it is not removed either (it was deleted)."""
    settings = current(monkeypatch)
    directory = Path(settings.cache_dir or "")
    directory.mkdir(parents=True, mode=0o700, exist_ok=True)
    (directory / "msal-cache.json").write_text('{"RefreshToken": {}}')
    (directory / "msal-cache.json").chmod(0o644)
    signin.storage.open_cache(directory, allow_plaintext=False)
    assert (directory / "msal-cache.json").exists()


@pytest.mark.parametrize("failure", ["locked", "broken"])
def test_logout_says_so_when_the_encrypted_sign_in_could_not_be_cleared(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    secret_store: FakeSecretStore,
    tmp_path: Path,
    failure: str,
) -> None:
    """A locked or failing secret store: logout keeps the marker, says the sign-in was not cleared
    and exits 1 (it said 'nothing to remove' and exited 0, the refresh token still in the store)."""
    from keyring_ado import _jsonfile, cli

    directory = tmp_path / "signin-cache"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("KEYRING_ADO_CACHE_DIR", str(directory))
    _jsonfile.forget_refusals()
    secret_store.persistence(str(directory / "msal-cache.bin")).save('{"RefreshToken": {"x": {}}}')  # type: ignore[attr-defined]
    monkeypatch.setattr(signin.storage, "STORAGE_TIMEOUT", 0.5)
    if failure == "locked":
        secret_store.lock()
    else:
        monkeypatch.setattr(
            secret_store, "wait", lambda: (_ for _ in ()).throw(RuntimeError("the collection is locked"))
        )
    assert cli.main(["logout"]) == 1
    said = capsys.readouterr().err
    assert "the encrypted sign-in could not be cleared" in said
    assert "nothing to remove" not in said
    assert (directory / "msal-cache.bin").exists()


@pytest.mark.parametrize(
    "uri", ["https://evil.example\\@microsoft.com/devicelogin", "https://evil.example@microsoft.com/devicelogin"]
)
def test_a_device_code_page_with_user_info_is_refused(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, uri: str
) -> None:
    """urllib reads microsoft.com as the host of these; a browser goes to evil.example."""
    device_code_answer(routed, monkeypatch, lambda answer: {**answer, "verification_uri": uri})
    settings = current(monkeypatch, KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    with pytest.raises(SourceFailed, match="does not look like its own"):
        SignInSource().get_token(feed(), settings)
    assert terminal.getvalue() == ""


def test_msal_extensions_warnings_stay_off_stderr() -> None:
    """Its 'failed to create lock file' warning reached stderr through logging's last resort."""
    import logging

    from keyring_ado.sources.identity import quiet_azure_loggers

    logger = logging.getLogger("msal_extensions")
    before = logger.level
    try:
        logger.setLevel(logging.NOTSET)
        quiet_azure_loggers()
        assert logger.getEffectiveLevel() == logging.ERROR
    finally:
        logger.setLevel(before)
