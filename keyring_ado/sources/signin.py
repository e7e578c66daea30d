"""Our own sign-in: msal, silent from a persistent cache first, then once, interactively, if a person
is there to answer.

* Client: the Azure Artifacts public client (``KEYRING_ADO_CLIENT_ID`` to use your organisation's
  own app registration); authority: the feed's tenant, or ``organizations``.
* Cache: msal's token cache, persisted encrypted where the platform offers it (DPAPI on Windows,
  the Keychain on macOS, the Secret Service on Linux). Where it does not, the sign-in is refused
  unless ``KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE=1`` allows an owner-only file.
* Interactive only when a person can answer: not in CI, not with ``KEYRING_ADO_NONINTERACTIVE`` /
  ``ARTIFACTS_KEYRING_NONINTERACTIVE_MODE`` / ``PIP_NO_INPUT``, and with a terminal reachable through
  ``/dev/tty`` or stderr. A browser when there is a display, else a device code, with the prompt on
  the terminal, never on stdout. Bounded by ``KEYRING_ADO_SIGNIN_TIMEOUT`` (180 s).
* One prompt for many processes: the sign-in holds a lock file; whoever waited on it looks in the
  cache again before prompting.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .._jsonfile import JsonFile
from .._redact import first_line, redact
from ..discovery import DEFAULT_AUTHORITY_HOST, authority_for
from ..errors import SourceFailed, SourceUnavailable
from ..token import Kind, Token
from . import signin_storage as storage
from .base import Identity
from .identity import SCOPE, entra_host, known_cloud, quiet_azure_loggers

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..feeds import Feed
    from ..settings import Settings

_log = logging.getLogger(__name__)
HTTP_TIMEOUT = 15
ENCRYPTED_CACHE = storage.ENCRYPTED_CACHE
FILE_CACHE = storage.FILE_CACHE


class SignInSource:
    """Entra ID sign-in of a person, remembered across processes."""

    name = "sign-in"
    server_capable = False

    def identity(self, feed: Feed, settings: Settings) -> Identity:
        """The application, cloud and tenant override a sign-in is for. Unavailable at once, before
        any storage or network is touched, when nothing is remembered and no person can answer."""
        if settings.cache_dir is None:
            raise SourceUnavailable("KEYRING_ADO_CACHE=off, and a sign-in needs somewhere to be remembered")
        refusal = _why_not_interactive(settings)
        if refusal and not storage.remembered_somewhere(Path(settings.cache_dir)):
            raise SourceUnavailable(f"no remembered sign-in, and {refusal}")
        return Identity("msal", (entra_host(settings), settings.signin_client_id, settings.tenant or ""))

    def get_token(self, feed: Feed, settings: Settings) -> Token:
        if settings.cache_dir is None:
            raise SourceUnavailable("KEYRING_ADO_CACHE=off, and a sign-in needs somewhere to be remembered")
        directory = Path(settings.cache_dir)
        refusal = _why_not_interactive(settings)  # decided before any storage is touched
        if refusal and not storage.remembered_somewhere(directory):
            raise SourceUnavailable(f"no remembered sign-in, and {refusal}")
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise SourceFailed(
                f"cannot create the sign-in directory {directory}: {exc.strerror or exc}; "
                "set KEYRING_ADO_CACHE_DIR to a directory you can write"
            ) from None
        _private(directory)
        for name in storage.OWN_FILES:
            _regular_or_missing(directory / name, follow=False)  # a FIFO would block msal; a link, mislead it
        _regular_or_missing(settings.ca_bundle, follow=True)
        cache, not_kept = storage.open_cache(directory, allow_plaintext=settings.allow_unencrypted_cache)
        remembered = any(True for _ in cache.search(cache.CredentialType.ACCOUNT))  # local: no request yet
        if not remembered and refusal:
            if not_kept:
                raise SourceUnavailable(f"the remembered sign-in cannot be read ({not_kept}), and {refusal}")
            raise SourceUnavailable(f"no remembered sign-in, and {refusal}")
        try:
            with storage.cache_lock_errors(directory):
                return _sign_in(
                    feed, settings, directory, cache, remembered=remembered, not_kept=not_kept, refusal=refusal
                )
        except (OSError, ValueError) as exc:  # requests' errors are OSErrors; msal raises ValueError
            host = settings.authority_host or DEFAULT_AUTHORITY_HOST
            raise SourceFailed(f"could not reach Entra ID ({host}): {first_line(redact(str(exc)))}") from None


def _sign_in(
    feed: Feed,
    settings: Settings,
    directory: Path,
    cache: object,
    *,
    remembered: bool,
    not_kept: str | None,
    refusal: str | None,
) -> Token:
    app = _application(settings, authority_for(feed, settings).tenant, cache)
    token = _silent(app) if remembered else None
    if token is not None:
        return token
    if refusal:
        raise SourceUnavailable(f"the remembered sign-in has expired, and {refusal}")
    if not_kept:
        raise SourceFailed(
            f"cannot keep a sign-in encrypted on this machine ({not_kept}); set "
            "KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE=1 to keep it in an owner-only file instead, "
            "or use `az login` or KEYRING_ADO_PAT"
        )
    # One prompt for many processes; the browser and the device code each have their own deadline.
    with JsonFile(directory / "signin.json").locked(timeout=2 * settings.signin_timeout + 10):
        token = _silent(app)  # another process may have signed in while we waited
        return token if token is not None else _interactive(app, settings)


def _regular_or_missing(path: str | Path | None, *, follow: bool) -> None:
    """Nothing when *path* is unset, missing or a regular file (not a link unless *follow*);
    SourceFailed for anything else."""
    import os  # noqa: PLC0415
    import stat  # noqa: PLC0415

    if path is None:
        return
    try:
        mode = os.stat(path, follow_symlinks=follow).st_mode
    except OSError:
        return  # missing or unreachable: nothing there to block on
    if not stat.S_ISREG(mode):
        raise SourceFailed(
            f"{path} is not a regular file, so the sign-in does not read it; remove it and sign in again"
        )


def _private(directory: Path) -> None:
    """The sign-in keeps a refresh token: only in a directory that is the user's own and that nobody
    else can write to (where no one can plant a link for it to write through)."""
    from .._jsonfile import usable_directory  # noqa: PLC0415

    if not usable_directory(directory, create=False):
        raise SourceFailed(
            f"the sign-in directory {directory} is not yours alone (another user owns it or can write to it), "
            "so no sign-in is kept there; `chmod 700` it if it is yours, or set KEYRING_ADO_CACHE_DIR to a "
            "directory of your own"
        )


def forget(directory: Path) -> tuple[list[str], str | None]:
    """Forget the remembered sign-in in *directory*, for ``keyring-ado logout``: what was removed,
    and what could not be."""
    return storage.forget(directory)


def _application(settings: Settings, tenant: str, cache: Any) -> Any:  # noqa: ANN401 - msal's own types
    import msal  # noqa: PLC0415

    quiet_azure_loggers()
    host = entra_host(settings)
    broker = _broker_available()
    return msal.PublicClientApplication(
        settings.signin_client_id,
        enable_broker_on_windows=broker,
        enable_broker_on_mac=broker,
        authority=f"https://{host}/{tenant}",
        token_cache=cache,
        timeout=HTTP_TIMEOUT,
        instance_discovery=known_cloud(host),
        verify=settings.ca_bundle or True,
    )


def _silent(app: Any) -> Token | None:  # noqa: ANN401
    from msal_extensions import LockError  # noqa: PLC0415

    for account in app.get_accounts():
        try:
            result = app.acquire_token_silent([SCOPE], account=account)
        except LockError:
            raise  # the cache's lock, not the sign-in: said as such by the caller
        except Exception as exc:
            _log.debug("keyring-ado: silent sign-in failed: %s", type(exc).__name__)
            continue
        if result and "access_token" in result:
            return _token(result, "sign-in (remembered)")
    return None


def _interactive(app: Any, settings: Settings) -> Token:  # noqa: ANN401
    """A browser when there is a display (the broker's window where it is installed), else or after
    it a device code; each step has its own KEYRING_ADO_SIGNIN_TIMEOUT."""
    if settings.display:
        token = _broker(app, settings) if _broker_available() else _browser(app, settings)
        if token is not None:
            return token
    return _device_code(app, settings)


#: How long starting a browser may take (``webbrowser`` waits for some browser commands to exit).
BROWSER_START_TIMEOUT = 10.0


def _browser(app: Any, settings: Settings) -> Token | None:  # noqa: ANN401
    """A browser sign-in with a loopback redirect: the page is shown on the terminal at once, in
    case no browser opens. None (and a line saying so) when it fails or times out."""
    from .. import _loopback  # noqa: PLC0415

    deadline = time.monotonic() + settings.signin_timeout
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
            _say(
                terminal,
                f"the browser sign-in did not finish within {settings.signin_timeout:g} s; using a device code instead",
            )
            return None
        try:
            result = app.acquire_token_by_auth_code_flow(flow, response, scopes=[SCOPE])
        except ValueError:  # msal's own checks of the response (state, nonce)
            result = {"error": "invalid_response"}
        if "access_token" in result:
            return _token(result, "sign-in (browser)")
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
    import webbrowser  # noqa: PLC0415

    from .. import _deadline  # noqa: PLC0415

    try:
        return bool(_deadline.call(lambda: webbrowser.open(page), BROWSER_START_TIMEOUT, "the browser"))
    except _deadline.DeadlineExceeded:
        return True  # a browser command that waits for its window to close: it did start
    except Exception as exc:  # webbrowser.Error, OSError from a broken BROWSER
        _log.debug("keyring-ado: no browser: %s", type(exc).__name__)
        return False


def _broker(app: Any, settings: Settings) -> Token | None:  # noqa: ANN401
    """The Windows (WAM) or macOS broker's window, bounded by KEYRING_ADO_SIGNIN_TIMEOUT; None when it
    fails or does not finish in time (then a device code). Untested on the project's Linux machines
    beyond this bound."""
    from .. import _deadline  # noqa: PLC0415

    def ask() -> dict[str, Any]:
        result: dict[str, Any] = app.acquire_token_interactive(
            [SCOPE],
            prompt="select_account",
            timeout=int(settings.signin_timeout),
            parent_window_handle=app.CONSOLE_WINDOW_HANDLE,
        )
        return result

    try:
        result = _deadline.call(ask, settings.signin_timeout, "the sign-in broker")
    except Exception as exc:
        _log.debug("keyring-ado: the broker's sign-in did not finish (%s); using a device code", type(exc).__name__)
        return None
    return _token(result, "sign-in (broker)") if "access_token" in result else None


def _device_code(app: Any, settings: Settings) -> Token:  # noqa: ANN401
    deadline = time.monotonic() + settings.signin_timeout
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
        raise SourceFailed(f"Entra ID did not start a device-code sign-in: {_describe(flow)}")
    uri, code = _checked_prompt(flow, settings)
    flow["interval"] = _interval(flow.get("interval"))  # msal checks the deadline once per second of it
    with _terminal() as terminal:
        _say(terminal, f"to sign in, open {uri} in a browser and enter the code {code}")
        result = app.acquire_token_by_device_flow(flow, exit_condition=lambda _: time.monotonic() > deadline)
        if "access_token" not in result:
            if result.get("error") not in _STILL_WAITING:
                raise SourceFailed(refusal(result, "device-code sign-in"))
            raise SourceFailed(
                f"the sign-in did not complete within {settings.signin_timeout:g} s ({_describe(result)}); "
                "run `keyring get URL user` again, or raise KEYRING_ADO_SIGNIN_TIMEOUT"
            )
        _say(terminal, "signed in.")
    return _token(result, "sign-in (device code)")


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


def _checked_prompt(flow: dict[str, Any], settings: Settings) -> tuple[str, str]:
    """The device flow's verification URI and user code, checked, never Entra's free-text message:
    text from elsewhere never reaches the terminal. An https URI on a Microsoft sign-in host (or
    the authority host), and a short alphanumeric code; anything else is refused."""
    from urllib.parse import urlsplit  # noqa: PLC0415

    uri, code = str(flow.get("verification_uri", "")), str(flow.get("user_code", ""))
    try:
        parts = urlsplit(uri)
        host, scheme = (parts.hostname or "").lower(), parts.scheme
    except ValueError:
        host, scheme = "", ""
    allowed = _DEVICE_LOGIN_HOSTS | {entra_host(settings).partition(":")[0].lower()}
    plain = uri.isascii() and uri.isprintable() and not any(ch in uri for ch in "@\\")  # browsers read those apart
    trusted = bool(host) and scheme == "https" and host in allowed and plain
    if not trusted or not (code.isascii() and code.isalnum() and 4 <= len(code) <= 16):
        raise SourceFailed(
            "Entra ID started a device-code sign-in with a page or code that does not look like its own; "
            "nothing was shown. Sign in with `az login` instead, and check AZURE_AUTHORITY_HOST and the proxy"
        )
    return uri, code


def _broker_available() -> bool:
    """The Windows (WAM) or macOS broker, when the ``keyring-ado[broker]`` extra is installed.

    Untested on the project's Linux machines; it only ever turns on where msal supports it."""
    import importlib.util  # noqa: PLC0415

    return sys.platform in {"win32", "darwin"} and importlib.util.find_spec("pymsalruntime") is not None


def _why_not_interactive(settings: Settings) -> str | None:
    if settings.in_ci:
        return "this is a CI run (no one to answer a prompt)"
    if settings.non_interactive:
        return (
            "prompts are turned off (KEYRING_ADO_NONINTERACTIVE, ARTIFACTS_KEYRING_NONINTERACTIVE_MODE, "
            "PIP_NO_INPUT, TWINE_NON_INTERACTIVE, POETRY_NO_INTERACTION or PDM_NON_INTERACTIVE)"
        )
    if not _terminal_reachable():
        return "no terminal to show a sign-in prompt on"
    return None


def _terminal_reachable() -> bool:
    try:
        with open("/dev/tty", "w"):
            return True
    except OSError:
        return bool(sys.stderr and sys.stderr.isatty())


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


def _token(result: dict[str, Any], source: str) -> Token:
    given = result.get("expires_in", 3600)
    expires_in = float(given) if isinstance(given, int | float) and 0 < given < 86400 * 7 else 3600.0
    return Token(result["access_token"], Kind.ENTRA, source=source, expires_on=time.time() + expires_in)


#: What Entra answers a device-code poll with while the person has not finished: keep waiting.
_STILL_WAITING = frozenset({"authorization_pending", "slow_down", None})
#: Conditional Access refusals: device code is blocked, or the sign-in must come from a compliant
#: or managed device, or again after the sign-in frequency ran out.
CONDITIONAL_ACCESS = ("AADSTS50199", "AADSTS530033", "AADSTS53003", "AADSTS53000", "AADSTS53001", "AADSTS530034",
                      "AADSTS50097", "AADSTS70043", "AADSTS50133")  # fmt: skip


def refusal(result: dict[str, Any], what: str) -> str:
    """Why Entra refused *what*, with its own code and text, and what to use instead."""
    said = _describe(result)
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


def _describe(result: dict[str, Any]) -> str:
    return first_line(redact(str(result.get("error_description") or result.get("error") or "no detail")))
