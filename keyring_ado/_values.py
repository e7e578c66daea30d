"""Strict reading of variable values: each malformed one is ignored and described in one line
(never quoting it: people paste secrets into the wrong variable), and every secret read is
collected, so that any text quoted from elsewhere can be masked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

from . import variables as names

#: The longest any timeout may be: a lookup that waits longer than an hour is a hang.
MAX_SECONDS = 3600.0
_HEX = frozenset("0123456789abcdefABCDEF")
_LABEL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"", "0", "false", "no", "off"})


def masked_repr(value: tuple[object, ...], fields: tuple[str, ...]) -> str:
    """Booleans and numbers as they are; every text or collection only as set or not: people paste
    secrets into URLs, host lists and tenant variables, and a repr must never show one."""
    shown = (
        f"{name}={item!r}"
        if item is None or isinstance(item, bool | int | float) or hasattr(item, "_fields")  # a record masks its own
        else f"{name}=<{'set' if item else 'empty'}>"
        for name, item in zip(fields, value, strict=True)
    )
    return f"{type(value).__name__}({', '.join(shown)})"


class Endpoint(NamedTuple):
    """One entry of ``VSS_NUGET_EXTERNAL_FEED_ENDPOINTS``: a URL prefix and its credential."""

    endpoint: str
    username: str | None
    password: str

    def __repr__(self) -> str:
        return masked_repr(self, self._fields)


def is_guid(text: str) -> bool:
    """8-4-4-4-12 hex digits (no regex: this module is imported for every keyring lookup)."""
    parts = text.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(set(p) <= _HEX for p in parts)


def is_domain(text: str) -> bool:
    """A DNS name like ``contoso.onmicrosoft.com``: dotted labels and a short alphabetic last one
    (a PAT or a token pasted by mistake is neither, and is then never shown)."""
    labels = text.split(".")
    return (
        len(text) <= 253
        and len(labels) >= 2
        and all(label and len(label) <= 63 and set(label) <= _LABEL for label in labels)
        and labels[-1].isalpha()
        and len(labels[-1]) <= 24
    )


class Reader:
    """Parses variables strictly, records one line for each malformed one, and collects every secret read."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []
        self.secrets: list[str] = []
        """Every secret value read (the variables of ``SECRET_VARIABLES``, and the endpoints' passwords)."""

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def flag(self, name: str) -> bool:
        raw = self.environ.get(name)
        if raw is None:
            return False
        value = raw.strip().lower()
        if value in TRUE:
            return True
        if value not in FALSE:
            self.problem(
                f"{name} is set to something that is not a boolean (its value is not shown); "
                "use 1/true/yes/on or 0/false/no/off"
            )
        return False

    def secret(self, name: str, *, report_empty: bool = True) -> str | None:
        raw = self.environ.get(name)
        if raw is None:
            return None
        value = raw.strip()
        if not value:
            if report_empty:
                self.problem(f"{name} is set but empty; ignoring it")
            return None
        if any(ch.isspace() for ch in value):
            self.problem(f"{name} contains whitespace inside the value; ignoring it (check how it was quoted)")
            return None
        self.secrets.append(value)
        return value

    def text(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def first_secret(self, candidates: tuple[str, ...]) -> tuple[str, str | None]:
        for name in candidates:
            if name in self.environ:
                return name, self.secret(name)
        return candidates[-1], None

    def seconds(self, name: str, default: float) -> float:
        raw = self.environ.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            self.problem(f"{name} is not a positive number of seconds (its value is not shown); using {default:g}")
            return default
        if value > MAX_SECONDS:
            self.problem(f"{name} is more than {MAX_SECONDS:g} seconds; using {MAX_SECONDS:g}")
            return MAX_SECONDS
        return value

    def managed_identity(self) -> str | None:
        """``system`` or a client id when managed identity should be asked, else None.

        Asked only when the hosting environment announces it or the user turns it on: a blind
        probe of 169.254.169.254 off Azure costs seconds, and minutes behind a proxy."""
        raw = self.environ.get(names.MANAGED_IDENTITY, "").strip()
        if raw.lower() in TRUE:
            return "system"
        if raw and raw.lower() not in FALSE:
            if not is_guid(raw):
                self.problem(
                    f"{names.MANAGED_IDENTITY} is neither 1 nor a client id (a GUID) "
                    "(its value is not shown); ignoring it"
                )
                return None
            return raw.lower()
        if raw:  # 0, false, no or off: never
            return None
        detected = any(all(self.environ.get(name) for name in marker) for marker in names.MANAGED_IDENTITY_MARKERS)
        return "system" if detected else None

    def tenant(self) -> str | None:
        raw = self.environ.get(names.TENANT, "").strip()
        if not raw:
            return None
        value = raw.lower()
        if not (is_guid(value) or value in {"organizations", "common", "consumers"} or is_domain(value)):
            self.problem(f"{names.TENANT} is not a tenant id or domain (its value is not shown); ignoring it")
            return None
        return value

    def cache_on(self) -> bool:
        raw = self.environ.get(names.CACHE, "").strip().lower()
        if raw and raw in FALSE:
            return False
        if raw and raw not in TRUE:
            self.problem(f"{names.CACHE} is neither on nor off (its value is not shown); keeping the token cache on")
        return True

    def hosts(self) -> frozenset[str]:
        raw = self.environ.get(names.HOSTS, "")
        hosts = set()
        for position, item in enumerate(raw.split(","), start=1):
            host = item.strip().lower()
            if not host:
                continue
            if "://" in host or "/" in host or "@" in host or not _valid_host_port(host):
                self.problem(
                    f"{names.HOSTS} entry {position} is not host[:port] (its value is not shown); "
                    "write it like tfs.example.com or tfs.example.com:8443"
                )
                continue
            hosts.add(host[:-4] if host.endswith(":443") else host)
        return frozenset(hosts)

    def prefixes(self) -> tuple[str, ...]:
        for name in names.URI_PREFIXES:
            raw = self.environ.get(name)
            if raw is not None:
                return tuple(p.strip() for p in raw.split(";") if p.strip())
        return ()

    def endpoints(self) -> tuple[str, tuple[Endpoint, ...]]:
        for name in names.EXTERNAL_FEED_ENDPOINTS:
            raw = self.environ.get(name)
            if raw is None:
                continue
            if not raw.strip():
                self.problem(f"{name} is set but empty; ignoring it")
                return name, ()
            return name, self._parse_endpoints(name, raw)
        return names.EXTERNAL_FEED_ENDPOINTS[1], ()

    def _parse_endpoints(self, name: str, raw: str) -> tuple[Endpoint, ...]:
        import json  # noqa: PLC0415 - only when the variable is set; keeps foreign lookups light

        expected = '{"endpointCredentials": [{"endpoint": "https://...", "password": "..."}]}'
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as exc:
            # exc carries a position, never the text around it
            self.problem(f"{name} is not valid JSON ({exc.msg} at character {exc.pos}); expected {expected}")
            return ()
        except (ValueError, RecursionError):  # nested too deep, or a number too long to read
            self.problem(
                f"{name} is not JSON keyring-ado can read (too deeply nested or too large); expected {expected}"
            )
            return ()
        entries = document.get("endpointCredentials") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            self.problem(f"{name} has no endpointCredentials list; expected {expected}")
            return ()
        endpoints = []
        for index, entry in enumerate(entries):
            endpoint = entry.get("endpoint") if isinstance(entry, dict) else None
            password = entry.get("password") if isinstance(entry, dict) else None
            username = entry.get("username") if isinstance(entry, dict) else None
            if not (isinstance(endpoint, str) and endpoint.strip() and isinstance(password, str) and password):
                self.problem(f'{name} entry {index} needs a non-empty "endpoint" and "password"; ignoring that entry')
                continue
            self.secrets.append(password)
            endpoints.append(
                Endpoint(
                    endpoint=endpoint.strip(),
                    username=username if isinstance(username, str) and username else None,
                    password=password,
                )
            )
        return tuple(endpoints)


def _valid_host_port(text: str) -> bool:
    host, _, port = text.partition(":")
    if port and not (port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536):
        return False
    labels = host.split(".")
    return bool(host) and all(
        label and len(label) < 64 and all((c.isascii() and c.isalnum()) or c == "-" for c in label) for label in labels
    )
