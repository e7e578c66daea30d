"""Where our own sign-in is kept: the system's secret store or an owner-only file, msal-extensions'
lock files, the files a sign-in refuses to read, and `keyring-ado logout` (issue 14, items 1-3 and 11:
the sign-in never wedges, never hangs, and logout means logout)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from msal_extensions.persistence import PersistenceNotFound

from keyring_ado import _jsonfile, cli
from keyring_ado.errors import SourceFailed, SourceUnavailable
from keyring_ado.sources import _interactive, _msal, signin, signin_storage
from keyring_ado.sources.signin import SignInSource
from tests.conftest import AdoWorld
from tests.sources.signin_helpers import configured, lookup


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
                store.wait()
                if location not in store.secrets:
                    raise PersistenceNotFound(message="nothing kept")
                return store.secrets[location]

            def time_last_modified(self) -> float:
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
    store = FakeSecretStore()
    monkeypatch.setattr(_msal, "build_encrypted_persistence", store.persistence)
    yield store
    store.unlocked.set()  # let an abandoned probe thread end


def remembered(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, directory: Path) -> SignInSource:
    """A sign-in made earlier (device code, at a terminal), whose access token needs refreshing now,
    and the sign-in of a lookup where prompts are turned off."""
    monkeypatch.setattr(routed.entra, "token_lifetime", 120)  # msal refreshes under five minutes left: a write
    monkeypatch.setattr(signin, "terminal_reachable", lambda: True)
    monkeypatch.setattr(_interactive, "_terminal", lambda: contextlib.nullcontext(io.StringIO()))
    configured(routed, directory, allow_unencrypted_cache=True).get_token(lookup())
    monkeypatch.setattr(signin, "terminal_reachable", lambda: False)
    return configured(routed, directory, allow_unencrypted_cache=True, non_interactive=True)


def test_forget_removes_the_remembered_sign_in(routed: AdoWorld, terminal: io.StringIO, tmp_path: Path) -> None:
    """What `keyring-ado logout` calls: the sign-in's file goes, and the next lookup prompts again."""
    directory = tmp_path / "signin"
    source = configured(routed, directory, allow_unencrypted_cache=True)
    source.get_token(lookup())
    assert _msal.forget(directory) == ([str(directory / "msal-cache.json")], None)
    assert not (directory / "msal-cache.json").exists()
    assert _msal.forget(directory) == ([], None)
    terminal.truncate(0)
    source.get_token(lookup())
    assert "enter the code" in terminal.getvalue(), "nothing remembered: a new prompt"


def test_refuses_unencrypted_storage_without_opt_in(routed: AdoWorld, terminal: io.StringIO, tmp_path: Path) -> None:
    """No Secret Service here: no sign-in is kept in plain text unless the user allows it."""
    directory = tmp_path / "signin"
    with pytest.raises(SourceFailed, match="KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE=1"):
        configured(routed, directory).get_token(lookup())
    assert terminal.getvalue() == ""
    assert not list(directory.glob("msal-cache.json"))


def test_a_stale_msal_lock_file_does_not_block_the_sign_in(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A lock file left by a killed process (nobody holds it) is cleared: the remembered sign-in is
    refreshed and kept, at once; it used to fail every time, reported as "has expired"."""
    directory = tmp_path / "signin"
    source = remembered(routed, monkeypatch, directory)
    lock = directory / "msal-cache.json.lockfile"
    lock.write_text("4242 /usr/bin/keyring")
    routed.entra.log.clear()
    started = time.monotonic()
    token = source.get_token(lookup())
    assert token.source == "sign-in (remembered)"
    assert time.monotonic() - started < 4, "no wait on a lock nobody holds"
    assert len(routed.entra.grants("refresh_token")) == 1
    assert not lock.exists()
    cache = json.loads((directory / "msal-cache.json").read_text())
    assert any(t["secret"] == token.secret for t in cache["AccessToken"].values()), "the refreshed token was kept"


def test_a_lock_a_live_process_keeps_is_one_clear_line(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Another process holds the cache's lock past msal's own wait: one line naming the lock, not
    "the remembered sign-in has expired"."""
    directory = tmp_path / "signin"
    source = remembered(routed, monkeypatch, directory)
    lock = directory / "msal-cache.json.lockfile"
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
                source.get_token(lookup())
        finally:
            holder.kill()
    assert "kept the sign-in's cache locked" in str(failure.value)
    assert "msal-cache.json.lockfile" in str(failure.value)


def test_a_locked_secret_store_does_not_hang_a_non_interactive_lookup(
    routed: AdoWorld, secret_store: FakeSecretStore, tmp_path: Path
) -> None:
    """A locked login keyring waits for an unlock dialog for ever: in CI the lookup gives up on the
    store after its deadline with one line, instead of hanging with it."""
    directory = tmp_path / "signin"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "msal-cache.bin").touch()  # a sign-in is kept in the store
    secret_store.lock()
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as unavailable:
        configured(routed, directory, in_ci=True, non_interactive=True).get_token(lookup())
    took = time.monotonic() - started
    assert signin_storage.STORAGE_TIMEOUT <= took < signin_storage.STORAGE_TIMEOUT + 3
    assert "did not answer within 5 s" in str(unavailable.value)
    assert "CI run" in str(unavailable.value)
    assert secret_store.waited == 1


def test_nothing_remembered_and_no_person_touches_no_storage(
    routed: AdoWorld, secret_store: FakeSecretStore, tmp_path: Path
) -> None:
    """Non-interactive is decided before storage is opened: with nothing remembered, the store is not asked."""
    secret_store.lock()
    with pytest.raises(SourceUnavailable, match="no remembered sign-in"):
        configured(routed, tmp_path / "signin", in_ci=True).get_token(lookup())
    assert secret_store.waited == 0


def test_logout_clears_the_secret_store_even_without_its_marker(
    routed: AdoWorld, terminal: io.StringIO, secret_store: FakeSecretStore, tmp_path: Path
) -> None:
    """The marker file beside the cache is gone (a cleaned cache directory), the secret is not:
    `keyring-ado logout` clears it all the same."""
    directory = tmp_path / "signin"
    configured(routed, directory).get_token(lookup())
    (location,) = secret_store.secrets
    assert json.loads(secret_store.secrets[location])["RefreshToken"]
    (directory / "msal-cache.bin").unlink()
    assert _msal.forget(directory) == (["the encrypted sign-in (msal-cache.bin)"], None)
    assert secret_store.secrets[location] == "{}"
    assert _msal.forget(directory) == ([], None)


def test_a_plaintext_sign_in_moves_into_encrypted_storage_once_there_is_one(
    routed: AdoWorld, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A sign-in kept in an owner-only file before the machine had a secret store: once the store is
    there, the sign-in moves into it and no refresh token stays in plain text."""
    directory = tmp_path / "signin"
    source = configured(routed, directory, allow_unencrypted_cache=True)
    source.get_token(lookup())
    plaintext = directory / "msal-cache.json"
    assert plaintext.exists()
    store = FakeSecretStore()
    monkeypatch.setattr(_msal, "build_encrypted_persistence", store.persistence)
    terminal.truncate(0)
    token = source.get_token(lookup())
    assert token.source == "sign-in (remembered)"
    assert terminal.getvalue() == ""
    assert not plaintext.exists()
    (kept,) = store.secrets.values()
    assert json.loads(kept)["RefreshToken"]


# --- what an outside attack on the above found (each failed before its fix) -------------------------


def test_no_sign_in_is_kept_in_a_directory_others_can_write(
    routed: AdoWorld, terminal: io.StringIO, tmp_path: Path
) -> None:
    """Another user could plant a link at msal-cache.json there and collect the refresh token."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    victim = tmp_path / "elsewhere.json"
    (shared / "msal-cache.json").symlink_to(victim)
    _jsonfile.forget_refusals()
    with pytest.raises(SourceFailed, match="is not yours alone"):
        configured(routed, shared, allow_unencrypted_cache=True).get_token(lookup())
    assert not victim.exists()
    assert terminal.getvalue() == ""


@pytest.mark.parametrize(
    "case",
    [(name, kind) for name in ("msal-cache.json", "msal-cache.json.lockfile", "msal-cache.bin.lockfile")
     for kind in ("link", "fifo")],
    ids="-".join,
)  # fmt: skip
def test_a_link_or_fifo_among_the_sign_ins_files_is_refused(
    routed: AdoWorld, terminal: io.StringIO, tmp_path: Path, case: tuple[str, str]
) -> None:
    """msal-extensions opens its lock file 'wb+' (a link there truncated its target) and waits 5 s on
    a FIFO before failing after the person has signed in: refused up front, the target untouched."""
    name, kind = case
    directory = tmp_path / "signin"
    directory.mkdir(parents=True, mode=0o700, exist_ok=True)
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    if kind == "link":
        (directory / name).symlink_to(target)
    else:
        os.mkfifo(directory / name)
    with pytest.raises(SourceFailed, match="is not a regular file"):
        configured(routed, directory, allow_unencrypted_cache=True).get_token(lookup())
    assert target.read_text() == "keep me"
    assert terminal.getvalue() == ""


def test_a_plaintext_cache_that_is_not_private_is_left_alone(secret_store: FakeSecretStore, tmp_path: Path) -> None:
    """A plaintext cache others can read is not read, so it is not removed either (it was deleted)."""
    directory = tmp_path / "signin"
    directory.mkdir(parents=True, mode=0o700, exist_ok=True)
    (directory / "msal-cache.json").write_text('{"RefreshToken": {}}')
    (directory / "msal-cache.json").chmod(0o644)
    _msal.open_cache(directory, allow_plaintext=False)
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
    directory = tmp_path / "signin-cache"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("KEYRING_ADO_CACHE_DIR", str(directory))
    _jsonfile.forget_refusals()
    secret_store.persistence(str(directory / "msal-cache.bin")).save('{"RefreshToken": {"x": {}}}')  # type: ignore[attr-defined]
    monkeypatch.setattr(signin_storage, "STORAGE_TIMEOUT", 0.5)
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
