"""The reference pages stay in step with the code: every variable read is documented, one module
reads them, and the migration page covers every variable artifacts-keyring honours."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from keyring_ado import variables

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENT_PAGE = ROOT / "docs" / "reference" / "environment.md"
MIGRATION_PAGE = ROOT / "docs" / "migration.md"

#: Every variable artifacts-keyring 1.0 and its credential provider (2.x and the bundled 1.4.1) read,
#: from their sources: the keyring shim, the build-time download, and the provider's settings.
ARTIFACTS_KEYRING_VARIABLES = (
    "ARTIFACTS_KEYRING_NONINTERACTIVE_MODE",
    "ARTIFACTS_KEYRING_VERBOSITY",
    "ARTIFACTS_KEYRING_CREDENTIALPROVIDER_PATH",
    "ARTIFACTS_CREDENTIAL_PROVIDER_RID",
    "ARTIFACTS_CREDENTIAL_PROVIDER_NON_SC",
    "ARTIFACTS_CREDENTIALPROVIDER_LOG_PATH",
    "ARTIFACTS_CREDENTIALPROVIDER_LOG_PII",
    "ARTIFACTS_CREDENTIALPROVIDER_SESSIONTOKENCACHE_ENABLED",
    "ARTIFACTS_CREDENTIALPROVIDER_WINDOWSINTEGRATEDAUTHENTICATION_ENABLED",
    "ARTIFACTS_CREDENTIALPROVIDER_FORCE_CANSHOWDIALOG_TO",
    "ARTIFACTS_CREDENTIALPROVIDER_DEVICEFLOWTIMEOUTSECONDS",
    "NUGET_CREDENTIALPROVIDER_VSTS_DEVICEFLOWTIMEOUTSECONDS",
    "ARTIFACTS_CREDENTIALPROVIDER_VSTS_HOSTS",
    "NUGET_CREDENTIALPROVIDER_HOSTS",
    "ARTIFACTS_CREDENTIALPROVIDER_PPEHOSTS",
    "ARTIFACTS_CREDENTIALPROVIDER_VSTS_SESSIONTIMEMINUTES",
    "ARTIFACTS_CREDENTIALPROVIDER_VSTS_TOKENTYPE",
    "ARTIFACTS_CREDENTIALPROVIDER_URI_PREFIXES",
    "VSS_NUGET_URI_PREFIXES",
    "ARTIFACTS_CREDENTIALPROVIDER_ACCESSTOKEN",
    "VSS_NUGET_ACCESSTOKEN",
    "ARTIFACTS_CREDENTIALPROVIDER_EXTERNAL_FEED_ENDPOINTS",
    "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS",
    "ARTIFACTS_CREDENTIALPROVIDER_FEED_ENDPOINTS",
    "ARTIFACTS_CREDENTIALPROVIDER_MSAL_LOGIN_HINT",
    "ARTIFACTS_CREDENTIALPROVIDER_MSAL_AUTHORITY",
    "ARTIFACTS_CREDENTIALPROVIDER_MSAL_FILECACHE_ENABLED",
    "ARTIFACTS_CREDENTIALPROVIDER_MSAL_FILECACHE_LOCATION",
    "ARTIFACTS_CREDENTIALPROVIDER_MSAL_ALLOW_BROKER",
    "ARTIFACTS_CREDENTIALPROVIDER_MSAL_BROKER_WINDOW",
    "ARTIFACTS_CREDENTIALPROVIDER_RETURN_ENTRA_TOKENS",
    "ARTIFACTS_CREDENTIALPROVIDER_PROGRAM_CONTEXT",
)
#: Prefixes of the variables that are settings (a read of one of these outside settings.py is a bug).
SETTING_PREFIXES = ("KEYRING_ADO_", "AZURE_", "ARTIFACTS_", "VSS_", "SYSTEM_", "ACTIONS_", "AZURESUBSCRIPTION_")


def _names_read_in(path: Path) -> set[str]:
    """String literals used as keys of an environment read: ``environ.get("X")``, ``environ["X"]``, getenv."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        key: ast.expr | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            reads = node.func.attr == "getenv" or (
                node.func.attr == "get" and "environ" in ast.unparse(node.func.value)
            )
            key = node.args[0] if reads else None
        elif isinstance(node, ast.Subscript) and "environ" in ast.unparse(node.value):
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def test_every_variable_is_on_the_environment_page() -> None:
    page = ENVIRONMENT_PAGE.read_text()
    read = set(variables.ALL_VARIABLES) | _names_read_in(ROOT / "keyring_ado" / "settings.py")
    missing = sorted(name for name in read if f"`{name}`" not in page)
    assert not missing, f"docs/reference/environment.md does not list {missing}"


def test_the_page_lists_nothing_the_code_does_not_read() -> None:
    first_cells = [line.split("|")[1] for line in ENVIRONMENT_PAGE.read_text().splitlines() if line.startswith("| `")]
    shown = {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]{3,})`", cell)}
    read = set(variables.ALL_VARIABLES) | _names_read_in(ROOT / "keyring_ado" / "settings.py")
    assert shown <= read, f"the page lists variables the code never reads: {sorted(shown - read)}"


def test_settings_are_read_in_one_module() -> None:
    """Outside settings.py no module reads a setting from the environment (it gets a Settings)."""
    for path in sorted((ROOT / "keyring_ado").rglob("*.py")):
        if path.name == "settings.py":
            continue
        stray = sorted(
            n for n in _names_read_in(path) if n.startswith(SETTING_PREFIXES) or n in variables.ALL_VARIABLES
        )
        assert not stray, f"{path.relative_to(ROOT)} reads {stray} itself; read it in settings.py"


def test_the_scan_sees_reads() -> None:
    """The scan finds the reads it is meant to, so the two tests above cannot pass by seeing nothing."""
    assert {"XDG_CACHE_HOME"} <= _names_read_in(ROOT / "keyring_ado" / "settings.py")


def test_migration_page_covers_every_artifacts_keyring_variable() -> None:
    page = MIGRATION_PAGE.read_text()
    missing = [name for name in ARTIFACTS_KEYRING_VARIABLES if f"`{name}`" not in page]
    assert not missing, f"docs/migration.md does not say what becomes of {missing}"


def test_what_we_honour_is_said_to_be_read() -> None:
    """The artifacts-keyring variables keyring-ado reads are the ones the page says it reads."""
    honoured = {name for name in ARTIFACTS_KEYRING_VARIABLES if name in variables.ALL_VARIABLES}
    read_section = MIGRATION_PAGE.read_text().split("Replaced by something else")[0]
    assert honoured
    assert all(f"`{name}`" in read_section for name in honoured)


def test_the_security_page_names_exactly_the_sources_whose_tokens_are_written() -> None:
    """docs/security.md and the code agree: the sources with an identity (the ones the token file
    serves) are the ones the page lists, and those it says are kept off disk in CI are the CI
    identities."""
    import re

    from keyring_ado.settings import Settings
    from keyring_ado.sources import default_sources
    from tests.helpers import feed, request

    page = (ROOT / "docs" / "security.md").read_text()
    block = page.split("<!-- written-to-disk", 1)[1].split("<!-- end -->", 1)[0]
    bullets: list[str] = []
    for line in block.splitlines():
        if line.strip().startswith("- "):
            bullets.append(line.strip())
        elif bullets and line.strip():
            bullets[-1] += " " + line.strip()
    named = [(set(re.findall(r"`([^`]+)`", bullet.split(":", 1)[0])), bullet) for bullet in bullets]
    listed = {name for names, bullet in named if not bullet.startswith("- session") for name in names}
    ci_listed = next(names for names, bullet in named if "**not in CI**" in bullet)
    everything = Settings.from_environ(
        {
            "AZURE_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
            "AZURE_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "AZURE_CLIENT_SECRET": "s",
            "AZURE_FEDERATED_TOKEN_FILE": "/nonexistent",
            "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.actions.githubusercontent.com/x",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t",
            "SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/contoso/oidc",
            "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
            "KEYRING_ADO_SERVICE_CONNECTION_ID": "66666666-2222-3333-4444-555555555555",
            "SYSTEM_ACCESSTOKEN": "j",
            "KEYRING_ADO_MANAGED_IDENTITY": "1",
        }
    )
    with_identity = {source.name: source for source in default_sources(everything) if source.signs_in}
    assert listed == set(with_identity), (listed, set(with_identity))
    for name in ci_listed:
        found = with_identity[name].identity(request(feed()))
        assert found is not None, name
        assert found.ci, name
    assert ci_listed == {n for n in with_identity if n not in {"az", "azd", "sign-in"}}
