"""The cross-process token cache: what it keeps, how it survives damage, and that processes share it."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import resource
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from keyring_ado import cache
from keyring_ado.cache import TokenCache
from keyring_ado.token import Kind, Token
from tests.fakes.az import FakeAz, jwt
from tests.helpers import feed, process_env

URL = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/"
UPLOAD = "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/upload/"


def entra(lifetime: float = 3600, source: str = "az") -> Token:
    secret = jwt(lifetime=lifetime)
    return Token(secret, Kind.ENTRA, source=source, expires_on=time.time() + lifetime)


def test_round_trip_private_file(tmp_path: Path) -> None:
    """A stored Entra token comes back for any URL of the organisation, from an owner-only file."""
    store = TokenCache(tmp_path / "c")
    token = entra()
    store.put(feed(), "az", token)
    again = store.get(feed("https://contoso.pkgs.visualstudio.com/_packaging/other/pypi/simple/"), "az")
    assert again is not None
    assert (again.secret, again.kind, again.source) == (token.secret, Kind.ENTRA, "az (cached)")
    assert stat.S_IMODE(os.stat(tmp_path / "c").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.get(feed("https://pkgs.dev.azure.com/fabrikam/_packaging/f/pypi/simple/"), "az") is None
    assert store.get(feed(), "sp:11111111-2222-3333-4444-555555555555") is None, "another sign-in's token"


def test_never_pats_or_job_tokens(tmp_path: Path) -> None:
    """PATs and pipeline job tokens are never written to disk."""
    store = TokenCache(tmp_path)
    store.put(feed(), "az", Token("pat", Kind.PAT, source="KEYRING_ADO_PAT"))
    store.put(feed(), "az", Token("job", Kind.JOB, source="SYSTEM_ACCESSTOKEN", expires_on=time.time() + 3600))
    assert not store.path.exists()


def test_margins_read_and_upload(tmp_path: Path) -> None:
    """Reads need 10 minutes left, uploads 20; an expiring token is not served."""
    store = TokenCache(tmp_path)
    store.put(feed(), "az", entra(lifetime=cache.READ_MARGIN + 120))
    assert store.get(feed(), "az") is not None
    assert store.get(feed(UPLOAD), "az") is None
    store.put(feed(), "az", entra(lifetime=cache.READ_MARGIN - 60))
    assert store.get(feed(), "az") is None


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"format": 1, "entries": {"dev.azure.com|contoso": {"secret": "x"', b"[]", b'{"format": 99}', b""],
    ids=["garbage", "truncated", "list", "future-format", "empty"],
)
def test_corrupt_file_is_ignored_and_rebuilt(tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """A damaged file reads as empty, with a debug line, and the next write replaces it."""
    caplog.set_level(logging.DEBUG, logger="keyring_ado")
    store = TokenCache(tmp_path)
    store.path.write_bytes(content)
    store.path.chmod(0o600)
    assert store.get(feed(), "az") is None
    assert "it will be rebuilt" in caplog.text
    token = entra()
    store.put(feed(), "az", token)
    assert json.loads(store.path.read_text())["format"] == cache.FORMAT
    assert store.get(feed(), "az") is not None


def test_bad_entries_are_skipped(tmp_path: Path) -> None:
    """An entry with a missing field or a kind we never store is ignored."""
    store = TokenCache(tmp_path)
    entries = {
        "dev.azure.com|contoso|az": {"secret": "s", "kind": "PAT", "source": "x", "username": "u", "expires_on": 9e12}
    }
    store.path.write_text(json.dumps({"format": cache.FORMAT, "entries": entries}))
    store.path.chmod(0o600)
    assert store.get(feed(), "az") is None


def test_file_others_can_read_is_not_trusted(tmp_path: Path) -> None:
    """A cache file with group or world permissions is ignored (someone else may have written it)."""
    store = TokenCache(tmp_path)
    store.put(feed(), "az", entra())
    store.path.chmod(0o644)
    assert store.get(feed(), "az") is None


def test_unwritable_location_is_harmless(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A cache directory that cannot be made (read-only or full home) costs a debug line, nothing more."""
    caplog.set_level(logging.DEBUG, logger="keyring_ado")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = TokenCache(blocker / "cache")
    store.put(feed(), "az", entra())
    assert store.get(feed(), "az") is None
    with store.locked(timeout=0.1) as acquired:
        assert not acquired
    assert "could not write" in caplog.text


def test_lock_is_exclusive_and_bounded(tmp_path: Path) -> None:
    """While one holder has the lock, another waits at most its timeout and goes on unlocked."""
    store = TokenCache(tmp_path)

    def try_lock() -> bool:
        with store.locked(timeout=0.3) as got:
            return got

    with store.locked(timeout=1) as first:
        assert first
        started = time.monotonic()
        with ThreadPoolExecutor(1) as pool:
            second = pool.submit(try_lock).result()
        assert second is False
        assert 0.25 < time.monotonic() - started < 2


def test_clear(tmp_path: Path) -> None:
    """clear() removes the file and says whether there was one."""
    store = TokenCache(tmp_path)
    assert not store.clear()
    store.put(feed(), "az", entra())
    assert store.clear()
    assert not store.path.exists()


def keyring_get(env: dict[str, str], preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "keyring", "get", URL, "VssSessionToken"],
        env=env,
        preexec_fn=preexec_fn,  # noqa: PLW1509 - only to set a resource limit (the full-disk test)
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def test_later_processes_do_not_run_az(tmp_path: Path, fake_az: FakeAz) -> None:
    """The first process runs az; the next ones are served from the file, with no az call."""
    token = jwt()
    fake_az.configure("token", token)
    env = process_env(tmp_path, fake_az.directory)
    for _ in range(3):
        process = keyring_get(env)
        out, err = process.communicate(timeout=60)
        assert (process.returncode, out, err) == (0, token + "\n", "")
    assert len(fake_az.calls) == 1


def test_parallel_cold_processes_run_az_once(tmp_path: Path, fake_az: FakeAz) -> None:
    """Six processes started together with a cold cache: one az call, every one gets the token."""
    token = jwt()
    fake_az.configure("token", token, delay=1.0)
    env = process_env(tmp_path, fake_az.directory)
    processes = [keyring_get(env) for _ in range(6)]
    results = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [0] * 6
    assert all(out == token + "\n" for out, _ in results)
    assert len(fake_az.calls) == 1
    assert json.loads((tmp_path / "cache" / "keyring-ado" / "tokens.json").read_text())["format"] == cache.FORMAT


def test_cache_off(tmp_path: Path, fake_az: FakeAz) -> None:
    """KEYRING_ADO_CACHE=off: nothing is written, and every process runs az."""
    fake_az.configure("token", jwt())
    env = process_env(tmp_path, fake_az.directory)
    env["KEYRING_ADO_CACHE"] = "off"
    for _ in range(2):
        process = keyring_get(env)
        process.communicate(timeout=60)
        assert process.returncode == 0
    assert len(fake_az.calls) == 2
    assert not (tmp_path / "cache" / "keyring-ado" / "tokens.json").exists()


CACHED_PROBE = r"""
import json, sys
import keyring
secret = keyring.get_password(sys.argv[1], "user")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("msal", "azure", "requests", "urllib3")
               or m == "keyring_ado._process")
json.dump({"ok": bool(secret), "heavy": heavy}, open(sys.argv[2], "w"))
"""


def test_cached_lookup_runs_nothing_and_imports_nothing_heavy(tmp_path: Path, fake_az: FakeAz) -> None:
    """Served from the cache: no az process, no subprocess code, no msal/azure/requests/urllib3."""
    fake_az.configure("token", jwt())
    env = process_env(tmp_path, fake_az.directory)
    warm = keyring_get(env)
    warm.communicate(timeout=60)
    out = tmp_path / "probe.json"
    subprocess.run([sys.executable, "-c", CACHED_PROBE, URL, str(out)], env=env, check=True, timeout=60)
    assert json.loads(out.read_text()) == {"ok": True, "heavy": []}
    assert len(fake_az.calls) == 1


@pytest.mark.skipif(sys.platform != "win32", reason="DPAPI exists only on Windows")
def test_dpapi_round_trip(tmp_path: Path) -> None:
    """On Windows the stored secret is DPAPI-encrypted and still reads back."""
    store = TokenCache(tmp_path)
    token = entra()
    store.put(feed(), "az", token)
    assert token.secret not in store.path.read_text()
    again = store.get(feed(), "az")
    assert again is not None
    assert again.secret == token.secret


def test_another_az_login_does_not_get_the_cached_token(tmp_path: Path, fake_az: FakeAz) -> None:
    """Entries are per sign-in: with another AZURE_CONFIG_DIR (another az login), az runs again."""
    fake_az.configure("token", jwt())
    env = process_env(tmp_path, fake_az.directory)
    for config_dir in ("", str(tmp_path / "other-az"), ""):
        process = keyring_get({**env, "AZURE_CONFIG_DIR": config_dir} if config_dir else env)
        process.communicate(timeout=60)
        assert process.returncode == 0
    assert len(fake_az.calls) == 2


def test_two_cached_sources_in_one_lookup_do_not_wait_on_each_other(tmp_path: Path, fake_az: FakeAz) -> None:
    """az and azd both miss: each holds the cache's lock only for its own fetch, so no self-wait."""
    from tests.fakes.az import FakeAzd

    azd = FakeAzd(fake_az.directory)  # both on PATH, both not logged in
    assert azd.calls == []
    env = process_env(tmp_path, fake_az.directory)
    env["KEYRING_ADO_TENANT"] = "organizations"
    started = time.monotonic()
    process = keyring_get(env)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "az (az is not logged in" in err
    assert "azd (azd is not logged in" in err
    assert time.monotonic() - started < 10


def test_full_disk_is_harmless(tmp_path: Path, fake_az: FakeAz) -> None:
    """A disk that fills up while the cache is written (RLIMIT_FSIZE makes every write past 4 KiB
    fail, as a full disk would): the lookup still answers, says nothing, and leaves no partial file."""
    token = jwt(padding="x" * 6000)  # a cache entry larger than the limit
    fake_az.configure("token", token)
    cache = tmp_path / "cache" / "keyring-ado"
    env = process_env(
        tmp_path,
        fake_az.directory,
        KEYRING_ADO_TENANT="72f988bf-86f1-41af-91ab-2d7cd011db47",
        PYTHONDONTWRITEBYTECODE="1",
    )

    def full_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    full = keyring_get(env, preexec_fn=full_disk)
    out, err = full.communicate(timeout=60)
    assert (full.returncode, out, err) == (0, token + "\n", "")
    assert not [p.name for p in cache.iterdir() if p.name.startswith(".tokens")], "no temp left"
    assert not (cache / "tokens.json").exists()
    # Room again: the next process asks az once more and keeps the token.
    again = keyring_get(env)
    assert again.communicate(timeout=60)[0] == token + "\n"
    assert again.returncode == 0
    assert len(fake_az.calls) == 2
    assert (cache / "tokens.json").exists()


def test_dpapi_reads_its_own_error_code() -> None:
    """Issue 14, item 12: crypt32 is loaded with use_last_error=True and the error read with
    ctypes.get_last_error(), so the code reported is DPAPI's, not whatever ran after it. (Windows
    runs the round trip above; this holds the source to it on every system.)"""
    import ast

    source = (Path(cache.__file__).parent / "_dpapi.py").read_text()
    tree = ast.parse(source)
    calls = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Call)]
    assert "ctypes.WinDLL('crypt32', use_last_error=True)" in calls
    assert "ctypes.get_last_error()" in calls
    assert "GetLastError" not in source
    assert "windll" not in source


def stored(store: TokenCache, entries: dict[str, object]) -> None:
    """*entries* as the file holds them, owner-only."""
    store.path.write_text(json.dumps({"format": cache.FORMAT, "entries": entries}))
    store.path.chmod(0o600)


def entry(expires_on: float, **fields: object) -> dict[str, object]:
    good = {"secret": "s3cr3t", "kind": "ENTRA", "source": "az", "username": "alice@contoso.com"}
    return {**good, "expires_on": expires_on, **fields}


def test_an_entry_comes_back_exactly_as_it_was_stored(tmp_path: Path) -> None:
    """Secret, kind, source (marked as cached), user name and expiry, each as written."""
    store = TokenCache(tmp_path)
    expires_on = time.time() + 3600
    stored(store, {"dev.azure.com|contoso|az": entry(expires_on)})
    assert store.get(feed(), "az") == Token(
        "s3cr3t", Kind.ENTRA, source="az (cached)", username="alice@contoso.com", expires_on=expires_on
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"secret": 1},
        {"secret": ""},
        {"secret": "dpapi:AQAAANCMnd8BFdERjHoAwE/Cl+sBAAAA"},
        {"kind": ["ENTRA"]},
        {"kind": "PAT"},
        {"kind": "ENTRAX"},
        {"source": 1},
        {"source": ""},
        {"username": None},
        {"username": 1},
        {"username": ""},
    ],
    ids=lambda fields: repr(fields)[1:-1],
)
def test_an_entry_with_one_field_wrong_is_not_served(tmp_path: Path, fields: dict[str, object]) -> None:
    """Each field judged on its own, the expiry being good (the entries of test_cache_files claim
    to live past the day a token may, and were refused for that alone): a secret, kind, source or
    user name of the wrong type or empty, a kind never stored, and a secret DPAPI encrypted on
    Windows (it cannot be read here; it is never served as it stands). Never an exception."""
    store = TokenCache(tmp_path)
    stored(store, {"dev.azure.com|contoso|az": entry(time.time() + 3600, **fields)})
    assert store.get(feed(), "az") is None


class FrozenClock:
    """The ``time`` module as the cache sees it, stopped at *now*."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def test_entries_at_the_edges_of_their_lifetime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write keeps what is alive: not what expires this very second, not what claims more than
    a day (a day exactly is believed), not what is no entry at all."""
    now = 1_800_000_000.0
    monkeypatch.setattr(cache, "time", FrozenClock(now))
    store = TokenCache(tmp_path)
    stored(
        store,
        {
            "expires now": entry(now),
            "a second left": entry(now + 1),
            "a day left": entry(now + cache.MAX_LIFETIME),
            "a day and a second": entry(now + cache.MAX_LIFETIME + 1),
            "not an entry": "s3cr3t",
        },
    )
    store.put(feed(), "az", Token(jwt(), Kind.ENTRA, source="az", expires_on=now + 3600))
    kept = json.loads(store.path.read_text())["entries"]
    assert set(kept) == {"a second left", "a day left", "dev.azure.com|contoso|az"}


PARTS = ("az", "alice")
MESSAGE = json.dumps(PARTS).encode()


@pytest.fixture
def key_directory(tmp_path: Path) -> Iterator[Path]:
    """An owner-only directory with no key yet, and a process that remembers none."""
    directory = tmp_path / "cache-dir"
    directory.mkdir(mode=0o700)
    cache.forget_keys()
    yield directory
    cache.forget_keys()


def test_the_key_is_read_once_per_process(key_directory: Path) -> None:
    """Later digests use the key this process read, without going back to the file; a new
    process (forget_keys) reads the file again, and makes a new key when it is gone."""
    first = cache.digest(key_directory, PARTS)
    (key_directory / "key").unlink()
    assert cache.digest(key_directory, PARTS) == first
    assert not (key_directory / "key").exists()
    cache.forget_keys()
    again = cache.digest(key_directory, PARTS)
    assert again is not None
    assert again != first


def test_a_key_longer_than_blake2b_takes_keys_by_its_first_64_bytes(key_directory: Path) -> None:
    """BLAKE2b takes at most 64 bytes of key; a longer key file is used, not an exception."""
    key = os.urandom(64).hex().encode()
    (key_directory / "key").write_bytes(key)
    (key_directory / "key").chmod(0o600)
    assert cache.digest(key_directory, PARTS) == hashlib.blake2b(MESSAGE, key=key[:64], digest_size=20).hexdigest()


def made_key(directory: Path) -> bytes:
    """The key file's content, after checking it is 64 hex characters, owner-only."""
    key = (directory / "key").read_bytes()
    assert len(key) == 64
    assert set(key.decode()) <= set("0123456789abcdef")
    assert stat.S_IMODE((directory / "key").stat().st_mode) == 0o600
    return key


def test_the_key_is_made_beside_itself_never_in_the_temporary_directory(
    key_directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its temporary copy is written in the owner-only cache directory (here the system's
    temporary directory does not even exist), and only the key is left there."""
    monkeypatch.setattr(tempfile, "tempdir", str(key_directory.parent / "no-such-directory"))
    digest = cache.digest(key_directory, PARTS)
    assert digest == cache.keyed_digest(made_key(key_directory), MESSAGE)
    assert os.listdir(key_directory) == ["key"]


def no_hard_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system without hard links (FAT, some network shares): os.link fails as they do."""

    def refuse(source: str, target: Path) -> None:
        raise OSError(errno.EPERM, "Operation not permitted", source)

    monkeypatch.setattr(os, "link", refuse)


def test_without_hard_links_the_key_is_made_in_place(key_directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback creates the key itself, owner-only, whole; the next process reads the same."""
    no_hard_links(monkeypatch)
    digest = cache.digest(key_directory, PARTS)
    assert digest == cache.keyed_digest(made_key(key_directory), MESSAGE)
    assert os.listdir(key_directory) == ["key"]
    cache.forget_keys()
    assert cache.digest(key_directory, PARTS) == digest


@pytest.mark.parametrize("planted", ["link", "short key"])
def test_without_hard_links_what_stands_where_the_key_goes_is_left_alone(
    key_directory: Path, monkeypatch: pytest.MonkeyPatch, planted: str
) -> None:
    """A link is not written through, a damaged key is not written over (O_EXCL): nothing is
    keyed, and both stay as they were."""
    no_hard_links(monkeypatch)
    target = key_directory.parent / "elsewhere"
    if planted == "link":
        (key_directory / "key").symlink_to(target)
    else:
        (key_directory / "key").write_text("k" * 31)
        (key_directory / "key").chmod(0o600)
    assert cache.digest(key_directory, PARTS) is None
    assert not target.exists()
    if planted == "link":
        assert (key_directory / "key").is_symlink()
    else:
        assert (key_directory / "key").read_text() == "k" * 31


def test_a_temporary_key_removed_under_us_is_no_error(key_directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone cleaning the directory took the temporary file between the link and its removal:
    the key is in place all the same, and the lookup goes on."""
    link = os.link

    def link_then_lose_the_source(source: str, target: Path) -> None:
        link(source, target)
        os.unlink(source)

    monkeypatch.setattr(os, "link", link_then_lose_the_source)
    assert cache.digest(key_directory, PARTS) == cache.keyed_digest(made_key(key_directory), MESSAGE)


@pytest.mark.skipif(hasattr(os, "getuid") and os.getuid() == 0, reason="root writes in a read-only directory")
def test_a_key_in_a_directory_we_cannot_write_is_read(key_directory: Path) -> None:
    """A read-only cache directory that holds a key: the key is read, not made again (which would
    fail there, and leave lookups unkeyed)."""
    key = os.urandom(32).hex().encode()
    (key_directory / "key").write_bytes(key)
    (key_directory / "key").chmod(0o600)
    key_directory.chmod(0o500)
    try:
        assert cache.digest(key_directory, PARTS) == cache.keyed_digest(key, MESSAGE)
    finally:
        key_directory.chmod(0o700)
