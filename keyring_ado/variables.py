"""The name of every environment variable keyring-ado reads, grouped by what it configures.

Only :mod:`keyring_ado.settings` reads them; everything else gets the records it builds. Which
values are secrets is said once, in :data:`SECRET_VARIABLES`; :data:`ALL_VARIABLES` is the groups
together.
"""

from __future__ import annotations

# --- keyring-ado itself --------------------------------------------------------------------
DISABLE = "KEYRING_ADO_DISABLE"
HOSTS = "KEYRING_ADO_HOSTS"
NONINTERACTIVE = "KEYRING_ADO_NONINTERACTIVE"
GENERAL = (DISABLE, HOSTS, NONINTERACTIVE)

# --- secrets the user put in the environment --------------------------------------------------
PAT = "KEYRING_ADO_PAT"
TOKEN = "KEYRING_ADO_TOKEN"  # noqa: S105 - a variable name, not a secret
AZURE_DEVOPS_EXT_PAT = "AZURE_DEVOPS_EXT_PAT"  # the az devops convention
ENVIRONMENT_SECRETS = (PAT, TOKEN, AZURE_DEVOPS_EXT_PAT)

# --- Microsoft's credential provider (artifacts-keyring), so pipelines switch without edits ------
EXTERNAL_FEED_ENDPOINTS = ("ARTIFACTS_CREDENTIALPROVIDER_EXTERNAL_FEED_ENDPOINTS", "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS")
ACCESS_TOKEN = ("ARTIFACTS_CREDENTIALPROVIDER_ACCESSTOKEN", "VSS_NUGET_ACCESSTOKEN")
URI_PREFIXES = ("ARTIFACTS_CREDENTIALPROVIDER_URI_PREFIXES", "VSS_NUGET_URI_PREFIXES")
ARTIFACTS_KEYRING_NONINTERACTIVE = "ARTIFACTS_KEYRING_NONINTERACTIVE_MODE"
CREDENTIAL_PROVIDER = (*EXTERNAL_FEED_ENDPOINTS, *ACCESS_TOKEN, *URI_PREFIXES, ARTIFACTS_KEYRING_NONINTERACTIVE)

# --- Azure Pipelines: the job token, and workload-identity service connections ----------------
TF_BUILD = "TF_BUILD"
SYSTEM_ACCESSTOKEN = "SYSTEM_ACCESSTOKEN"
COLLECTION_URI = ("SYSTEM_COLLECTIONURI", "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI")
OIDC_REQUEST_URI = "SYSTEM_OIDCREQUESTURI"
SERVICE_CONNECTION_ID = ("KEYRING_ADO_SERVICE_CONNECTION_ID", "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID")
PIPELINES_CLIENT_ID = "AZURESUBSCRIPTION_CLIENT_ID"
PIPELINES_TENANT_ID = "AZURESUBSCRIPTION_TENANT_ID"
PIPELINES = (
    TF_BUILD,
    SYSTEM_ACCESSTOKEN,
    *COLLECTION_URI,
    OIDC_REQUEST_URI,
    *SERVICE_CONNECTION_ID,
    PIPELINES_CLIENT_ID,
    PIPELINES_TENANT_ID,
)

# --- an Entra application, as the Azure SDK reads it --------------------------------------------
CLIENT_ID = "AZURE_CLIENT_ID"
TENANT_ID = "AZURE_TENANT_ID"
CLIENT_SECRET = "AZURE_CLIENT_SECRET"  # noqa: S105 - a variable name
CLIENT_CERTIFICATE_PATH = "AZURE_CLIENT_CERTIFICATE_PATH"
CLIENT_CERTIFICATE_PASSWORD = "AZURE_CLIENT_CERTIFICATE_PASSWORD"  # noqa: S105 - a variable name
FEDERATED_TOKEN_FILE = "AZURE_FEDERATED_TOKEN_FILE"  # noqa: S105 - a variable name
APPLICATION = (
    CLIENT_ID,
    TENANT_ID,
    CLIENT_SECRET,
    CLIENT_CERTIFICATE_PATH,
    CLIENT_CERTIFICATE_PASSWORD,
    FEDERATED_TOKEN_FILE,
)

# --- GitHub Actions OIDC ---------------------------------------------------------------------
GITHUB_REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
GITHUB_REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - a variable name
#: GitHub Enterprise Server's own address: its token service is that host (or a subdomain).
GITHUB_SERVER_URL = "GITHUB_SERVER_URL"
GITHUB = (GITHUB_REQUEST_URL, GITHUB_REQUEST_TOKEN, GITHUB_SERVER_URL)

# --- managed identity: ours, and the hosting environments' markers ----------------------------
MANAGED_IDENTITY = "KEYRING_ADO_MANAGED_IDENTITY"
MANAGED_IDENTITY_MARKERS = (
    ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"),  # App Service, Functions, Service Fabric
    ("IDENTITY_ENDPOINT", "IMDS_ENDPOINT"),  # Azure Arc
    ("MSI_ENDPOINT",),  # Cloud Shell, Azure ML
)
#: Where azure-identity asks for a managed identity's token (the last is its override of the IMDS address).
MANAGED_IDENTITY_ENDPOINTS = ("IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IMDS_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST")
MANAGED_IDENTITY_GROUP = (MANAGED_IDENTITY, "IDENTITY_HEADER", *MANAGED_IDENTITY_ENDPOINTS)

# --- az and azd ------------------------------------------------------------------------------
AZ_TIMEOUT = "KEYRING_ADO_AZ_TIMEOUT"
AZ_CONFIG_DIR = "AZURE_CONFIG_DIR"
AZD_CONFIG_DIR = "AZD_CONFIG_DIR"
SEARCH_PATH = "PATH"  # where az and azd are looked for
PATHEXT = "PATHEXT"
CLIS = (AZ_TIMEOUT, AZ_CONFIG_DIR, AZD_CONFIG_DIR, SEARCH_PATH, PATHEXT)

# --- our own sign-in, and whether a person can answer -----------------------------------------
SIGNIN_CLIENT_ID = "KEYRING_ADO_CLIENT_ID"
SIGNIN_TIMEOUT = "KEYRING_ADO_SIGNIN_TIMEOUT"
ALLOW_UNENCRYPTED_CACHE = "KEYRING_ADO_ALLOW_UNENCRYPTED_CACHE"
DISPLAY_MARKERS = ("DISPLAY", "WAYLAND_DISPLAY")
SSH_MARKERS = ("SSH_CONNECTION", "SSH_TTY")
PIP_NO_INPUT = "PIP_NO_INPUT"
#: The clients' own "never prompt" switches: a client told not to ask must not get our prompt either.
CLIENT_NO_INPUT = ("TWINE_NON_INTERACTIVE", "POETRY_NO_INTERACTION", "PDM_NON_INTERACTIVE")
SIGN_IN = (
    SIGNIN_CLIENT_ID,
    SIGNIN_TIMEOUT,
    ALLOW_UNENCRYPTED_CACHE,
    *DISPLAY_MARKERS,
    *SSH_MARKERS,
    PIP_NO_INPUT,
    *CLIENT_NO_INPUT,
)

# --- session tokens --------------------------------------------------------------------------
SESSION_TOKEN = "KEYRING_ADO_SESSION_TOKEN"  # noqa: S105 - a variable name
SESSION_TOKEN_HOSTNAME = "KEYRING_ADO_SESSION_TOKEN_HOSTNAME"  # noqa: S105 - a variable name
SESSION = (SESSION_TOKEN, SESSION_TOKEN_HOSTNAME)

# --- the token cache, and where ~ is ---------------------------------------------------------
CACHE = "KEYRING_ADO_CACHE"
CACHE_DIR = "KEYRING_ADO_CACHE_DIR"
HOME = ("HOME", "USERPROFILE")
CACHE_GROUP = (CACHE, CACHE_DIR, "XDG_CACHE_HOME", "LOCALAPPDATA", *HOME)

# --- Entra ID and TLS, as the Azure SDK and requests read them --------------------------------
TENANT = "KEYRING_ADO_TENANT"
AUTHORITY_HOST = "AZURE_AUTHORITY_HOST"
CA_BUNDLE = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
NETWORK = (TENANT, AUTHORITY_HOST, *CA_BUNDLE)

# --- whether this is a CI job ----------------------------------------------------------------
CI_MARKERS = (
    "CI",
    "TF_BUILD",
    "GITHUB_ACTIONS",
    "BUILD_BUILDID",
    "GITLAB_CI",
    "JENKINS_URL",
    "JENKINS_HOME",
    # CI systems that do not all set CI:
    "TEAMCITY_VERSION",
    "CODEBUILD_BUILD_ID",
    "BUILDKITE",
    "CIRCLECI",
    "BITBUCKET_BUILD_NUMBER",
    "APPVEYOR",
    "TRAVIS",
    "DRONE",
    "SEMAPHORE",
    "BITRISE_IO",
    "CF_BUILD_ID",
    "HEROKU_TEST_RUN_ID",
    "GO_PIPELINE_NAME",
    "BAMBOO_BUILDKEY",
    "bamboo_buildKey",
)

#: The variables whose values are secrets: never quoted, and never handed to az or azd. The only
#: list: the settings reader collects the values of exactly these (see ``Settings.secrets``).
SECRET_VARIABLES: tuple[str, ...] = (
    PAT,
    TOKEN,
    AZURE_DEVOPS_EXT_PAT,
    CLIENT_SECRET,
    CLIENT_CERTIFICATE_PASSWORD,
    GITHUB_REQUEST_TOKEN,
    SYSTEM_ACCESSTOKEN,
    *EXTERNAL_FEED_ENDPOINTS,
    *ACCESS_TOKEN,
)

#: Every variable this package reads, the groups above together (each once). Tests clear all of them.
ALL_VARIABLES: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *GENERAL,
            *ENVIRONMENT_SECRETS,
            *CREDENTIAL_PROVIDER,
            *PIPELINES,
            *APPLICATION,
            *GITHUB,
            *MANAGED_IDENTITY_GROUP,
            *CLIS,
            *SIGN_IN,
            *SESSION,
            *CACHE_GROUP,
            *NETWORK,
            *CI_MARKERS,
        )
    )
)
