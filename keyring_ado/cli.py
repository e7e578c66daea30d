"""``keyring-ado``: explain a lookup, sign in ahead of time, forget, and configure the clients.

Messages for people go to stderr; stdout carries only what a program may read (``--json``, or the
configuration ``setup`` prints). No command ever prints a secret.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import _http, cache, client_config, discovery, feeds, settings
from ._jsonfile import JsonFile
from ._redact import redact, without_userinfo
from .chain import attempts, next_step
from .resolver import Resolver
from .sources import _msal, signin_storage
from .token import sane_expiry

_log = logging.getLogger("keyring_ado")
DIAGNOSE_TIMEOUT = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keyring-ado", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr (secrets redacted)")
    commands = parser.add_subparsers(dest="command", required=True)
    diagnose = commands.add_parser("diagnose", help="ask every source for URL and say what each answered")
    diagnose.add_argument("url")
    diagnose.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    login = commands.add_parser("login", help="sign in for URL now, ahead of an install")
    login.add_argument("url")
    logout = commands.add_parser("logout", help="forget cached tokens and sign-ins (all, or one organisation's)")
    logout.add_argument("url", nargs="?")
    setup = commands.add_parser("setup", help="print (or --write) a client's configuration for URL")
    setup.add_argument("client", choices=["pip", "uv", "poetry"])
    setup.add_argument("url")
    setup.add_argument("--write", action="store_true", help="merge it into the client's configuration file")
    setup.add_argument("--project", type=Path, default=Path(), help="the Poetry project directory (default: .)")
    args = parser.parse_args(argv)
    if args.verbose:
        _verbose()
    try:
        config = settings.Settings.from_environ(os.environ)
        if args.command == "setup":
            return _setup(args.client, args.url, config, write=args.write, project=args.project)
        feed = feeds.parse(args.url, config.server_hosts) if args.url else None
        if args.url and feed is None:
            shown = without_userinfo(args.url)
            _error(f"{shown} is not an Azure DevOps feed URL keyring-ado serves (https, pkgs.dev.azure.com, "
                   "{org}.pkgs.visualstudio.com, or a host in KEYRING_ADO_HOSTS)")  # fmt: skip
            return 2
        if args.command == "diagnose":
            return _diagnose(feed, args.url, config, as_json=args.json)
        if args.command == "login":
            return _login(feed, config)
        return _logout(feed, config)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug, or a fault nobody foresaw: one line, never a traceback or its text
        _error(
            f"{args.command} stopped unexpectedly ({type(exc).__name__}); run `keyring-ado -v {args.command} ...` "
            "and report this"
        )
        _log.debug("keyring-ado: %s", type(exc).__name__, exc_info=args.verbose)
        return 1


def _say(message: str) -> None:
    sys.stderr.write(f"keyring-ado: {message}\n")


def _error(message: str) -> None:
    """A message that ends the command unsuccessfully (each has an entry in the troubleshooting page)."""
    _say(message)


class _Redacting(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


def _verbose() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Redacting())
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    _log.addHandler(handler)
    _log.setLevel(logging.DEBUG)
    _log.propagate = False


def _diagnose(feed: feeds.Feed | None, url: str, config: settings.Settings, *, as_json: bool) -> int:
    assert feed is not None  # noqa: S101 - main() checked
    resolver = Resolver()
    request = resolver.request(feed, config)
    report: dict[str, Any] = {
        "url": without_userinfo(url),
        "organization": feed.organization,
        "server": feed.server,
        "sources": [],
    }
    if not feed.server:
        authority = request.authority()
        report["tenant"] = {"tenant": authority.tenant, "from": authority.source, "public": authority.public}
    for problem in config.problems:
        report.setdefault("problems", []).append(problem)
    served = None
    for attempt in attempts(request, resolver.sources(config), config.secrets):
        entry: dict[str, Any] = {"source": attempt.source, "outcome": attempt.outcome.value, "detail": attempt.detail}
        if attempt.token is not None:
            served = attempt.token
            entry.update(kind=str(served.kind), expires=_when(served.expires_on))
        report["sources"].append(entry)
    if served is not None:
        report["probe"] = _probe(url, served.username, served.secret, config)
    else:
        last = report["sources"][-1] if report["sources"] else None
        failed = last is not None and last["outcome"] == "failed"
        report["next"] = f"fix what {last['source']} reported" if failed and last else next_step(feed)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        _print_report(report)
    ok = served is not None and report["probe"].get("status") == 200
    return 0 if ok else 1


def _print_report(report: dict[str, Any]) -> None:
    _say(f"diagnosing {report['url']}")
    if "tenant" in report:
        tenant = report["tenant"]
        public = " (a public feed)" if tenant["public"] else ""
        _say(f"  tenant: {tenant['tenant']} (from {tenant['from']}){public}")
    for problem in report.get("problems", []):
        _say(f"  setting: {problem}")
    for entry in report["sources"]:
        if entry["outcome"] == "served":
            _say(f"  {entry['source']}: served a {entry['kind']} ({entry['detail']}), expires {entry['expires']}")
        else:
            _say(f"  {entry['source']}: {entry['outcome']}: {entry['detail']}")
    if "probe" in report:
        probe = report["probe"]
        _say(f"  feed answered {probe.get('status', 'nothing')} to an authenticated request{probe.get('note', '')}")
    if "next" in report:
        _say(f"next: {report['next']}")


def _probe(url: str, username: str, secret: str, config: settings.Settings) -> dict[str, Any]:
    target = feeds.request_url(url) or url  # the URL a client would request: no user info, query or fragment
    credentials = base64.b64encode(f"{username}:{secret}".encode()).decode()
    method = "GET" if "/pypi/upload" not in target else "HEAD"
    try:
        answer = _http.request(
            target, config.network.ca_bundle, method=method, headers={"Authorization": f"Basic {credentials}"},
            timeout=DIAGNOSE_TIMEOUT, read_body=False,
        )  # fmt: skip
    except (OSError, ValueError) as exc:
        return {"status": None, "note": f" (no answer: {_http.reason(exc)})"}
    note = " (the credential was refused)" if answer.status in {401, 403} else ""
    return {"status": answer.status, "note": note}


def _when(expires_on: float | None) -> str:
    if expires_on is None:
        return "never (a PAT; its own expiry is set in Azure DevOps)"
    if sane_expiry(expires_on) is None:
        return "at a time that is not a real date"
    minutes = int((expires_on - time.time()) // 60)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(expires_on))} (in {minutes} min)"


def _login(feed: feeds.Feed | None, config: settings.Settings) -> int:
    assert feed is not None  # noqa: S101 - main() checked
    token = Resolver().lookup(feed, config)
    if token is None:
        return 1
    _say(f"ready: a {token.kind} from {token.source} for {feed.describe()}, expires {_when(token.expires_on)}")
    return 0


def _logout(feed: feeds.Feed | None, config: settings.Settings) -> int:
    if config.cache.directory is None:
        _say("KEYRING_ADO_CACHE=off: nothing is kept on disk, so there is nothing to remove")
        return 0
    directory = Path(config.cache.directory)
    if directory.exists() and not directory.is_dir():
        _error(
            f"{directory} is not a directory, so nothing of keyring-ado's is kept there; check KEYRING_ADO_CACHE_DIR"
        )
        return 1
    try:
        removed, problem = _remove(feed, directory)
    except OSError as exc:
        _error(f"logout stopped: {exc}; remove it by hand")
        return 1
    if removed:
        _say("removed " + "; ".join(removed))
    elif problem is None:
        _say(f"nothing to remove in {directory}")
    if problem is not None:
        _error(problem)
        return 1
    if feed is not None and _signin_kept(directory):
        _say(
            "the sign-in is kept: it serves every organisation and tenant; run `keyring-ado logout` "
            "without a URL to forget it too"
        )
    return 0


def _signin_kept(directory: Path) -> bool:
    return signin_storage.remembered_somewhere(directory)


def _remove(feed: feeds.Feed | None, directory: Path) -> tuple[list[str], str | None]:
    """What was removed, and what could not be (one line)."""
    removed: list[str] = []
    if feed is None:
        for name in (cache.FILE_NAME, discovery.FILE_NAME):
            if JsonFile(directory / name).clear():
                removed.append(str(directory / name))
        forgotten, problem = _msal.forget(directory)
        return removed + forgotten, problem
    prefix = feed.entry_key
    for name in (cache.FILE_NAME, discovery.FILE_NAME):
        store = JsonFile(directory / name)
        entries = store.read()
        mine = [key for key in entries if key == prefix or key.startswith(prefix + "|")]
        if mine:
            store.update(lambda current, drop=mine: {k: v for k, v in current.items() if k not in drop})  # type: ignore[misc]
            removed.append(f"{len(mine)} entr{'y' if len(mine) == 1 else 'ies'} for {feed.describe()} in {name}")
    return removed, None


def _setup(client: str, url: str, config: settings.Settings, *, write: bool, project: Path) -> int:
    feed = feeds.parse(url, config.server_hosts)
    if feed is None or feed.name is None:
        _error(
            f"{without_userinfo(url)} is not an Azure Artifacts index URL "
            "(https://pkgs.dev.azure.com/ORG/_packaging/FEED/pypi/simple/)"
        )
        return 2
    index = client_config.index_url(url)
    if not write:
        try:
            sys.stdout.write(client_config.snippet(client, index))
        except client_config.ConfigError as exc:
            _error(str(exc))
            return 1
        _say(client_config.advice(client))
        return 0
    path = client_config.config_path(client, os.environ, project)
    try:
        changed = client_config.write(client, index, path)
    except client_config.ConfigError as exc:
        _error(str(exc))
        return 1
    _say(f"{'updated' if changed else 'already set up:'} {path}")
    _say(client_config.advice(client))
    return 0


if __name__ == "__main__":
    sys.exit(main())
