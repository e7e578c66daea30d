"""The files we keep, as an attacker or bad luck leaves them (review items 11 and 12): any JSON in
any field is skipped on its own, never an exception; a directory or file that is not the user's own
is refused; links are not followed."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyring_ado import _jsonfile, cache, cli, discovery
from keyring_ado.cache import TokenCache
from keyring_ado.settings import Settings
from keyring_ado.sources.azure_cli import AzureCliSource
from tests.fakes.az import FakeAz, jwt
from tests.helpers import FEED_URL, config, configured, feed, lookup, new_process, request

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["ENTRA", "SESSION", "PAT", "dpapi:!!", "week", "1e400", "eyJ.x.y"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
#: A token the file would serve as it is (an hour to go, within the day a cached token may live), so
#: that each test below fails for the field or the link it is about, not for an absurd expiry.
GOOD_TOKEN = {"secret": "s3cr3t", "kind": "ENTRA", "source": "az", "username": "u", "expires_on": time.time() + 3600}
GOOD_TENANT = {
    "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "host": "login.microsoftonline.com",
    "session_endpoint": None,
    "checked": 0,
    "ttl": 604800,
}


def entries(good: dict[str, object]) -> st.SearchStrategy[object]:
    """A good entry with any field replaced by any JSON value or dropped; or any JSON at all."""
    field = st.fixed_dictionaries({name: st.one_of(st.just(value), JSON) for name, value in good.items()})
    dropped = st.builds(lambda entry, drop: {k: v for k, v in entry.items() if k not in drop}, field,
                        st.sets(st.sampled_from(sorted(good))))  # fmt: skip
    return st.one_of(field, dropped, JSON)


def write(path: Path, entries: dict[str, object]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = json.dumps({"format": 1, "entries": entries}, allow_nan=True)
    path.write_text(text.replace('"__1e400__"', "1e400"))
    path.chmod(0o600)


@given(entries(GOOD_TOKEN))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_token_entry_is_a_token_or_nothing(tmp_path: Path, entry: object) -> None:
    """``"secret": 1`` (an AttributeError before), ``"expires_on": 1e400`` (an OverflowError, and an
    entry kept for ever), and every other shape: get is a fresh token or None, put never raises."""
    store = TokenCache(tmp_path / "c")
    write(store.path, {"dev.azure.com|contoso|az:k": entry, "other": entry})
    token = store.get(feed(), "az:k")
    if entry == GOOD_TOKEN:
        assert token is not None, "the good entry itself is served"
    if token is not None:
        assert isinstance(token.secret, str)
        assert token.expires_on is not None
    store.put(feed(), "az:k2", cache_token())
    kept = json.loads(store.path.read_text())["entries"]
    assert "dev.azure.com|contoso|az:k2" in kept


def test_the_named_malformed_entries(tmp_path: Path) -> None:
    """The review's examples, one by one: never served, and dropped the next time the file is written."""
    store = TokenCache(tmp_path / "c")
    write(store.path, {"dev.azure.com|contoso|az:k": GOOD_TOKEN})
    assert store.get(feed(), "az:k") is not None, "the good entry itself is served"
    for bad in ({"secret": 1}, {"expires_on": 1e400}, {"expires_on": 10**400}, {"expires_on": True}):
        write(store.path, {"dev.azure.com|contoso|az:k": {**GOOD_TOKEN, **bad}})
        assert store.get(feed(), "az:k") is None
        store.put(feed(), "az:other", cache_token())
        assert "dev.azure.com|contoso|az:k" not in json.loads(store.path.read_text())["entries"], bad


def cache_token() -> cache.Token:
    return cache.Token(jwt(), cache.Kind.ENTRA, source="az", expires_on=time.time() + 3600)


@given(entries(GOOD_TENANT))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_tenant_entry_is_an_authority_or_a_fresh_probe(tmp_path: Path, entry: object) -> None:
    """``"ttl": "week"`` or ``null`` (ValueError before, and a diagnose traceback): never raises."""
    new_process()
    directory = tmp_path / "t"
    write(directory / discovery.FILE_NAME, {"dev.azure.com|contoso": entry})
    found = discovery.authority_for(feed(), config(KEYRING_ADO_CACHE_DIR=str(directory)))
    assert found.specific or found.tenant == discovery.ORGANIZATIONS


@given(entries(GOOD_TOKEN), entries(GOOD_TENANT))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_lookup_diagnose_and_logout_survive_any_file(
    fake_az: FakeAz, monkeypatch: pytest.MonkeyPatch, token_entry: object, tenant_entry: object
) -> None:
    """The entries sit under the very keys a lookup for az reads: the lookup answers (az runs),
    diagnose reports, logout removes; none raises or says "please report this"."""
    fake_az.configure("token", jwt())
    new_process()
    directory = Path(os.environ["HOME"]) / "cache-under-test"
    monkeypatch.setenv("KEYRING_ADO_CACHE_DIR", str(directory))
    settings_now = Settings.from_environ(os.environ)
    identity = configured(AzureCliSource, settings_now).identity(request(feed(), settings_now))
    assert identity is not None
    digest = cache.digest(directory, (identity.source, *identity.parts))
    write(directory / cache.FILE_NAME, {f"dev.azure.com|contoso|az:{digest}": token_entry})
    write(directory / discovery.FILE_NAME, {"dev.azure.com|contoso": tenant_entry})
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        assert lookup(feed(), settings_now) is not None
        assert cli.main(["diagnose", FEED_URL]) in {0, 1}
        assert cli.main(["logout", FEED_URL]) == 0
    assert "please report this" not in stderr.getvalue()
    assert "Traceback" not in stderr.getvalue()


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722])
def test_a_directory_others_can_write_is_refused_with_one_line(
    tmp_path: Path, mode: int, caplog: pytest.LogCaptureFixture, fake_az: FakeAz
) -> None:
    """Someone else could plant a file there: one warning, no disk cache, the lookup still answers."""
    _jsonfile.forget_refusals()
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(mode)
    fake_az.configure("token", jwt())
    settings_now = config(KEYRING_ADO_CACHE_DIR=str(directory), KEYRING_ADO_TENANT="organizations")
    for _ in range(2):
        new_process()
        assert lookup(feed(), settings_now) is not None
    assert len(fake_az.calls) == 2, "nothing was shared through the refused directory"
    assert list(directory.iterdir()) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "others can write to it" in warnings[0]
    assert f"chmod 700 {directory}" in warnings[0]
    _jsonfile.forget_refusals()


def test_a_directory_of_another_user_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Judged on the directory's owner (root's tests chown it to nobody)."""
    if os.getuid() != 0:
        pytest.skip("needs root to give a directory to another user")
    _jsonfile.forget_refusals()
    directory = tmp_path / "theirs"
    directory.mkdir(mode=0o700)
    os.chown(directory, 65534, 65534)
    store = TokenCache(directory)
    store.put(feed(), "az:k", cache_token())
    assert store.get(feed(), "az:k") is None
    assert "it belongs to another user" in caplog.text
    _jsonfile.forget_refusals()


def test_links_are_not_followed(tmp_path: Path) -> None:
    """A symbolic link planted as tokens.json or as a lock is neither read nor written through."""
    directory = tmp_path / "c"
    directory.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere.json"
    write(elsewhere, {"dev.azure.com|contoso|az:k": GOOD_TOKEN})
    (directory / cache.FILE_NAME).symlink_to(elsewhere)
    store = TokenCache(directory)
    assert store.get(feed(), "az:k") is None, "read through a link"
    target = tmp_path / "victim"
    target.write_text("precious")
    (directory / "tokens.lock").symlink_to(target)
    with store.locked(timeout=0.1) as acquired:
        assert acquired is False
    assert target.read_text() == "precious"
    assert oct(target.stat().st_mode & 0o777) != "0o600"


def test_a_file_swapped_for_a_fifo_is_not_read(tmp_path: Path) -> None:
    """fstat on the open descriptor: a FIFO (which would block a read) or a directory is skipped."""
    directory = tmp_path / "c"
    directory.mkdir(mode=0o700)
    (directory / cache.FILE_NAME).mkdir()
    assert TokenCache(directory).get(feed(), "az:k") is None


def test_a_sign_in_directory_that_cannot_be_made_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not "raised PermissionError ... please report this"."""
    from keyring_ado.errors import SourceFailed
    from keyring_ado.sources.signin import SignInSource

    blocker = tmp_path / "file"
    blocker.write_text("")
    settings_now = config(KEYRING_ADO_CACHE_DIR=str(blocker / "sub"), KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1")
    monkeypatch.setattr("keyring_ado.sources.signin._why_not_interactive", lambda _settings: None)
    with pytest.raises(SourceFailed, match="cannot create the sign-in directory") as failure:
        configured(SignInSource, settings_now).get_token(request(feed(), settings_now))
    assert "KEYRING_ADO_CACHE_DIR" in str(failure.value)


def test_the_cache_key_matches_keyed_blake2b_and_depends_on_the_key() -> None:
    """The digest that names a cached token is BLAKE2b keyed by our random key, 20 bytes: an
    unkeyed hash of the identity's parts (secrets among them) could be searched offline. Judged by
    hashlib's own BLAKE2b. Found by mutation testing."""
    import hashlib

    message = json.dumps(["sp", "login.microsoftonline.com", "tenant", "client", "secret"]).encode()
    one, other = os.urandom(32).hex().encode(), os.urandom(32).hex().encode()
    assert cache.keyed_digest(one, message) == hashlib.blake2b(message, key=one, digest_size=20).hexdigest()
    assert cache.keyed_digest(one, message) != cache.keyed_digest(other, message)
    assert cache.keyed_digest(one, message) != hashlib.blake2b(message, digest_size=20).hexdigest()


def test_a_link_planted_where_the_key_goes_is_not_written_through(tmp_path: Path) -> None:
    """The key is created with O_EXCL and O_NOFOLLOW: a link at its place is neither followed nor
    trusted (nothing is shared between processes then), and its target stays as it was."""
    directory = tmp_path / "cache-dir"
    directory.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    (directory / "key").symlink_to(target)
    cache.forget_keys()
    assert cache.digest(directory, ("az", "alice")) is None
    assert not target.exists()
    assert (directory / "key").is_symlink()


def test_the_key_is_made_once_and_kept(tmp_path: Path) -> None:
    """A new key is random (64 hex characters), owner-only, and the next process reads the same one."""
    directory = tmp_path / "cache-dir"
    directory.mkdir(mode=0o700)
    cache.forget_keys()
    first = cache.digest(directory, ("az", "alice"))
    key = (directory / "key").read_bytes().strip()
    assert len(key) == 64
    assert (directory / "key").stat().st_mode & 0o777 == 0o600
    cache.forget_keys()
    assert cache.digest(directory, ("az", "alice")) == first
    assert cache.digest(directory, ("az", "bob")) != first


@pytest.mark.parametrize(("length", "kept"), [(31, False), (32, True)])
def test_a_key_shorter_than_32_characters_is_not_trusted(tmp_path: Path, length: int, kept: bool) -> None:
    """A damaged or guessable key file keys nothing: then nothing is shared between processes."""
    directory = tmp_path / "cache-dir"
    directory.mkdir(mode=0o700)
    (directory / "key").write_text("k" * length)
    (directory / "key").chmod(0o600)
    cache.forget_keys()
    assert (cache.digest(directory, ("az", "alice")) is not None) is kept
