"""Settings are read strictly, in one place, and a bad value is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyring_ado import settings, variables
from keyring_ado.settings import Settings


def test_defaults_from_an_empty_environment() -> None:
    """Nothing set: nothing configured, no problems."""
    config = Settings.from_environ({})
    assert config._replace(cache=config.cache._replace(directory=None)) == Settings()
    assert config.problems == ()
    assert config.cache.directory is not None
    assert config.cache.directory.endswith("keyring-ado")


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("TRUE", True), ("on", True), ("0", False), ("", False)])
def test_disable_flag(value: str, expected: bool) -> None:
    """KEYRING_ADO_DISABLE takes the usual boolean spellings."""
    assert settings.is_disabled({"KEYRING_ADO_DISABLE": value}) is expected


def test_a_malformed_disable_switch_is_reported_and_leaves_keyring_ado_on() -> None:
    """KEYRING_ADO_DISABLE=maybe: keyring-ado stays on (only the usual spellings turn it off), and
    the lookup says why in one line."""
    assert not settings.is_disabled({"KEYRING_ADO_DISABLE": "maybe"})
    assert Settings.from_environ({"KEYRING_ADO_DISABLE": "maybe"}).problems == (
        "KEYRING_ADO_DISABLE is set to something that is not a boolean (its value is not shown); "
        "use 1/true/yes/on or 0/false/no/off",
    )


def test_bad_boolean_is_reported_with_its_name() -> None:
    """A flag that is neither true nor false is named in one line and treated as off."""
    config = Settings.from_environ({"KEYRING_ADO_NONINTERACTIVE": "maybe"})
    assert not config.non_interactive
    assert config.problems == (
        "KEYRING_ADO_NONINTERACTIVE is set to something that is not a boolean (its value is not shown); "
        "use 1/true/yes/on or 0/false/no/off",
    )


def test_empty_secrets_are_reported_and_ignored() -> None:
    """An empty PAT variable is a mistake worth one line, not a credential."""
    config = Settings.from_environ({"KEYRING_ADO_PAT": "  ", "AZURE_DEVOPS_EXT_PAT": ""})
    assert config.environment.pat is None
    assert config.environment.ext_pat is None
    assert config.problems == (
        "KEYRING_ADO_PAT is set but empty; ignoring it",
        "AZURE_DEVOPS_EXT_PAT is set but empty; ignoring it",
    )


def test_secret_values_never_reach_the_repr() -> None:
    """repr(Settings) shows no secret, whichever variable carried it."""
    canary = "canary-secret-value-123"
    endpoints = json.dumps({"endpointCredentials": [{"endpoint": "https://pkgs.dev.azure.com/o/", "password": canary}]})
    config = Settings.from_environ(
        {
            "KEYRING_ADO_PAT": canary,
            "KEYRING_ADO_TOKEN": canary,
            "AZURE_DEVOPS_EXT_PAT": canary,
            "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS": endpoints,
            "VSS_NUGET_ACCESSTOKEN": canary,
            "VSS_NUGET_URI_PREFIXES": "https://pkgs.dev.azure.com/o/",
            "SYSTEM_ACCESSTOKEN": canary,
        }
    )
    assert canary not in repr(config)
    assert config.environment.pat == canary


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            "{not json",
            "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS is not valid JSON (Expecting property name enclosed in "
            'double quotes at character 1); expected {"endpointCredentials": [{"endpoint": "https://...", '
            '"password": "..."}]}',
        ),
        (
            "[]",
            "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS has no endpointCredentials list; expected "
            '{"endpointCredentials": [{"endpoint": "https://...", "password": "..."}]}',
        ),
        ("", "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS is set but empty; ignoring it"),
        (
            '{"endpointCredentials": [{"endpoint": "https://x/"}]}',
            'VSS_NUGET_EXTERNAL_FEED_ENDPOINTS entry 0 needs a non-empty "endpoint" and "password"; '
            "ignoring that entry",
        ),
    ],
)
def test_malformed_endpoints_json_is_one_line(raw: str, problem: str) -> None:
    """Bad JSON names the variable and the expected shape, and quotes none of the value."""
    config = Settings.from_environ({"VSS_NUGET_EXTERNAL_FEED_ENDPOINTS": raw})
    assert config.provider.endpoints == ()
    assert config.problems == (problem,)


def test_new_credential_provider_names_win() -> None:
    """ARTIFACTS_CREDENTIALPROVIDER_* is read before the legacy VSS_NUGET_* name, as credprovider does."""
    new = json.dumps({"endpointCredentials": [{"endpoint": "https://pkgs.dev.azure.com/a/", "password": "n"}]})
    old = json.dumps({"endpointCredentials": [{"endpoint": "https://pkgs.dev.azure.com/a/", "password": "o"}]})
    config = Settings.from_environ(
        {"ARTIFACTS_CREDENTIALPROVIDER_EXTERNAL_FEED_ENDPOINTS": new, "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS": old}
    )
    assert [e.password for e in config.provider.endpoints] == ["n"]
    assert config.provider.endpoints_variable == "ARTIFACTS_CREDENTIALPROVIDER_EXTERNAL_FEED_ENDPOINTS"


def test_access_token_without_prefixes_is_reported() -> None:
    """A build token with no URL prefixes could go anywhere: it is ignored, with the reason."""
    config = Settings.from_environ({"VSS_NUGET_ACCESSTOKEN": "tok"})
    assert config.provider.access_token is None
    assert "VSS_NUGET_URI_PREFIXES" in config.problems[0]


def test_hosts_and_timeouts() -> None:
    """KEYRING_ADO_HOSTS takes host[:port]; a bad entry or timeout is named and skipped."""
    config = Settings.from_environ(
        {"KEYRING_ADO_HOSTS": "TFS.example.com, tfs2.example.com:8443,https://bad/,", "KEYRING_ADO_AZ_TIMEOUT": "-3"}
    )
    assert config.server_hosts == frozenset({"tfs.example.com", "tfs2.example.com:8443"})
    assert config.clis.timeout == settings.DEFAULT_AZ_TIMEOUT
    assert len(config.problems) == 2
    assert config.problems[0].startswith("KEYRING_ADO_HOSTS entry 3 is not host[:port]")
    assert config.problems[1].startswith("KEYRING_ADO_AZ_TIMEOUT is not a positive number of seconds")


def test_ci_and_pipelines_detection() -> None:
    """CI markers and Azure Pipelines variables are read; CI=false is not CI."""
    assert Settings.from_environ({"CI": "true"}).in_ci
    assert not Settings.from_environ({"CI": "false"}).in_ci
    config = Settings.from_environ(
        {
            "TF_BUILD": "True",
            "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI": "https://dev.azure.com/o/",
            "SYSTEM_ACCESSTOKEN": "t",
        }
    )
    assert config.pipelines.tf_build
    assert config.in_ci
    assert config.pipelines.collection_uri == "https://dev.azure.com/o/"
    assert Settings.from_environ({"ARTIFACTS_KEYRING_NONINTERACTIVE_MODE": "true"}).non_interactive


def test_every_variable_is_listed() -> None:
    """ALL_VARIABLES names every variable the module defines (the tests clear them all)."""
    defined = {
        value
        for name, value in vars(variables).items()
        if name.isupper() and isinstance(value, str) and value.isupper() and name not in {"DEFAULT_AZ_TIMEOUT"}
    }
    for value in vars(variables).values():
        if isinstance(value, tuple) and value and all(isinstance(v, str) and v.isupper() for v in value):
            defined.update(value)
    assert defined <= set(variables.ALL_VARIABLES)
    assert len(set(variables.ALL_VARIABLES)) == len(variables.ALL_VARIABLES)


def test_exactly_the_secret_variables_values_are_masked() -> None:
    """Secrets are marked once (SECRET_VARIABLES): the value of each, and of nothing else, is among
    the values every quoted text is masked with."""
    environ = {name: f"value-of-{name.lower()}" for name in variables.ALL_VARIABLES}
    for name in variables.EXTERNAL_FEED_ENDPOINTS:
        endpoint = {"endpoint": "https://pkgs.dev.azure.com/o/", "password": f"value-of-{name.lower()}"}
        environ[name] = json.dumps({"endpointCredentials": [endpoint]})
    for name in variables.ACCESS_TOKEN:  # each spelling alone: the first one set wins
        del environ[name]
    environ[variables.ACCESS_TOKEN[0]] = "value-of-the-access-token"
    secrets = set(Settings.from_environ(environ).secrets)
    wanted = {environ[name] for name in variables.SECRET_VARIABLES if name in environ}
    wanted = {value for value in wanted if not value.startswith("{")} | {
        f"value-of-{name.lower()}" for name in variables.EXTERNAL_FEED_ENDPOINTS[:1]
    }
    assert secrets == wanted


def test_cache_location_and_switch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The token cache follows XDG_CACHE_HOME or KEYRING_ADO_CACHE_DIR; KEYRING_ADO_CACHE=off disables it."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Settings.from_environ({}).cache.directory == str(tmp_path / ".cache" / "keyring-ado")
    assert Settings.from_environ({"XDG_CACHE_HOME": "/x/cache"}).cache.directory == "/x/cache/keyring-ado"
    assert Settings.from_environ({"KEYRING_ADO_CACHE_DIR": "~/mine"}).cache.directory == str(tmp_path / "mine")
    assert Settings.from_environ({"KEYRING_ADO_CACHE": "off"}).cache.directory is None
    odd = Settings.from_environ({"KEYRING_ADO_CACHE": "sometimes"})
    assert odd.cache.directory is not None
    assert odd.problems == (
        "KEYRING_ADO_CACHE is neither on nor off (its value is not shown); keeping the token cache on",
    )


PASTED = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2lnbmF0dXJlLXBhcnQtdGhhdC1pcy1sb25n"


@pytest.mark.parametrize(
    "variable",
    [
        "KEYRING_ADO_SESSION_TOKEN",
        "KEYRING_ADO_NONINTERACTIVE",
        "KEYRING_ADO_DISABLE",
        "KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE",
        "ARTIFACTS_KEYRING_NONINTERACTIVE_MODE",
        "KEYRING_ADO_AZ_TIMEOUT",
        "KEYRING_ADO_SIGNIN_TIMEOUT",
        "KEYRING_ADO_TENANT",
        "KEYRING_ADO_MANAGED_IDENTITY",
        "KEYRING_ADO_CACHE",
        "KEYRING_ADO_HOSTS",
    ],
)
def test_a_token_pasted_into_a_setting_is_never_echoed(variable: str) -> None:
    """People paste tokens into the wrong variable: the line names the variable and the accepted
    values, never the value, nor any 12 characters of it (review item 13)."""
    value = f"{PASTED}/x" if variable == "KEYRING_ADO_HOSTS" else PASTED + "!"
    config = Settings.from_environ({variable: value})
    assert len(config.problems) == 1, config.problems
    problem = config.problems[0]
    assert variable in problem
    assert not any(value[i : i + 12] in problem for i in range(len(value) - 11)), problem
