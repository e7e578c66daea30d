"""Running a command-line tool (az, azd) for a token: found on absolute PATH entries only, given a
fixed set of arguments, bounded by a timeout, its environment stripped of our secrets."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from .. import variables as names
from .._path import which
from .._values import is_guid
from ..errors import SourceFailed, SourceUnavailable
from ._entra import AZURE_DEVOPS_RESOURCE
from .base import Source

if TYPE_CHECKING:
    from .. import _process

_log = logging.getLogger(__name__)

#: Every argument az and azd are ever given, besides a tenant GUID and the scope built from the resource.
_FIXED_ARGUMENTS = frozenset(
    {"account", "get-access-token", "--resource", "--output", "json", "--tenant", "auth", "token", "--no-prompt",
     "--scope", "--tenant-id", AZURE_DEVOPS_RESOURCE, f"{AZURE_DEVOPS_RESOURCE}/.default"}
)  # fmt: skip


class CliSource(Source):
    """A source that asks a command-line tool (az, azd) for its token."""

    program = ""
    description = ""
    """How messages name the tool: ``the Azure CLI (az)``."""
    home_config = ""
    """The tool's configuration directory under ``~`` when none is set: ``.azure``, ``.azd``."""

    def __init__(
        self,
        *,
        search_path: str = "",
        pathext: str = "",
        config_dir: str | None = None,
        timeout: float = 20.0,
        tenant: str | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.search_path, self.pathext, self.timeout, self.secrets = search_path, pathext, timeout, secrets
        self.config_dir = config_dir
        """The configuration directory as set (``AZURE_CONFIG_DIR``, ``AZD_CONFIG_DIR``); None: the default."""
        self.tenant = tenant
        """``KEYRING_ADO_TENANT``: part of the identity, since it changes which tenant the tool is asked for."""

    def executable(self) -> str:
        """The tool's path; unavailable when it is not installed."""
        return executable(self.program, self.description, self.search_path, self.pathext)

    def config_directory(self) -> str:
        return self.config_dir or os.path.expanduser(os.path.join("~", self.home_config))


def executable(name: str, description: str, search_path: str, pathext: str) -> str:
    """The CLI's path; unavailable, at the cost of a PATH scan, when it is not installed.

    Only absolute PATH entries are searched, never the current directory (see :func:`_path.which`)."""
    path = which(name, search_path, pathext=pathext)
    if path is None:
        raise SourceUnavailable(f"{description} is not on PATH (absolute PATH entries only)")
    return path


def run_cli(
    argv: list[str], timeout: float, *, by_hand: str, extra_env: dict[str, str] | None = None
) -> _process.Completed:
    """Runs a CLI (az, azd) within *timeout* (``KEYRING_ADO_AZ_TIMEOUT``); a hang or a failure to
    start is the source's failure, naming the command to run by hand to see what went wrong."""
    from .. import _process  # noqa: PLC0415 - a lookup served from the token file only checks that az exists

    unexpected = [arg for arg in argv[1:] if not _allowed_argument(arg)]
    if unexpected:  # az and azd are .cmd files on Windows, parsed by cmd.exe: nothing else gets through
        raise SourceFailed(f"refused to run {argv[0]} with an argument outside the fixed set: {unexpected[0]!r}")
    _log.debug("keyring-ado: running %s (timeout %g s)", by_hand, timeout)
    try:
        return _process.run(argv, timeout=timeout, extra_env=extra_env, hide=names.SECRET_VARIABLES)
    except _process.ProcessTimeout as exc:
        raise SourceFailed(
            f"{exc}; run `{by_hand}` yourself to see what it waits for, or raise KEYRING_ADO_AZ_TIMEOUT"
        ) from None
    except OSError as exc:
        raise SourceFailed(f"could not start {argv[0]}: {exc.strerror or exc}") from None


def _allowed_argument(argument: str) -> bool:
    return argument in _FIXED_ARGUMENTS or is_guid(argument)
