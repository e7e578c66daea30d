"""The value every source returns: a secret that never shows in a repr."""

from __future__ import annotations

import base64
import binascii
import enum
import math
import time
from typing import NamedTuple

#: What clients send as the user name when the caller gave none. Azure Artifacts ignores the
#: user name for PATs and tokens; this is the convention uv's and Microsoft's docs use.
DEFAULT_USERNAME = "VssSessionToken"
#: A token remembered in process memory is handed out again only while it has this long left.
REUSE_MARGIN = 300.0


class Kind(str, enum.Enum):
    """What sort of secret a token is; Azure DevOps Server hosts only ever get a ``PAT``."""

    PAT = "PAT"
    ENTRA = "Entra ID token"
    JOB = "Azure Pipelines job token"
    SESSION = "Azure DevOps session token"

    def __str__(self) -> str:
        return self.value


class Token(NamedTuple):  # not a dataclass: this is on every Azure lookup's import path
    """A secret for one organisation, where it came from, and when it stops working."""

    secret: str
    kind: Kind
    source: str
    """A human name for where it came from, e.g. ``KEYRING_ADO_PAT`` or ``az``."""
    username: str = DEFAULT_USERNAME
    expires_on: float | None = None
    """Seconds since the epoch; None when unknown (PATs)."""

    def __repr__(self) -> str:
        if self.expires_on is None:
            expiry = "never"
        elif sane_expiry(self.expires_on) is None:
            expiry = "invalid"
        else:
            expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expires_on))
        return f"Token(secret='***', kind={self.kind.name}, source={self.source!r}, expires={expiry})"

    def fresh(self, margin: float = 0.0, now: float | None = None) -> bool:
        """True while the token has at least *margin* seconds left (or no known expiry)."""
        if self.expires_on is None:
            return True
        return self.expires_on - margin > (time.time() if now is None else now)


def jwt_claims(secret: str) -> dict[str, object]:
    """The claims of a JWT, read without verifying it; empty for anything else."""
    import json  # noqa: PLC0415 - 5 M instructions a PAT lookup need not pay: only tokens that look like JWTs

    parts = secret.split(".")
    if len(parts) != 3 or not parts[0].startswith("eyJ"):
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}


def jwt_expiry(secret: str) -> float | None:
    """The ``exp`` claim of a JWT, read without verifying it; None for anything else."""
    return sane_expiry(jwt_claims(secret).get("exp"))


#: Later than any token lives (the year 5138): an expiry beyond it is not a real one.
_LATEST = 1e11


def finite_number(value: object) -> float | None:
    """*value* as a float when it is a finite JSON number; None for anything else (a string, null,
    true, NaN, an infinity, or an integer too large for a float, all of which files and answers
    from elsewhere can hold)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def sane_expiry(value: object) -> float | None:
    """*value* as seconds since the epoch when it is a finite number that is a real date (a NaN,
    an infinity or the year 10^300 from a broken or forged answer is not); None otherwise."""
    number = finite_number(value)
    return number if number is not None and 0 <= number < _LATEST else None
