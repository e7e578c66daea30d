"""Tenant discovery from the feed's 401, against the fake feed (through the loopback proxy)."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from email.message import Message
from pathlib import Path

import pytest

from keyring_ado import discovery
from keyring_ado.discovery import ORGANIZATIONS, Authority
from keyring_ado.settings import Settings
from tests.conftest import AdoWorld
from tests.fakes.artifacts import TENANT
from tests.helpers import feed, lookup, new_process


def org_feed(world: AdoWorld, kind: str = "simple") -> tuple[str, str]:
    org = f"org{uuid.uuid4().hex[:8]}"
    world.state.add_feed(org, "feed")
    return org, f"https://pkgs.dev.azure.com/{org}/_packaging/feed/pypi/{kind}/"


def current() -> Settings:
    import os

    return Settings.from_environ(os.environ)


def test_tenant_from_authorization_uri(routed: AdoWorld) -> None:
    """The Bearer challenge's authorization_uri names the tenant; one HEAD, no credentials sent."""
    org, url = org_feed(routed)
    routed.state.reset_log()
    found = discovery.authority_for(feed(url), current())
    assert found == Authority(
        TENANT,
        "login.microsoftonline.com",
        source="authorization_uri",
        session_endpoint=f"https://vssps.dev.azure.com/{org}",
    )
    assert found.specific
    probes = [r for r in routed.state.received() if f"/{org}/" in r.path]
    assert [(r.method, r.authorization) for r in probes] == [("HEAD", None)]


def test_remembered_on_disk_for_the_next_process(routed: AdoWorld, tmp_path: Path) -> None:
    """A second process (memory forgotten) reads tenants.json and sends nothing."""
    org, url = org_feed(routed)
    settings = current()
    discovery.authority_for(feed(url), settings)
    stored = json.loads((Path(settings.cache.directory or "") / "tenants.json").read_text())
    assert stored["entries"][f"dev.azure.com|{org}"]["tenant"] == TENANT
    new_process()
    routed.state.reset_log()
    again = discovery.authority_for(feed(url.replace("simple", "upload")), settings)
    assert (again.tenant, again.source) == (TENANT, "tenants.json")
    assert routed.state.received() == []


def test_msa_backed_organisation_means_organizations(routed: AdoWorld) -> None:
    """A bare Bearer and the all-zero tenant: organizations, never the zero GUID."""
    org, url = org_feed(routed)
    routed.state.msa_orgs.add(org)
    found = discovery.authority_for(feed(url), current())
    assert found.tenant == ORGANIZATIONS
    assert not found.specific


def test_get_when_head_names_nothing(routed: AdoWorld) -> None:
    """HEAD first; when its 401 names no tenant, one GET."""
    org, url = org_feed(routed)
    routed.state.tenant_on_get_only.add(org)
    routed.state.reset_log()
    assert discovery.authority_for(feed(url), current()).tenant == TENANT
    assert [r.method for r in routed.state.received() if f"/{org}/" in r.path] == ["HEAD", "GET"]


def test_public_feed(routed: AdoWorld) -> None:
    """A feed that answers without credentials is public, and that is not written to disk."""
    org, url = org_feed(routed)
    routed.state.public_orgs.add(org)
    settings = current()
    found = discovery.authority_for(feed(url), settings)
    assert found.public
    assert not (Path(settings.cache.directory or "") / "tenants.json").exists()


def test_override_sends_nothing(routed: AdoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """KEYRING_ADO_TENANT wins without a request."""
    _, url = org_feed(routed)
    monkeypatch.setenv("KEYRING_ADO_TENANT", "Contoso.onmicrosoft.com")
    routed.state.reset_log()
    found = discovery.authority_for(feed(url), current())
    assert (found.tenant, found.source) == ("contoso.onmicrosoft.com", "KEYRING_ADO_TENANT")
    assert routed.state.received() == []


def test_feed_down_falls_back_fast() -> None:
    """Nothing listening (the tests' closed proxy): organizations, at once."""
    started = time.monotonic()
    found = discovery.authority_for(feed(), current())
    assert found.tenant == ORGANIZATIONS
    assert time.monotonic() - started < 2


def test_silent_feed_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy that accepts and never answers costs the probe timeout, then organizations."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{listener.getsockname()[1]}")
    monkeypatch.setattr(discovery, "PROBE_TIMEOUT", 0.5)
    started = time.monotonic()
    try:
        assert discovery.authority_for(feed(), current()).tenant == ORGANIZATIONS
        assert time.monotonic() - started < 3
    finally:
        for connection in accepted:
            connection.close()
        listener.close()


def headers(*pairs: tuple[str, str]) -> Message:
    message = Message()
    for name, value in pairs:
        message[name] = value
    return message


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ((("WWW-Authenticate", f"Bearer authorization_uri=https://login.windows.net/{TENANT}"),), TENANT),
        (
            (
                (
                    "WWW-Authenticate",
                    f'Bearer authorization_uri="https://login.microsoft.com/{TENANT}", Basic realm="x"',
                ),
            ),
            TENANT,
        ),
        ((("WWW-Authenticate", f"Bearer authorization_uri=https://evil.example/{TENANT}"),), None),
        ((("WWW-Authenticate", f"Bearer authorization_uri=http://login.microsoftonline.com/{TENANT}"),), None),
        ((("WWW-Authenticate", f"Bearer authorization_uri=https://login.microsoftonline.com:8443/{TENANT}"),), None),
        ((("WWW-Authenticate", f"Bearer authorization_uri=https://x@login.microsoftonline.com/{TENANT}"),), None),
        (
            (
                (
                    "WWW-Authenticate",
                    "Bearer authorization_uri=https://evil.example/11111111-1111-1111-1111-111111111111",
                ),
                ("X-VSS-ResourceTenant", f"00000000-0000-0000-0000-000000000000, {TENANT}"),
            ),
            TENANT,
        ),
        ((("X-VSS-ResourceTenant", "00000000-0000-0000-0000-000000000000"),), ORGANIZATIONS),
        ((("WWW-Authenticate", "TFS-Federated"),), None),
    ],
)
def test_parse_challenge(pairs: tuple[tuple[str, str], ...], expected: str | None) -> None:
    """Only https authorities on the allowlist count; X-VSS-ResourceTenant is the fallback."""
    found = discovery.parse_challenge(headers(*pairs), discovery.TRUSTED_AUTHORITY_HOSTS)
    assert (found.tenant if found else None) == expected


def test_authority_host_setting_extends_the_allowlist() -> None:
    """AZURE_AUTHORITY_HOST (a sovereign cloud or a test fake) is trusted too, port and all."""
    settings = Settings.from_environ({"AZURE_AUTHORITY_HOST": "https://localhost:8443"})
    allowed = discovery.TRUSTED_AUTHORITY_HOSTS | discovery._extra_hosts(settings)
    found = discovery.parse_challenge(
        headers(("WWW-Authenticate", f"Bearer authorization_uri=https://localhost:8443/{TENANT}")), allowed
    )
    assert found is not None
    assert found.url == f"https://localhost:8443/{TENANT}"


def test_public_feed_gets_nothing_for_reads_but_uploads_authenticate(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Reads of a public feed get no credential (not even az is run); its uploads still do."""
    from tests.fakes.az import FakeAz, jwt

    az = FakeAz(tmp_path / "az-bin")
    az.configure("token", jwt())
    monkeypatch.setenv("PATH", str(az.directory))
    org, url = org_feed(routed)
    routed.state.public_orgs.add(org)
    assert lookup(feed(url), current()) is None
    assert az.calls == []
    upload = lookup(feed(url.replace("/simple/", "/upload/")), current())
    assert upload is not None
    assert len(az.calls) == 1


def test_failed_probe_is_remembered_briefly() -> None:
    """Offline: the organizations fallback is kept for ten minutes, so later processes do not wait again."""
    settings = current()
    assert discovery.authority_for(feed(), settings).tenant == ORGANIZATIONS
    entry = json.loads((Path(settings.cache.directory or "") / "tenants.json").read_text())["entries"][
        "dev.azure.com|contoso"
    ]
    assert entry["ttl"] == discovery.FALLBACK_TTL
    new_process()
    assert discovery.authority_for(feed(), settings).source == "tenants.json"


def test_an_organisation_probe_asks_not_to_be_sent_to_sign_in(
    routed: AdoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe's GET of an organisation URL (here the legacy host's root, whose HEAD names no
    tenant) says ``X-TFS-FedAuthRedirect: Suppress``: without it the service answers 302 to its
    sign-in page, not the 401 that names the tenant."""
    org_host = "contoso.pkgs.visualstudio.com"
    monkeypatch.setattr(routed.state, "tenant_on_get_only", {*routed.state.tenant_on_get_only, "contoso"})
    routed.state.reset_log()
    found = discovery.authority_for(feed(f"https://{org_host}/"), current())
    assert (found.tenant, found.source) == (TENANT, "authorization_uri")
    assert [(r.method, r.status) for r in routed.state.received(org_host)] == [("HEAD", 401), ("GET", 401)]


def test_a_redirect_is_an_answer_and_never_followed(routed: AdoWorld) -> None:
    """Our HTTP client hands back the sign-in page's 302 as it is: nothing is sent to the sign-in
    host (a request with a token would carry it there)."""
    from keyring_ado import _http
    from tests.fakes.artifacts import SIGN_IN_PAGE

    sign_in_host = SIGN_IN_PAGE.split("/")[2]
    answer = _http.request(
        "https://contoso.pkgs.visualstudio.com/", current().network.ca_bundle, timeout=5, read_body=False
    )
    assert (answer.status, answer.headers["Location"]) == (302, SIGN_IN_PAGE)
    assert not [target for target in routed.proxy.connects if target.startswith(sign_in_host)]
