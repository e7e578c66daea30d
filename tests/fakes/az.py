"""A fake ``az`` executable: logs its argv, then behaves as ``az.json`` beside it says.

Modes: ``token`` (prints what ``az account get-access-token --output json`` prints: the configured
token when it is for the ``--resource`` and tenant asked for, the ``--tenant`` or else the profile's
default account's, and otherwise, as az would, a token the fake Entra ID signs for what was asked),
``not_logged_in``, ``aadsts`` (an Entra error), ``garbage`` (exit 0, not JSON, with the token
inside), ``hang`` (sleeps), ``expired`` (a token whose expiry has passed), ``grandchild`` (prints a
token and exits, leaving a process in its own session that holds stdout for 60 s). The names of the
environment variables each run saw are logged too.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
import time
from pathlib import Path

from tests.fakes.entra import ADO_RESOURCE, make_jwt, signing_key

SCRIPT = r"""#!{python}
import json, sys, time
from pathlib import Path
here = Path(__file__).resolve().parent
config = json.loads((here / "az.json").read_text())
with open(here / "az.log", "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
import os
with open(here / "az.env", "a") as log:
    log.write(json.dumps(sorted(os.environ)) + "\n")
mode = config["mode"]
token = config.get("token", "")
time.sleep(config.get("delay", 0))


def asked(flag):
    args = sys.argv[1:]
    return args[args.index(flag) + 1] if flag in args[:-1] else None


def profile_tenant():
    try:
        profile = json.loads(Path(config["profile"]).read_text(encoding="utf-8-sig"))
        return next(s["tenantId"] for s in profile["subscriptions"] if s.get("isDefault"))
    except (OSError, ValueError, KeyError, StopIteration):
        return None


def for_what_was_asked(token, tenant, expires):
    # The configured token when it is for the resource and tenant asked; else one signed for those.
    import base64

    def b64(data):
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return token
    resource = asked("--resource") or (asked("--scope") or "").removesuffix("/.default")
    if not isinstance(claims, dict) or "aud" not in claims:
        return token
    if claims["aud"] == resource and claims.get("tid", tenant) == tenant:
        return token
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key(config["signing_key"].encode(), password=None)
    claims.update({{"aud": resource, "tid": tenant, "iss": f"https://sts.windows.net/{{tenant}}/", "exp": expires}})
    signed = b64(json.dumps({{"typ": "JWT", "alg": "RS256", "kid": "fake"}}).encode()) + "."
    signed += b64(json.dumps(claims).encode())
    return signed + "." + b64(key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256()))


if mode == "token" or mode == "expired":
    expires = int(time.time()) + (-120 if mode == "expired" else config.get("lifetime", 3600))
    tenant = asked("--tenant") or profile_tenant() or "72f988bf-86f1-41af-91ab-2d7cd011db47"
    printed = {{
        "accessToken": for_what_was_asked(token, tenant, expires),
        "expiresOn": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.localtime(expires)),
        "expires_on": expires,
        "subscription": "00000000-1111-2222-3333-444444444444",
        "tenant": tenant,
        "tokenType": "Bearer",
    }}
    if config.get("old"):  # az before 2.54 printed only the naive local time
        del printed["expires_on"]
    print(json.dumps(printed, indent=2))
elif mode == "not_logged_in":
    sys.stderr.write("ERROR: Please run 'az login' to setup account.\n")
    sys.exit(1)
elif mode == "aadsts":
    sys.stderr.write("ERROR: AADSTS700082: The refresh token has expired due to inactivity. " + token + "\n")
    sys.exit(1)
elif mode == "garbage":
    print("WARNING: something odd happened " + token)
elif mode == "hang":
    time.sleep(120)
elif mode == "grandchild":  # `setsid sleep 60 &`: a process in its own session holds stdout
    import subprocess
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    print(json.dumps({{"accessToken": token, "expires_on": int(time.time()) + 3600}}))
"""


def _install(directory: Path, name: str, script: str) -> Path:
    """Write an executable fake program *name* into *directory*, run by this interpreter."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(script.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


USER = "dev@contoso.test"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


class FakeAz:
    """The fake az, and the profile (``azureProfile.json``) a real az keeps: written where az
    would (``AZURE_CONFIG_DIR``, else ``~/.azure`` of this process's HOME unless *profile_dir*
    says), naming the signed-in account in every mode but ``not_logged_in``."""

    def __init__(self, directory: Path, profile_dir: Path | None = None) -> None:
        self.directory = directory
        self.path = _install(directory, "az", SCRIPT)
        default = os.environ.get("AZURE_CONFIG_DIR") or str(Path(os.environ.get("HOME", str(directory))) / ".azure")
        self.profile_dir = (profile_dir or Path(default)).resolve()
        if not self.profile_dir.is_relative_to(Path(tempfile.gettempdir()).resolve()):
            raise RuntimeError(f"the fake az writes only under the temporary directory, not {self.profile_dir}")
        self.user, self.tenant = USER, TENANT
        self.configure("not_logged_in")

    def configure(
        self, mode: str, token: str = "", lifetime: int = 3600, delay: float = 0, *, old: bool = False
    ) -> None:
        """*old*: print only ``expiresOn`` (local time, no zone), as az before 2.54 did."""
        config = {
            "mode": mode,
            "token": token,
            "lifetime": lifetime,
            "delay": delay,
            "old": old,
            "profile": str(self.profile_dir / "azureProfile.json"),
            "signing_key": _signing_key_pem(),
        }
        (self.directory / "az.json").write_text(json.dumps(config))
        self.write_profile(signed_in=mode != "not_logged_in")

    def login(self, user: str, tenant: str = TENANT, token: str = "") -> None:
        """``az login`` as *user* (in *tenant*); with *token*, az then hands out that token."""
        self.user, self.tenant = user, tenant
        if token:
            self.configure("token", token)
        else:
            self.write_profile(signed_in=True)

    def account_set(self, tenant: str) -> None:
        """``az account set`` to a subscription in another tenant."""
        self.tenant = tenant
        self.write_profile(signed_in=True)

    def logout(self) -> None:
        """``az logout``: the profile keeps no account; az answers "Please run 'az login'"."""
        self.configure("not_logged_in")

    def write_profile(self, *, signed_in: bool) -> None:
        subscriptions = (
            [
                {
                    "id": "00000000-1111-2222-3333-444444444444",
                    "name": "Contoso dev",
                    "state": "Enabled",
                    "user": {"name": self.user, "type": "user"},
                    "isDefault": True,
                    "tenantId": self.tenant,
                    "environmentName": "AzureCloud",
                    "homeTenantId": self.tenant,
                }
            ]
            if signed_in
            else []
        )
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        document = {"installationId": "fake", "subscriptions": subscriptions}
        (self.profile_dir / "azureProfile.json").write_text(json.dumps(document), encoding="utf-8-sig")

    @property
    def calls(self) -> list[list[str]]:
        log = self.directory / "az.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    @property
    def environments(self) -> list[list[str]]:
        """The names of the environment variables each run saw."""
        log = self.directory / "az.env"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def jwt(lifetime: float = 3600, **claims: object) -> str:
    """An Entra access token for Azure DevOps, for a person in the tests' tenant, as ``az login``
    holds one: signed by the fake Entra ID, so the feed fake judges it as Azure DevOps would."""
    now = int(time.time())
    body = {
        "aud": ADO_RESOURCE,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "tid": TENANT,
        "iat": now,
        "nbf": now,
        "exp": int(now + lifetime),
        "oid": os.urandom(4).hex(),
        "scp": "user_impersonation",
        **claims,
    }
    return make_jwt(body)


def _signing_key_pem() -> str:
    """The fake Entra ID's signing key, for the fake az to sign what it is asked for (tests only)."""
    from cryptography.hazmat.primitives import serialization

    return (
        signing_key()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


AZD_SCRIPT = r"""#!{python}
import json, sys, time
from pathlib import Path
here = Path(__file__).resolve().parent
config = json.loads((here / "azd.json").read_text())
with open(here / "azd.log", "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
mode, token = config["mode"], config.get("token", "")
if mode == "token":
    expires = time.gmtime(time.time() + config.get("lifetime", 3600))
    print(json.dumps({{"token": token, "expiresOn": time.strftime("%Y-%m-%dT%H:%M:%SZ", expires)}}))
elif mode == "not_logged_in":
    sys.stderr.write("ERROR: not logged in, run `azd auth login` to login\n")
    sys.exit(1)
elif mode == "garbage":
    print("surprise " + token)
elif mode == "hang":
    time.sleep(600)
"""


class FakeAzd:
    """A fake ``azd``: logs its argv; modes ``token``, ``not_logged_in``, ``garbage``, ``hang``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = _install(directory, "azd", AZD_SCRIPT)
        self.configure("not_logged_in")

    def configure(self, mode: str, token: str = "") -> None:
        (self.directory / "azd.json").write_text(json.dumps({"mode": mode, "token": token}))

    @property
    def calls(self) -> list[list[str]]:
        log = self.directory / "azd.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
