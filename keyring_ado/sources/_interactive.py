"""Signing a person in when nothing is remembered, for :mod:`.signin`: a browser when there is a
display (the Windows or macOS broker's window where it is installed), else or after it a device
code. Every line is written to the terminal, never to stdout, and nothing from elsewhere reaches
it unchecked: only Entra's verification URI and code once they look like its own, and only the
error code of an answer posted to the loopback redirect.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import webbrowser
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import _deadline, _loopback
from .._redact import first_line, redact
from ..errors import SourceFailed
from . import _msal
from ._entra import SCOPE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..token import Token

_log = logging.getLogger(__name__)
#: How long starting a browser may take (``webbrowser`` waits for some browser commands to exit).
BROWSER_START_TIMEOUT = 10.0


def sign_in(
    app: Any,  # noqa: ANN401 - msal's own types
    *,
    timeout: float,
    display: bool,
    host: str,
    secrets: tuple[str, ...],
) -> Token:
    """A browser when there is a *display* (the broker's window where it is installed), else or after
    it a device code; each step has its own *timeout* (``KEYRING_ADO_SIGNIN_TIMEOUT``). *host* is the
    Entra ID host signed in at; *secrets* are masked in anything quoted from Entra."""
    if display:
        token = _broker(app, timeout) if _msal.broker_available() else _browser(app, timeout)
        if token is not None:
            return token
    return _device_code(app, timeout, host, secrets)


def _browser(app: Any, timeout: float) -> Token | None:  # noqa: ANN401
    """A browser sign-in with a loopback redirect: the page is shown on the terminal at once, in
    case no browser opens. None (and a line saying so) when it fails or times out."""
    deadline = time.monotonic() + timeout
    with _loopback.Receiver() as receiver, _terminal() as terminal:
        flow = app.initiate_auth_code_flow(
            [SCOPE], redirect_uri=receiver.redirect_uri, prompt="select_account", response_mode="form_post"
        )
        page = str(flow.get("auth_uri", ""))
        if not _shown_safely(page):
            _say(terminal, "the sign-in page Entra ID named does not look like a web address; using a device code")
            return None
        _say(terminal, f"opening a browser to sign in; if none opens, open this page on this machine: {page}")
        if not _open_browser(page):
            _say(terminal, "no browser could be started; using a device code instead")
            return None
        response = receiver.wait(deadline, str(flow.get("state", "")))
        if response is None:
            _say(terminal, f"the browser sign-in did not finish within {timeout:g} s; using a device code instead")
            return None
        try:
            result = app.acquire_token_by_auth_code_flow(flow, response, scopes=[SCOPE])
        except ValueError:  # msal's own checks of the response (state, nonce)
            result = {"error": "invalid_response"}
        if "access_token" in result:
            return _msal.token_from(result, "sign-in (browser)")
        # Only Entra's error code, never its text: another local process could have written it.
        _say(terminal, f"the browser sign-in failed ({_error_code(result)}); using a device code instead")
        return None


def _error_code(result: dict[str, Any]) -> str:
    """The OAuth error code of *result* when it is one (a short word like ``access_denied``), else
    a fixed phrase."""
    code = str(result.get("error", ""))
    word = code.replace("_", "")
    return code if 0 < len(code) <= 64 and word.isascii() and word.isalpha() else "an unreadable error"


def _open_browser(page: str) -> bool:
    """``webbrowser.open`` with a deadline: False when no browser could be started."""
    try:
        return bool(_deadline.call(lambda: webbrowser.open(page), BROWSER_START_TIMEOUT, "the browser"))
    except _deadline.DeadlineExceeded:
        return True  # a browser command that waits for its window to close: it did start
    except Exception as exc:  # webbrowser.Error, OSError from a broken BROWSER
        _log.debug("keyring-ado: no browser: %s", type(exc).__name__)
        return False


def _broker(app: Any, timeout: float) -> Token | None:  # noqa: ANN401
    """The Windows (WAM) or macOS broker's window, bounded by *timeout*; None when it fails or does
    not finish in time (then a device code). Untested on the project's Linux machines beyond this
    bound."""

    def ask() -> dict[str, Any]:
        result: dict[str, Any] = app.acquire_token_interactive(
            [SCOPE], prompt="select_account", timeout=int(timeout), parent_window_handle=app.CONSOLE_WINDOW_HANDLE
        )
        return result

    try:
        result = _deadline.call(ask, timeout, "the sign-in broker")
    except Exception as exc:
        _log.debug("keyring-ado: the broker's sign-in did not finish (%s); using a device code", type(exc).__name__)
        return None
    return _msal.token_from(result, "sign-in (broker)") if "access_token" in result else None


def _device_code(app: Any, timeout: float, host: str, secrets: tuple[str, ...]) -> Token:  # noqa: ANN401
    deadline = time.monotonic() + timeout
    try:
        flow = app.initiate_device_flow(scopes=[SCOPE])
    except (TypeError, KeyError, ValueError) as exc:  # msal reads the answer's fields without checking them
        if isinstance(exc, OSError):
            raise  # an unreachable Entra ID is said as such by the caller
        raise SourceFailed(
            "Entra ID started a device-code sign-in with an answer that cannot be read "
            f"({type(exc).__name__}); sign in with `az login` instead, and check AZURE_AUTHORITY_HOST and the proxy"
        ) from None
    if "user_code" not in flow:
        raise SourceFailed(f"Entra ID did not start a device-code sign-in: {_describe(flow, secrets)}")
    uri, code = _checked_prompt(flow, host)
    flow["interval"] = _interval(flow.get("interval"))  # msal checks the deadline once per second of it
    with _terminal() as terminal:
        _say(terminal, f"to sign in, open {uri} in a browser and enter the code {code}")
        result = app.acquire_token_by_device_flow(flow, exit_condition=lambda _: time.monotonic() > deadline)
        if "access_token" not in result:
            if result.get("error") not in _STILL_WAITING:
                raise SourceFailed(refusal(result, "device-code sign-in", secrets=secrets))
            raise SourceFailed(
                f"the sign-in did not complete within {timeout:g} s ({_describe(result, secrets)}); "
                "run `keyring get URL user` again, or raise KEYRING_ADO_SIGNIN_TIMEOUT"
            )
        _say(terminal, "signed in.")
    return _msal.token_from(result, "sign-in (device code)")


def _interval(given: object) -> int:
    """Entra's polling interval as msal needs it: whole seconds from 1 to 60 (0 would poll without
    pause and never look at the deadline; a string would stop msal with a TypeError)."""
    try:
        seconds = int(given) if isinstance(given, int | float | str) else 5
    except ValueError:
        seconds = 5
    return min(max(seconds, 1), 60)


def _say(terminal: IO[str], line: str) -> None:
    terminal.write(f"keyring-ado: {line}\n")
    terminal.flush()


def _shown_safely(page: str) -> bool:
    """True for an https address of printable ASCII: nothing in it can drive the terminal."""
    return page.startswith("https://") and page.isascii() and page.isprintable() and len(page) < 8192


#: Where Entra sends people to enter a device code, per cloud (and the authority host itself).
_DEVICE_LOGIN_HOSTS = frozenset(
    {"microsoft.com", "www.microsoft.com", "aka.ms", "login.microsoftonline.com", "login.microsoft.com",
     "login.microsoftonline.us", "microsoft.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn"}
)  # fmt: skip


def _checked_prompt(flow: dict[str, Any], host: str) -> tuple[str, str]:
    """The device flow's verification URI and user code, checked, never Entra's free-text message:
    text from elsewhere never reaches the terminal. An https URI on a Microsoft sign-in host (or
    the authority *host*), and a short alphanumeric code; anything else is refused."""
    uri, code = str(flow.get("verification_uri", "")), str(flow.get("user_code", ""))
    try:
        parts = urlsplit(uri)
        shown_host, scheme = (parts.hostname or "").lower(), parts.scheme
    except ValueError:
        shown_host, scheme = "", ""
    allowed = _DEVICE_LOGIN_HOSTS | {host.partition(":")[0].lower()}
    plain = uri.isascii() and uri.isprintable() and not any(ch in uri for ch in "@\\")  # browsers read those apart
    trusted = bool(shown_host) and scheme == "https" and shown_host in allowed and plain
    if not trusted or not (code.isascii() and code.isalnum() and 4 <= len(code) <= 16):
        raise SourceFailed(
            "Entra ID started a device-code sign-in with a page or code that does not look like its own; "
            "nothing was shown. Sign in with `az login` instead, and check AZURE_AUTHORITY_HOST and the proxy"
        )
    return uri, code


@contextlib.contextmanager
def _terminal() -> Iterator[IO[str]]:
    """The controlling terminal when there is one (pip hides a subprocess's stderr), else stderr."""
    try:
        handle = open("/dev/tty", "w")  # noqa: SIM115
    except OSError:
        yield sys.stderr
        return
    with handle:
        yield handle


#: What Entra answers a device-code poll with while the person has not finished: keep waiting.
_STILL_WAITING = frozenset({"authorization_pending", "slow_down", None})
#: Conditional Access refusals: device code is blocked, or the sign-in must come from a compliant
#: or managed device, or again after the sign-in frequency ran out.
CONDITIONAL_ACCESS = ("AADSTS50199", "AADSTS530033", "AADSTS53003", "AADSTS53000", "AADSTS53001", "AADSTS530034",
                      "AADSTS50097", "AADSTS70043", "AADSTS50133")  # fmt: skip


def refusal(result: dict[str, Any], what: str, *, secrets: tuple[str, ...]) -> str:
    """Why Entra refused *what*, with its own code and text, and what to use instead."""
    said = _describe(result, secrets)
    if any(code in said for code in CONDITIONAL_ACCESS):
        return (
            f"Entra ID refused the {what} because of a Conditional Access policy ({said}); sign in another "
            "way: `keyring-ado login URL` on a machine with a browser, `az login`, or the keyring-ado[broker] "
            "extra on Windows or macOS"
        )
    if result.get("error") == "authorization_declined":
        return f"the {what} was declined ({said}); run `keyring-ado login URL` to try again"
    if result.get("error") == "expired_token":
        return f"the {what} code expired before it was used ({said}); run `keyring-ado login URL` to try again"
    return f"Entra ID refused the {what}: {said}"


def _describe(result: dict[str, Any], secrets: tuple[str, ...]) -> str:
    return first_line(redact(str(result.get("error_description") or result.get("error") or "no detail"), secrets))
