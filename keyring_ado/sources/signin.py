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
  the terminal, never on stdout (:mod:`._interactive`). Bounded by ``KEYRING_ADO_SIGNIN_TIMEOUT``
  (180 s).
* One prompt for many processes: the sign-in holds a lock file; whoever waited on it looks in the
  cache again before prompting.
* Everything that needs msal is in :mod:`._msal`, imported once, when a token is really asked for:
  ``identity()``, and a refusal decided before any storage is touched, import neither msal nor
  requests (0.12 s).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .._jsonfile import usable_directory
from .._redact import first_line, redact
from ..discovery import DEFAULT_AUTHORITY_HOST
from ..errors import SourceFailed, SourceUnavailable
from ..settings import DEFAULT_SIGNIN_CLIENT_ID, DEFAULT_SIGNIN_TIMEOUT
from . import signin_storage as storage
from ._entra import Entra
from .base import Identity, Source

if TYPE_CHECKING:
    from ..token import Token
    from .base import Request


class SignInSource(Source):
    """Entra ID sign-in of a person, remembered across processes."""

    name = "sign-in"

    def __init__(
        self,
        *,
        cache_dir: str | None = None,
        client_id: str = DEFAULT_SIGNIN_CLIENT_ID,
        timeout: float = DEFAULT_SIGNIN_TIMEOUT,
        allow_unencrypted_cache: bool = False,
        display: bool = False,
        in_ci: bool = False,
        non_interactive: bool = False,
        tenant: str | None = None,
        entra: Entra = Entra(),  # noqa: B008 - an immutable record
    ) -> None:
        self.cache_dir = cache_dir
        """Where the sign-in is remembered; None (``KEYRING_ADO_CACHE=off``) leaves the source off."""
        self.client_id, self.timeout, self.tenant = client_id, timeout, tenant
        self.allow_unencrypted_cache = allow_unencrypted_cache
        self.display = display
        """A graphical session a browser could open in: a browser first, else only a device code."""
        self.in_ci, self.non_interactive = in_ci, non_interactive
        self.entra = entra

    def identity(self, request: Request) -> Identity:
        """The application, cloud and tenant override a sign-in is for, and the directory it is
        kept in (another directory is another person's sign-in); its files, so that a logout by
        another process is noticed by a running one. Unavailable at once, before any storage or
        network is touched, when nothing is remembered and no person can answer."""
        directory, _refusal = self._directory()
        kept = os.path.abspath(directory)
        files = tuple(os.path.join(kept, name) for name in (storage.ENCRYPTED_CACHE, storage.FILE_CACHE))
        return Identity("msal", (self.entra.host, self.client_id, self.tenant or "", kept), files=files)

    def get_token(self, request: Request) -> Token:
        directory, refusal = self._directory()  # decided before any storage is touched
        _prepare(directory, self.entra.ca_bundle)
        from . import _msal  # noqa: PLC0415 - msal and requests cost 0.12 s: only when a token is asked for

        cache, not_kept = _msal.open_cache(directory, allow_plaintext=self.allow_unencrypted_cache)
        remembered = any(True for _ in cache.search(cache.CredentialType.ACCOUNT))  # local: no request yet
        if not remembered and refusal:
            if not_kept:
                raise SourceUnavailable(f"the remembered sign-in cannot be read ({not_kept}), and {refusal}")
            raise SourceUnavailable(f"no remembered sign-in, and {refusal}")
        try:
            with _msal.cache_lock_errors(directory):
                host = self.entra.host
                tenant = request.authority().tenant
                app = _msal.application(
                    self.client_id, host=host, tenant=tenant, cache=cache, ca_bundle=self.entra.ca_bundle
                )
                token = _msal.silent(app) if remembered else None
                if token is not None:
                    return token
                _may_prompt(refusal, not_kept)
                return _msal.sign_in(
                    app, directory, timeout=self.timeout, display=self.display, host=host, secrets=self.entra.secrets
                )
        except (OSError, ValueError) as exc:  # requests' errors are OSErrors; msal raises ValueError
            host = self.entra.authority_host or DEFAULT_AUTHORITY_HOST
            raise SourceFailed(
                f"could not reach Entra ID ({host}): {first_line(redact(str(exc), self.entra.secrets))}"
            ) from None

    def _directory(self) -> tuple[Path, str | None]:
        """Where the sign-in is kept, and why no person can answer (None when one can).
        SourceUnavailable when there is nowhere to keep it, or nothing is remembered and no one can answer."""
        if self.cache_dir is None:
            raise SourceUnavailable("KEYRING_ADO_CACHE=off, and a sign-in needs somewhere to be remembered")
        directory = Path(self.cache_dir)
        refusal = _why_not_interactive(self)
        if refusal and not storage.remembered_somewhere(directory):
            raise SourceUnavailable(f"no remembered sign-in, and {refusal}")
        return directory, refusal


def _prepare(directory: Path, ca_bundle: str | None) -> None:
    """The sign-in's directory made, and checked to be the user's alone; the files msal will read
    checked to be regular files (a FIFO would block msal; a link, mislead it)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SourceFailed(
            f"cannot create the sign-in directory {directory}: {exc.strerror or exc}; "
            "set KEYRING_ADO_CACHE_DIR to a directory you can write"
        ) from None
    _private(directory)
    for name in storage.OWN_FILES:
        _regular_or_missing(directory / name, follow=False)
    _regular_or_missing(ca_bundle, follow=True)


def _may_prompt(refusal: str | None, not_kept: str | None) -> None:
    """Nothing when a person may be asked to sign in now; else why not, as the source's error."""
    if refusal:
        raise SourceUnavailable(f"the remembered sign-in has expired, and {refusal}")
    if not_kept:
        raise SourceFailed(
            f"cannot keep a sign-in encrypted on this machine ({not_kept}); set "
            "KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE=1 to keep it in an owner-only file instead, "
            "or use `az login` or KEYRING_ADO_PAT"
        )


def _regular_or_missing(path: str | Path | None, *, follow: bool) -> None:
    """Nothing when *path* is unset, missing or a regular file (not a link unless *follow*);
    SourceFailed for anything else."""
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
    if not usable_directory(directory, create=False):
        raise SourceFailed(
            f"the sign-in directory {directory} is not yours alone (another user owns it or can write to it), "
            "so no sign-in is kept there; `chmod 700` it if it is yours, or set KEYRING_ADO_CACHE_DIR to a "
            "directory of your own"
        )


def _why_not_interactive(source: SignInSource) -> str | None:
    if source.in_ci:
        return "this is a CI run (no one to answer a prompt)"
    if source.non_interactive:
        return (
            "prompts are turned off (KEYRING_ADO_NONINTERACTIVE, ARTIFACTS_KEYRING_NONINTERACTIVE_MODE, "
            "PIP_NO_INPUT, TWINE_NON_INTERACTIVE, POETRY_NO_INTERACTION or PDM_NON_INTERACTIVE)"
        )
    if not terminal_reachable():
        return "no terminal to show a sign-in prompt on"
    return None


def terminal_reachable() -> bool:
    """A terminal to prompt on: ``/dev/tty``, else stderr when it is one."""
    try:
        with open("/dev/tty", "w"):
            return True
    except OSError:
        return bool(sys.stderr and sys.stderr.isatty())
