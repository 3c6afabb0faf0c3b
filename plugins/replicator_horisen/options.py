"""The connection options of the HORISEN provider (``options = {...}`` in the TOML).

Every option answers something no public source says [?]; the defaults work with
what is known, and a wrong value fails before any request is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from replicator.errors import ConfigError
from replicator_horisen.records import TIME_FIELDS, Document

_FIELD_RE = re.compile(r"[A-Za-z_]\w*")
DEFAULT_MODIFIED_FIELD = "statusDt"


@dataclass(frozen=True, slots=True)
class HorisenOptions:
    """Attributes:
        page_size: documents per page. The largest page size is unknown [?]; 100 is
            the largest the fake accepts, and a server that refuses it answers 400
            ``BAD_PARAM_PAGE_SIZE``, which ends the pass with that code: lower it.
        modified_field: the date-time that every change of a document moves, used
            as ``gte(<field>)=<cursor>`` for increments. The seed names none;
            ``statusDt`` is on every document. A name the record type lacks is
            added to it as a date-time column.
        tenant: the tenant id in the replica (``_tenant``). One connection is one
            tenant: each has its own host and client. Default: the base URL's host
            and path, e.g. ``api.horisen.pro/finance/sit/v1``.
        full_scan: read every document on every pass and sweep: documents deleted
            at the source (there is no deletion feed) leave the replica, and so do
            their items. Costs two full reads per pass (see ``provider.py``).
        requests_per_minute: calls per tenant per clock minute [?].
        max_concurrency: calls in flight per tenant [?].
    """

    page_size: int = 100
    modified_field: str = DEFAULT_MODIFIED_FIELD
    tenant: str = ""
    full_scan: bool = False
    requests_per_minute: int = 60
    max_concurrency: int = 4

    @classmethod
    def parse(cls, raw: Mapping[str, Any], base_url: str) -> HorisenOptions:
        """Validate ``raw`` (the connection's ``options``).

        Raises:
            ConfigError: an unknown option, or a value of the wrong type or range.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"horisen: unknown option(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for name in ("page_size", "requests_per_minute", "max_concurrency"):
            if name in raw:
                value = raw[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(f"horisen: options.{name} must be a positive integer, got {value!r}")
                values[name] = value
        if "full_scan" in raw:
            if not isinstance(raw["full_scan"], bool):
                raise ConfigError(f"horisen: options.full_scan must be true or false, got {raw['full_scan']!r}")
            values["full_scan"] = raw["full_scan"]
        field = raw.get("modified_field", DEFAULT_MODIFIED_FIELD)
        if not isinstance(field, str) or not _FIELD_RE.fullmatch(field):
            raise ConfigError(f"horisen: options.modified_field must be a field name, got {field!r}")
        if field in Document.__struct_fields__ and field not in TIME_FIELDS:
            raise ConfigError(f"horisen: options.modified_field {field!r} is not a date-time; "
                              f"use one of {', '.join(sorted(TIME_FIELDS))} or a field the documents lack")
        values["modified_field"] = field
        tenant = raw.get("tenant") or _tenant_of(base_url)
        if not isinstance(tenant, str):
            raise ConfigError(f"horisen: options.tenant must be text, got {tenant!r}")
        values["tenant"] = tenant
        return cls(**values)


def _tenant_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.netloc}{parts.path}".rstrip("/")
