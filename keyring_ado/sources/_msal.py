"""msal's side of our own sign-in, for :mod:`.signin`: the token cache and the storage it is persisted
on, the public client application, a silent answer from the cache, and the one prompt for many
processes.

msal and msal-extensions (with requests) cost 0.12 s to import: this module is imported only where a
token is really asked for (:meth:`.signin.SignInSource.get_token`) and by ``keyring-ado logout``
(:func:`.signin_storage.forget`), never by a lookup answered without the sign-in.

* The encrypted storage is opened and read in a thread with a deadline: a locked login keyring (Secret
  Service) or Keychain waits for an unlock dialog that no one may answer, and a lookup must not wait
  with it. Past :data:`.signin_storage.STORAGE_TIMEOUT` the sign-in goes on as if there were no
  encrypted storage.
* msal-extensions guards each cache write with ``<cache>.lockfile``; one left by a killed process is
  removed before msal waits on it (:func:`.signin_storage.clear_stale_lock`). A lock another process
  keeps holding is one clear line.
* Once the encrypted storage is in use, a plaintext cache kept earlier is removed: a refresh token
  does not stay in a file the user no longer needs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msal
from msal_extensions import FilePersistence, LockError, PersistedTokenCache, build_encrypted_persistence
from msal_extensions.persistence import PersistenceNotFound

from .. import _deadline
from .._jsonfile import CannotRemove, JsonFile, read_private
from .._redact import first_line
from ..errors import SourceFailed
from ..token import Kind, Token
from . import signin_storage as storage
from ._entra import SCOPE, known_cloud, quiet_azure_loggers

if TYPE_CHECKING:
    from collections.abc import Iterator

_log = logging.getLogger(__name__)
HTTP_TIMEOUT = 15


def open_cache(directory: Path, *, allow_plaintext: bool) -> tuple[Any, str | None]:
    """``(cache, None)`` when sign-ins can be kept as the policy allows; else an in-memory cache and why."""
    timeout = storage.STORAGE_TIMEOUT
    try:
        persistence = _deadline.call(
            lambda: _encrypted(directory), timeout, "the system's encrypted storage (login keyring)"
        )
    except _deadline.DeadlineExceeded:
        reason = (
            f"no encrypted storage: the system's secret store did not answer within {timeout:g} s "
            "(a locked login keyring waits for an unlock dialog)"
        )
    except Exception as exc:  # no Secret Service, no gi, no Keychain access: whatever the platform raises
        reason = f"no encrypted storage: {first_line(str(exc))}"
    else:
        _adopt_plaintext(directory, persistence)
        return _persisted(persistence), None
    _log.debug("keyring-ado: %s", reason)
    if allow_plaintext:
        path = directory / storage.FILE_CACHE
        persistence = FilePersistence(str(path))
        if not path.exists():
            persistence.save("{}")
        path.chmod(0o600)
        return _persisted(persistence), None
    return msal.TokenCache(), reason


@contextlib.contextmanager
def cache_lock_errors(directory: Path) -> Iterator[None]:
    """msal-extensions' LockError (another process kept the cache's lock past msal's own wait) as one line."""
    try:
        yield
    except LockError:
        raise SourceFailed(
            f"another process kept the sign-in's cache locked ({directory / storage.ENCRYPTED_CACHE}.lockfile or "
            f"{storage.FILE_CACHE}.lockfile); try again, and if no keyring-ado process is running, remove that file"
        ) from None


def application(
    client_id: str,
    *,
    host: str,
    tenant: str,
    cache: Any,  # noqa: ANN401 - msal's own types
    ca_bundle: str | None,
) -> Any:  # noqa: ANN401
    """msal's public client for *client_id*, signing in at *host* for *tenant*, over *cache*."""
    quiet_azure_loggers()
    broker = broker_available()
    return msal.PublicClientApplication(
        client_id,
        enable_broker_on_windows=broker,
        enable_broker_on_mac=broker,
        authority=f"https://{host}/{tenant}",
        token_cache=cache,
        timeout=HTTP_TIMEOUT,
        instance_discovery=known_cloud(host),
        verify=ca_bundle or True,
    )


def silent(app: Any) -> Token | None:  # noqa: ANN401
    """A token from the remembered sign-in (refreshed when it must be), without a prompt; None when none."""
    for account in app.get_accounts():
        try:
            result = app.acquire_token_silent([SCOPE], account=account)
        except LockError:
            raise  # the cache's lock, not the sign-in: said as such by cache_lock_errors
        except Exception as exc:
            _log.debug("keyring-ado: silent sign-in failed: %s", type(exc).__name__)
            continue
        if result and "access_token" in result:
            return token_from(result, "sign-in (remembered)")
    return None


def sign_in(
    app: Any,  # noqa: ANN401
    directory: Path,
    *,
    timeout: float,
    display: bool,
    host: str,
    secrets: tuple[str, ...],
) -> Token:
    """One prompt for many processes: the sign-in holds a lock file in *directory*; whoever waited on
    it looks in the cache again before prompting (:func:`._interactive.sign_in`, whose browser and
    device code each have their own *timeout*)."""
    from . import _interactive  # noqa: PLC0415 - its browser and loopback server: only when a person signs in

    with JsonFile(directory / "signin.json").locked(timeout=2 * timeout + 10):
        token = silent(app)  # another process may have signed in while we waited
        if token is not None:
            return token
        return _interactive.sign_in(app, timeout=timeout, display=display, host=host, secrets=secrets)


def token_from(result: dict[str, Any], source: str) -> Token:
    """The access token of msal's *result* (its lifetime kept within a week, else an hour)."""
    given = result.get("expires_in", 3600)
    expires_in = float(given) if isinstance(given, int | float) and 0 < given < 86400 * 7 else 3600.0
    return Token(result["access_token"], Kind.ENTRA, source=source, expires_on=time.time() + expires_in)


def broker_available() -> bool:
    """The Windows (WAM) or macOS broker, when the ``keyring-ado[broker]`` extra is installed.

    Untested on the project's Linux machines; it only ever turns on where msal supports it."""
    return sys.platform in {"win32", "darwin"} and importlib.util.find_spec("pymsalruntime") is not None


class NoStore(Exception):
    """The platform's encrypted storage cannot be opened at all (no Secret Service, no gi)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clear_encrypted(directory: Path) -> bool:
    """Overwrite the encrypted entry of *directory*; True when it held a sign-in. :class:`NoStore`
    when there is no encrypted storage on this machine."""
    try:
        persistence = build_encrypted_persistence(str(directory / storage.ENCRYPTED_CACHE))
    except Exception as exc:
        raise NoStore(f"no encrypted storage: {first_line(str(exc))}") from exc
    try:
        held = persistence.load() not in (None, "", "{}")
    except PersistenceNotFound:
        return False
    persistence.save("{}")
    return held


def _encrypted(directory: Path) -> Any:  # noqa: ANN401 - msal-extensions' persistence
    """The platform's encrypted persistence, opened and read once (so a locked store shows now)."""
    persistence = build_encrypted_persistence(str(directory / storage.ENCRYPTED_CACHE))
    try:
        persistence.load()
    except PersistenceNotFound:
        persistence.save("{}")  # so a store that cannot be written shows now, not after a sign-in
    return persistence


def _persisted(persistence: Any) -> Any:  # noqa: ANN401
    storage.clear_stale_lock(Path(persistence.get_location() + ".lockfile"))
    return PersistedTokenCache(persistence)


def _adopt_plaintext(directory: Path, persistence: Any) -> None:  # noqa: ANN401
    """A plaintext cache kept before encrypted storage was available does not outlive it: its sign-in
    moves into the encrypted store (when that holds none yet) and the file is removed."""
    path = directory / storage.FILE_CACHE
    try:
        plaintext = read_private(path)
    except OSError:
        return  # missing (the usual case), or unreadable: left alone
    if plaintext is None:
        return  # not ours, or others can read it: not read, so not removed either
    try:
        if plaintext and persistence.load() in (None, "", "{}"):
            persistence.save(plaintext.decode("utf-8"))
        JsonFile(path).clear()
        _log.debug("keyring-ado: moved the plaintext sign-in cache into the encrypted one and removed it")
    except (CannotRemove, ValueError, OSError) as exc:
        _log.debug("keyring-ado: kept %s: %s", path, first_line(str(exc)))


def forget(directory: Path) -> tuple[list[str], str | None]:
    """Forget the remembered sign-in in *directory*, for ``keyring-ado logout``: what was removed,
    and what could not be (one line), if anything.

    The encrypted entry is cleared even when its marker file is gone (the secret store keeps the
    entry without it). When the store cannot be reached or does not answer in time, the marker is
    kept and that is said: a sign-in left in a locked keyring must not look forgotten."""
    removed = [str(directory / storage.FILE_CACHE)] if JsonFile(directory / storage.FILE_CACHE).clear() else []
    marker = directory / storage.ENCRYPTED_CACHE
    try:
        cleared = _deadline.call(lambda: clear_encrypted(directory), storage.STORAGE_TIMEOUT, "the encrypted storage")
    except NoStore as exc:
        if marker.exists() and sys.platform != "win32":
            return removed, _not_cleared(exc.reason)
        cleared = False  # no store on this machine: nothing can be kept in one
    except Exception as exc:  # a locked or broken store, or one that did not answer in time
        return removed, _not_cleared(first_line(str(exc)))
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()  # the marker (on Windows, the encrypted file itself, now empty)
    if cleared:
        removed.append(f"the encrypted sign-in ({storage.ENCRYPTED_CACHE})")
    return removed, None


def _not_cleared(reason: str) -> str:
    return (
        f"the encrypted sign-in could not be cleared ({reason}); unlock the login keyring (or Keychain) and run "
        "`keyring-ado logout` again"
    )
