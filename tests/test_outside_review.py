"""What an outside attacker broke after the first round of trust fixes, each now a test (F1-F15
in the closing note): hangs on planted FIFOs, tracebacks from odd input, echoed secrets, and
credentials that reached the wrong feed or identity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from keyring_ado import _redact, cache, chain, feeds
from keyring_ado.backend import AdoKeyring
from keyring_ado.settings import Settings
from keyring_ado.sources.base import Identity, Request, Source
from keyring_ado.sources.compat import ExternalFeedEndpointsSource
from keyring_ado.token import Kind, Token
from tests.fakes.az import FakeAz, jwt
from tests.helpers import FEED_URL, config, configured, feed, lookup, request

PAT = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst"  # the old 52-character PAT shape


def bounded(work: object, seconds: float) -> object:
    """Run *work* in a thread; fail (instead of hanging the suite) when it takes longer."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)  # type: ignore[operator]
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    return result[0] if result else None


@pytest.mark.parametrize("planted", ["tokens.json", "key", "tenants.json", "azureProfile.json", "ca.pem"])
def test_f1_a_fifo_planted_where_a_file_goes_never_hangs(
    fake_az: FakeAz, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: str
) -> None:
    """F1: opening a FIFO blocks until someone writes to it; every file is opened non-blocking and
    judged by fstat before it is read."""
    fake_az.configure("token", jwt())
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("KEYRING_ADO_CACHE_DIR", str(directory))
    where = {
        "azureProfile.json": fake_az.profile_dir / "azureProfile.json",
        "ca.pem": tmp_path / "ca.pem",
    }.get(planted, directory / planted)
    where.unlink(missing_ok=True)
    os.mkfifo(where, 0o600)
    if planted == "ca.pem":
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(where))
        monkeypatch.setattr("keyring_ado.discovery.PROBE_TIMEOUT", 1.0)
    else:
        monkeypatch.setenv("KEYRING_ADO_TENANT", "72f988bf-86f1-41af-91ab-2d7cd011db47")
    settings = Settings.from_environ(os.environ)
    bounded(lambda: lookup(feed(), settings), 15)


@pytest.mark.parametrize(
    "value", ["[" * 100_000, '{"endpointCredentials": ' + "9" * 5000 + "}"], ids=["deep", "long-number"]
)
def test_f2_unreadable_json_in_a_variable_is_one_line(value: str) -> None:
    """F2: RecursionError and the int-digits limit were not caught: every lookup was disabled, and
    the CLI printed a traceback."""
    settings = Settings.from_environ({"VSS_NUGET_EXTERNAL_FEED_ENDPOINTS": value, "KEYRING_ADO_PAT": "p"})
    assert any("is not JSON keyring-ado can read" in p for p in settings.problems)
    assert lookup(feed(), settings) is not None
    env = {**os.environ, "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS": value, "KEYRING_ADO_PAT": "p"}
    run = subprocess.run(
        [sys.executable, "-m", "keyring_ado", "diagnose", FEED_URL],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("expiry", [1e300, float("nan"), float("inf"), -5.0])
def test_f3_an_absurd_expiry_is_refused_not_a_traceback(expiry: float) -> None:
    """F3: time.gmtime on NaN or 1e300 raised out of diagnose, login and Token's repr."""
    from keyring_ado.token import jwt_expiry, sane_expiry

    assert sane_expiry(expiry) is None
    assert "invalid" in repr(Token("s", Kind.ENTRA, source="x", expires_on=expiry))

    class Absurd(Source):
        name = "absurd"
        signs_in = False

        def get_token(self, request: Request) -> Token:
            return Token("s", Kind.ENTRA, source="absurd", expires_on=expiry)

    outcomes = list(chain.attempts(request(feed()), [Absurd()]))
    assert outcomes[-1].outcome is chain.Outcome.FAILED
    import base64

    payload = base64.urlsafe_b64encode(json.dumps({"exp": expiry}).encode()).decode().rstrip("=")
    assert jwt_expiry(f"eyJhbGciOiJub25lIn0.{payload}.sig") is None


def test_f3_az_printing_a_nan_expiry(fake_az: FakeAz, tmp_path: Path) -> None:
    """az printing ``"expires_on": NaN``: the CLI answers in lines, never a traceback."""
    script = fake_az.path.read_text().replace('"expires_on": expires,', '"expires_on": float("nan"),')
    fake_az.path.write_text(script)
    fake_az.configure("token", jwt())
    env = {**os.environ, "KEYRING_ADO_TENANT": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
    for command in ("diagnose", "login"):
        run = subprocess.run(
            [sys.executable, "-m", "keyring_ado", command, FEED_URL],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert "Traceback" not in run.stderr, run.stderr


def test_f4_logout_and_setup_on_broken_paths_are_one_line(tmp_path: Path) -> None:
    """F4: a cache directory that is a file, a tokens.json that is a directory, a uv.toml that is
    not UTF-8 or is nested 5000 deep: one line each, no traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache_dir = tmp_path / "c"
    (cache_dir / "tokens.json").mkdir(parents=True)
    cache_dir.chmod(0o700)
    bad_utf8 = tmp_path / "a" / "uv" / "uv.toml"
    bad_utf8.parent.mkdir(parents=True)
    bad_utf8.write_bytes(b"\xff\xfe = 1\n")
    deep = tmp_path / "b" / "uv" / "uv.toml"
    deep.parent.mkdir(parents=True)
    deep.write_text("a = " + "[" * 5000 + "\n")
    runs = [
        ({"KEYRING_ADO_CACHE_DIR": str(blocker)}, ["logout"], "is not a directory"),
        ({"KEYRING_ADO_CACHE_DIR": str(cache_dir)}, ["logout"], "logout stopped: cannot remove"),
        ({"XDG_CONFIG_HOME": str(tmp_path / "a")}, ["setup", "uv", FEED_URL, "--write"], "is not UTF-8 text"),
        ({"XDG_CONFIG_HOME": str(tmp_path / "b")}, ["setup", "uv", FEED_URL, "--write"], ""),
    ]
    for extra, args, expected in runs:
        run = subprocess.run(
            [sys.executable, "-m", "keyring_ado", *args],
            env={**os.environ, **extra}, capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert "Traceback" not in run.stderr, (args, run.stderr)
        assert run.stderr.startswith("keyring-ado: "), (args, run.stderr)
        assert expected in run.stderr, (args, run.stderr)
    assert bad_utf8.read_bytes() == b"\xff\xfe = 1\n", "nothing written to a file it could not read"


def test_f5_an_unreadable_profile_is_not_remembered_past_the_next_login(fake_az: FakeAz) -> None:
    """F5: with az's profile unreadable at the first lookup, the answer depended on no file, so the
    next account was served the previous one's token from memory."""
    environ = {"KEYRING_ADO_TENANT": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
    alice = jwt()
    fake_az.login("alice@contoso.test", token=alice)
    (fake_az.profile_dir / "azureProfile.json").write_text('{"subscriptions": [')  # half-written by az
    assert lookup(feed(), Settings.from_environ({**os.environ, **environ})).secret == alice  # type: ignore[union-attr]
    bob = jwt()
    fake_az.login("bob@contoso.test", token=bob)
    assert lookup(feed(), Settings.from_environ({**os.environ, **environ})).secret == bob  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["2147484", "1e10", "1e300"])
def test_f6_a_huge_timeout_is_capped_and_az_never_orphaned(value: str) -> None:
    """F6: epoll's millisecond timeout overflowed ("please report this") and az was left running."""
    settings = Settings.from_environ({"KEYRING_ADO_AZ_TIMEOUT": value})
    assert settings.clis.timeout == 3600
    assert any("is more than 3600 seconds" in p for p in settings.problems)


def test_f6_any_error_while_waiting_kills_the_program(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever goes wrong while we wait, the program does not outlive the call."""
    from keyring_ado import _process

    started: list[int] = []
    real_popen = subprocess.Popen

    def spying(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        process = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(process.pid)
        return process  # type: ignore[no-any-return]

    def broken(*args: object) -> bool:
        raise OverflowError("timeout is too large")

    monkeypatch.setattr(_process.subprocess, "Popen", spying)
    monkeypatch.setattr(_process, "_drain_posix", broken)
    with pytest.raises(OverflowError):
        _process.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=5)
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(started[0], 0)


def test_f7_a_pat_pasted_into_the_tenant_is_refused_and_not_shown() -> None:
    """F7: any run of letters and digits was taken as a tenant, and diagnose printed it."""
    settings = Settings.from_environ({"KEYRING_ADO_TENANT": PAT})
    assert settings.network.tenant is None
    assert PAT not in " ".join(settings.problems)
    assert (
        Settings.from_environ({"KEYRING_ADO_TENANT": "Contoso.onmicrosoft.com"}).network.tenant
        == "contoso.onmicrosoft.com"
    )
    assert Settings.from_environ({"KEYRING_ADO_TENANT": "organizations"}).network.tenant == "organizations"


def test_f8_reprs_show_no_text_at_all() -> None:
    """F8: a PAT in a host list, user info in a URL variable or a token in a query string reached
    repr(Settings) and repr(Endpoint)."""
    settings = Settings.from_environ(
        {
            "KEYRING_ADO_HOSTS": PAT,
            "SYSTEM_COLLECTIONURI": f"https://me:{PAT}@dev.azure.com/contoso/",
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"https://token.actions.githubusercontent.com/x?token={PAT}",
            "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS": json.dumps(
                {"endpointCredentials": [{"endpoint": f"https://u:{PAT}@pkgs.dev.azure.com/c/", "password": "p"}]}
            ),
            "AZURE_AUTHORITY_HOST": f"https://u:{PAT}@login.microsoftonline.com",
        }
    )
    for shown in (repr(settings), repr(settings.provider.endpoints), repr(Identity("sp", (PAT,)))):
        assert PAT[:12] not in shown, shown


def test_f9_a_bare_legacy_host_is_not_given_one_feeds_pat() -> None:
    """F9: ``contoso.pkgs.visualstudio.com`` alone got feedA's PAT, which pip then reuses for every
    feed of that organisation; only an unambiguous organisation answers the bare host."""
    two = config(
        VSS_NUGET_EXTERNAL_FEED_ENDPOINTS=json.dumps(
            {
                "endpointCredentials": [
                    {"endpoint": "https://pkgs.dev.azure.com/contoso/_packaging/feedA/pypi/simple/", "password": "A"},
                    {"endpoint": "https://pkgs.dev.azure.com/contoso/_packaging/feedB/pypi/simple/", "password": "B"},
                ]
            }
        )
    )
    from keyring_ado.errors import SourceUnavailable

    for bare in ("contoso.pkgs.visualstudio.com", "https://contoso.pkgs.visualstudio.com/"):
        with pytest.raises(SourceUnavailable, match="different credentials"):
            configured(ExternalFeedEndpointsSource, two).get_token(request(feed(bare), two))


def test_f10_no_unicode_case_folding_in_names() -> None:
    """F10: the Kelvin sign folded to ``k``: the job token went to ``\\u212aontoso`` and feedk's PAT to
    ``feed\\u212a``, which clients request percent-encoded."""
    assert feeds.parse("https://pkgs.dev.azure.com/\u212aontoso/_packaging/x/pypi/simple/") is None
    kelvin = feeds.parse("https://pkgs.dev.azure.com/contoso/_packaging/feed\u212a/pypi/simple/")
    prefix = feeds.canonical_prefix("https://pkgs.dev.azure.com/contoso/_packaging/feedk/")
    assert prefix is not None
    assert kelvin is None or not feeds.has_prefix(kelvin.canonical_url, prefix)


@pytest.mark.parametrize(
    "typed",
    [
        f"https:/user:{PAT}@pkgs.dev.azure.com/x",
        f"//user:{PAT}@pkgs.dev.azure.com/x",
        f"https//user:{PAT}@pkgs.dev.azure.com/x",
        f"https://user:p#{PAT}@pkgs.dev.azure.com/x",
        f"{PAT}:x@pkgs.dev.azure.com",
    ],
)
def test_f12_user_info_in_a_malformed_url_is_never_printed(typed: str) -> None:
    """F12: without_userinfo looked for user info only after ``://``."""
    assert PAT not in _redact.without_userinfo(typed)
    run = subprocess.run(
        [sys.executable, "-m", "keyring_ado", "diagnose", typed],
        env=dict(os.environ), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert PAT[:12] not in run.stderr + run.stdout


def test_f13_identity_parts_cannot_pass_for_others(tmp_path: Path) -> None:
    """F13: parts joined with a separator collided (``a\\x1fuser`` + ``sp`` = ``a`` + ``user\\x1fsp``)."""
    directory = tmp_path / "c"
    first = cache.digest(directory, ("az", "alice@x.com\x1fuser", "servicePrincipal"))
    second = cache.digest(directory, ("az", "alice@x.com", "user\x1fservicePrincipal"))
    assert first != second


def test_f14_token_fields_in_half_a_json_document_are_masked() -> None:
    """F14: az printing truncated JSON quoted its access and refresh tokens (short, not JWT-shaped)."""
    from keyring_ado._redact import quote_output

    said = quote_output(
        'WARNING: x\n{"accessToken": "az-Secret-Tok-9f8e7d6c5b4a", "refreshToken": "rt-Secret-77aa-bb", '
    )
    assert "Secret" not in said


def test_f15_a_managed_identity_is_the_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    """F15: ``("mi", "system")`` was the whole identity: machines sharing a home (NFS) shared tokens."""
    import socket

    from keyring_ado.sources.managed_identity import ManagedIdentitySource

    here = configured(ManagedIdentitySource, config(KEYRING_ADO_MANAGED_IDENTITY="1")).identity(
        request(feed(), config(KEYRING_ADO_MANAGED_IDENTITY="1"))
    )
    assert socket.gethostname() in here.parts
    monkeypatch.setattr(socket, "gethostname", lambda: "another-vm")
    there = configured(ManagedIdentitySource, config(KEYRING_ADO_MANAGED_IDENTITY="1")).identity(
        request(feed(), config(KEYRING_ADO_MANAGED_IDENTITY="1"))
    )
    assert here.parts != there.parts


def test_the_backend_survives_all_of_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lookup path under the same inputs: None or a credential, never an exception."""
    monkeypatch.setenv("VSS_NUGET_EXTERNAL_FEED_ENDPOINTS", "[" * 100_000)
    monkeypatch.setenv("KEYRING_ADO_TENANT", PAT)
    monkeypatch.setenv("KEYRING_ADO_AZ_TIMEOUT", "1e300")
    monkeypatch.setenv("KEYRING_ADO_PAT", "canary-pat")
    assert AdoKeyring().get_password(FEED_URL, "u") == "canary-pat"


# --- the second round --------------------------------------------------------------------------


def test_r1_a_fifo_as_the_unencrypted_sign_in_cache_never_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R1: msal-extensions' FilePersistence read a FIFO planted as msal-cache.json, for ever."""
    from keyring_ado.errors import SourceFailed
    from keyring_ado.sources.signin import SignInSource

    directory = tmp_path / "c"
    directory.mkdir(mode=0o700)
    os.mkfifo(directory / "msal-cache.json", 0o600)
    monkeypatch.setattr("keyring_ado.sources.signin._why_not_interactive", lambda _settings: None)
    settings = config(KEYRING_ADO_CACHE_DIR=str(directory), KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1",
                      KEYRING_ADO_TENANT="72f988bf-86f1-41af-91ab-2d7cd011db47")  # fmt: skip

    def attempt() -> str:
        with pytest.raises(SourceFailed, match="is not a regular file") as failure:
            configured(SignInSource, settings).get_token(request(feed(), settings))
        return str(failure.value)

    assert "msal-cache.json" in str(bounded(attempt, 15))


def test_r2_a_fifo_as_the_ca_bundle_of_the_sign_in_never_hangs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """R2: msal loads the CA bundle outside our deadlines; a FIFO there is refused first."""
    from keyring_ado.errors import SourceFailed
    from keyring_ado.sources.signin import SignInSource

    bundle = tmp_path / "ca.pem"
    os.mkfifo(bundle, 0o600)
    monkeypatch.setattr("keyring_ado.sources.signin._why_not_interactive", lambda _settings: None)
    settings = config(
        KEYRING_ADO_CACHE_DIR=str(tmp_path / "c"),
        KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE="1",
        REQUESTS_CA_BUNDLE=str(bundle),
        KEYRING_ADO_TENANT="72f988bf-86f1-41af-91ab-2d7cd011db47",
    )

    def attempt() -> None:
        with pytest.raises(SourceFailed, match=r"ca\.pem is not a regular file"):
            configured(SignInSource, settings).get_token(request(feed(), settings))

    bounded(attempt, 15)


@pytest.mark.parametrize("client", ["pip", "uv", "poetry"])
def test_r3_setup_write_leaves_a_fifo_alone(tmp_path: Path, client: str) -> None:
    """R3: configparser and read_text blocked on a FIFO in place of pip.conf, uv.toml or pyproject.toml."""
    config_home = tmp_path / "config"
    where = {"pip": config_home / "pip" / "pip.conf", "uv": config_home / "uv" / "uv.toml",
             "poetry": tmp_path / "app" / "pyproject.toml"}[client]  # fmt: skip
    where.parent.mkdir(parents=True)
    os.mkfifo(where, 0o600)
    run = subprocess.run(
        [sys.executable, "-m", "keyring_ado", "setup", client, FEED_URL, "--write", "--project", str(tmp_path / "app")],
        env={**os.environ, "XDG_CONFIG_HOME": str(config_home)}, capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert run.returncode == 1
    assert "is not a regular file, so it is left alone" in run.stderr


ORG_URL = "https://pkgs.dev.azure.com/contoso"


def test_r4_no_unicode_case_folding_in_endpoint_feed_names() -> None:
    """R4: an entry for feedk (a NuGet URL of it) answered feed\\u212a, requested as another feed."""
    from keyring_ado.errors import SourceUnavailable

    settings = config(
        VSS_NUGET_EXTERNAL_FEED_ENDPOINTS=json.dumps(
            {"endpointCredentials": [
                {"endpoint": f"{ORG_URL}/_packaging/feedk/nuget/v3/index.json", "password": "K"},
                {"endpoint": f"{ORG_URL}/projk/_packaging/f/nuget/v3/index.json", "password": "P"},
            ]}
        )
    )  # fmt: skip
    for url in (
        "https://pkgs.dev.azure.com/contoso/_packaging/feed\u212a/pypi/simple/",
        "https://pkgs.dev.azure.com/contoso/proj\u212a/_packaging/f/pypi/simple/",
    ):
        target = feeds.parse(url)
        if target is not None:
            with pytest.raises(SourceUnavailable):
                configured(ExternalFeedEndpointsSource, settings).get_token(request(target, settings))
    same = feed("https://pkgs.dev.azure.com/contoso/_packaging/FEEDK/pypi/simple/")
    assert configured(ExternalFeedEndpointsSource, settings).get_token(request(same, settings)).secret == "K", (
        "ASCII case still folds"
    )


@pytest.mark.parametrize(
    "said",
    [
        '{\\"accessToken\\": \\"Sh0rt-S3cret.value\\", \\"expiresOn\\": 1}',
        '{"accessToken": ["Sh0rt-S3cret.arr"]}',
        '{"accessToken": "Sh0rt S3cretTail", "expiresOn": "x"',
    ],
)
def test_r5_short_secrets_in_token_fields_are_masked_however_quoted(said: str) -> None:
    """R5: escaped quotes, a list, or a space inside the value let part of it through."""
    from keyring_ado._redact import quote_output

    shown = quote_output(said)
    assert "S3cret" not in shown, shown


def test_r6_deeply_nested_json_from_a_token_or_az_is_one_line(
    fake_az: FakeAz, caplog: pytest.LogCaptureFixture
) -> None:
    """R6: RecursionError from a JWT's claims or az's output reached "please report this"."""
    import base64

    from keyring_ado.token import jwt_claims

    payload = base64.urlsafe_b64encode(('{"exp":' + "[" * 100_000 + "}").encode()).decode().rstrip("=")
    assert jwt_claims(f"eyJhbGciOiJub25lIn0.{payload}.sig") == {}
    fake_az.configure("token", jwt())  # signed in, and then az prints something absurd
    fake_az.path.write_text(f"#!{sys.executable}\nprint('[' * 200000)\n")
    assert lookup(feed(), config(KEYRING_ADO_TENANT="72f988bf-86f1-41af-91ab-2d7cd011db47")) is None
    assert "please report this" not in caplog.text
    assert "printed something that is not a token" in caplog.text


def test_r7_a_feed_guid_gets_nothing_when_the_organisation_is_ambiguous() -> None:
    """R7: a download URL naming its feed by GUID got the first same-organisation entry's PAT, even
    with different PATs for that organisation's feeds."""
    from keyring_ado.errors import SourceUnavailable

    def settings(*passwords: str) -> Settings:
        entries = [
            {"endpoint": f"https://pkgs.dev.azure.com/contoso/_packaging/feed{i}/pypi/simple/", "password": p}
            for i, p in enumerate(passwords)
        ]
        return config(VSS_NUGET_EXTERNAL_FEED_ENDPOINTS=json.dumps({"endpointCredentials": entries}))

    download = feed(
        "https://pkgs.dev.azure.com/contoso/_packaging/0a0a0a0a-0000-0000-0000-000000000000/pypi/download/x"
    )
    with pytest.raises(SourceUnavailable, match="different credentials"):
        configured(ExternalFeedEndpointsSource, settings("PATK", "PATO")).get_token(
            request(download, settings("PATK", "PATO"))
        )
    assert (
        configured(ExternalFeedEndpointsSource, settings("SAME", "SAME"))
        .get_token(request(download, settings("SAME", "SAME")))
        .secret
        == "SAME"
    )
