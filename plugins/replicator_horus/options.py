"""A Horus connection's options and its API URL, validated before anything is sent.

One OAuth client serves every licence, and each licence has its own API URL,
handed over as ``api_url`` on the OAuth callback, i.e. through the user's browser.
A tampered callback could name any host, and the first thing sent there would be
the client secret (code exchange) or a refresh token. So the URL is checked when
the connection is built: HTTPS, no credentials or query in it, and a host that
matches the deployment's ``api_host_pattern``. Plain HTTP is allowed only for a
loopback host, and only with ``allow_insecure_loopback = true`` (tests).

Options (``[connections.<name>.options]``; all but ``api_host_pattern`` optional):

``api_host_pattern``  comma-separated host globs (``"*.horus.example"``); ``"*"``
    accepts any HTTPS host, knowingly.
``allow_insecure_loopback``  accept ``http://`` on 127.0.0.0/8, ::1 or localhost.
``include_<resource>``  what to sideload on ``<resource>.list``, Horus's own
    ``Include`` text (``"CompanyDetail.Company,Daybook,Folder"``); ``""`` for
    nothing. ``-``, ``_`` and ``.`` are interchangeable in ``<resource>``, so
    ``include_invoices_sales_outstanding`` needs no TOML quoting.
``full_scan``  resources (comma-separated) to mirror by full scans that also
    remove what disappeared at the source, instead of ``ModifiedAfter``
    increments, which never see a deletion (Horus has no deletion feed).
``page_size``, ``max_pages``  records asked per page (100); pages per pass before
    the paging is declared endless (10,000).
``folders_mode``  ``Mode`` of ``folders.list``: 0 every accessible folder, 1 mine.
``rate_limit_calls``, ``rate_limit_period``, ``max_concurrency``  the licence's
    budget, shared by all its folders (60 calls per rolling 60 s, 4 at once) [?].
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from replicator.errors import ConfigError

# Include paths end in the type they sideload ("CompanyDetail.Company" -> Company).
INCLUDE_TYPES = ("Company", "Daybook", "Folder", "BookEntry")
LIST_RESOURCES = ("companies", "book-entries", "account-histories", "invoices.sales.outstanding")
# Resources with a Modified cursor that may be switched to full scans.
INCREMENTAL = ("companies", "book-entries", "account-histories")
# Enough to join book entries, histories and open invoices to their companies,
# daybooks, folders and entries without another call (the seed's own example first).
DEFAULT_INCLUDES: dict[str, str] = {
    "book-entries": "CompanyDetail.Company,Daybook,Folder",
    "account-histories": "CompanyDetail.Company,Daybook,BookEntry",
    "invoices.sales.outstanding": "CompanyDetail.Company,Daybook",
}
_PLAIN = ("api_host_pattern", "allow_insecure_loopback", "full_scan", "page_size", "max_pages",
          "folders_mode", "rate_limit_calls", "rate_limit_period", "max_concurrency")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]", "_", name.strip().lower())


_RESOURCE_BY_CANONICAL = {_canonical(name): name for name in LIST_RESOURCES}


@dataclass(frozen=True, slots=True)
class HorusOptions:
    """A connection's options, validated (see the module docstring)."""

    host_patterns: tuple[str, ...]
    allow_insecure_loopback: bool = False
    includes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_INCLUDES))
    full_scan: frozenset[str] = frozenset()
    page_size: int = 100
    max_pages: int = 10_000
    folders_mode: int = 0
    rate_limit_calls: int = 60
    rate_limit_period: float = 60.0
    max_concurrency: int = 4

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> HorusOptions:
        """Validate a connection's ``options`` table.

        Raises:
            ConfigError: an unknown option, a value of the wrong type or range, or
                no ``api_host_pattern``.
        """
        includes = dict(DEFAULT_INCLUDES)
        for key, value in options.items():
            if key in _PLAIN:
                continue
            if not key.startswith("include_"):
                raise _error(key, "unknown option; valid: " + ", ".join(_PLAIN) + ", include_<resource>")
            resource = _resource(key.removeprefix("include_"), key)
            includes[resource] = _include_text(key, value)
        pattern = options.get("api_host_pattern")
        if not isinstance(pattern, str) or not pattern.strip():
            raise _error("api_host_pattern", "required: the host glob(s) your licences' API URLs match, "
                         'e.g. "*.horus.example" (comma-separated; "*" accepts any HTTPS host)')
        full_scan = options.get("full_scan", "")
        if not isinstance(full_scan, str):
            raise _error("full_scan", f"expected comma-separated resource names, got {full_scan!r}")
        scans = frozenset(_resource(name, "full_scan", INCREMENTAL) for name in full_scan.split(",") if name.strip())
        return cls(
            host_patterns=tuple(p.strip().lower() for p in pattern.split(",") if p.strip()),
            allow_insecure_loopback=_bool(options, "allow_insecure_loopback", False),
            includes={k: v for k, v in includes.items() if v},
            full_scan=scans,
            page_size=_int(options, "page_size", 100, 1, 100_000),
            max_pages=_int(options, "max_pages", 10_000, 1, 10_000_000),
            folders_mode=_int(options, "folders_mode", 0, 0, 1),
            rate_limit_calls=_int(options, "rate_limit_calls", 60, 1, 10_000_000),
            rate_limit_period=_float(options, "rate_limit_period", 60.0),
            max_concurrency=_int(options, "max_concurrency", 4, 1, 1000),
        )

    def check_api_url(self, url: str | None) -> str:
        """``url`` without a trailing slash, if it may receive this connection's credentials.

        Raises:
            ConfigError: no URL, not HTTPS (nor allowed loopback HTTP), credentials,
                query or fragment in it, or a host outside ``api_host_pattern``.
        """
        if not url:
            raise ConfigError("horus: base_url is required: set it to the api_url the OAuth callback "
                              "gave for the licence")
        refused = f"horus: base_url {url!r} refused, no credential was sent there"
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host or parts.username is not None or parts.password is not None:
            raise ConfigError(f"{refused}: expected https://host[/path] without user or password")
        if parts.query or parts.fragment:
            raise ConfigError(f"{refused}: an API URL has no query or fragment")
        scheme = parts.scheme.lower()
        if scheme != "https":
            if scheme != "http" or not _loopback(host):
                raise ConfigError(f"{refused}: the API URL must use https")
            if not self.allow_insecure_loopback:
                raise ConfigError(f"{refused}: plain http, even on loopback, needs the option "
                                  "allow_insecure_loopback = true (for tests only)")
        if not any(fnmatch.fnmatchcase(host, pattern) for pattern in self.host_patterns):
            raise ConfigError(f"{refused}: host {host!r} does not match api_host_pattern "
                              f"{','.join(self.host_patterns)!r}")
        return url.rstrip("/")


def _error(key: str, message: str) -> ConfigError:
    return ConfigError(f"horus: options.{key}: {message}")


def _resource(name: str, key: str, allowed: tuple[str, ...] = LIST_RESOURCES) -> str:
    resource = _RESOURCE_BY_CANONICAL.get(_canonical(name))
    if resource is None or resource not in allowed:
        raise _error(key, f"{name.strip()!r} is not one of {', '.join(allowed)}")
    return resource


def _include_text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _error(key, f"expected Include text such as \"CompanyDetail.Company,Daybook\", got {value!r}")
    paths = [p.strip() for p in value.split(",") if p.strip()]
    for path in paths:
        if path.rsplit(".", 1)[-1] not in INCLUDE_TYPES:
            raise _error(key, f"{path!r} does not end in a type that can be stored; "
                              f"valid: {', '.join(INCLUDE_TYPES)}")
    return ",".join(paths)


def _bool(options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise _error(key, f"expected true or false, got {value!r}")
    return value


def _int(options: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _error(key, f"expected an integer from {low} to {high}, got {value!r}")
    return value


def _float(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86_400 * 31:
        raise _error(key, f"expected seconds (a positive number), got {value!r}")
    return float(value)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
