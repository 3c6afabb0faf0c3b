"""The provider contract: everything a plugin tells the engine about one API.

A provider is a class with a few declarations and four methods. Read this file
and ``plugins/replicator_exact`` and you know how to write one.

Declarations (class attributes):
    name: the entry-point name, used in configuration (``provider = "exact_online"``).
    default_base_url: where the API lives unless a connection overrides it.
    resources: the :class:`Resource` s it can mirror, each with its record type
        (a ``msgspec.Struct``), key field, cursor and whether it is a deletion feed.
    sideloads: record types that arrive inside other resources' pages
        (:attr:`Page.included`), each stored in a table of its own.
    limits: the per-tenant :class:`~replicator.limits.LimitPolicy` (windows, concurrency).

Methods:
    auth(): how a connection authenticates (an :class:`~replicator.auth.OAuth2Refresh`).
    discover(api): the tenants a connection covers (Exact: the divisions of the licence).
    first_request(tenant, bound, cursor): the first page of a pass, incremental from
        ``cursor`` (the highest cursor value already stored) or full when it is None.
    decode(bound, response): one response -> a :class:`Page` (records, next request,
        deleted keys). Raise :class:`~replicator.errors.DecodeError` for a bad body.
    rate_limit_observations(response): optional, what headers say about the windows.

Providers never import the engine: they build requests and decode responses; the
engine owns sending, waiting, retrying and storing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import msgspec

from replicator.decoding.records import RowBuilder, narrow, select_of
from replicator.limits import LimitPolicy, Observation
from replicator.stores.base import TableSpec
from replicator.types import Request, Response

if TYPE_CHECKING:
    from replicator.auth.flows import AuthFlow


@dataclass(frozen=True, slots=True)
class Cursor:
    """How a resource is made incremental.

    Attributes:
        field: the record field whose highest stored value is the cursor.
        ordered: pages come sorted ascending by ``field``, so the cursor may advance
            with every committed page (Exact's sync API). When False the cursor only
            advances at the end of a full pass, and a killed pass resumes from the
            stored next-page URL instead.
    """

    field: str
    ordered: bool = True


@dataclass(frozen=True, slots=True)
class Resource:
    """One mirrorable collection of a provider.

    Attributes:
        name: stable identifier, used in configuration and in the table name.
        record: the msgspec Struct one record decodes into; its fields are the columns.
        key: the field that identifies a record within a tenant.
        cursor: how increments are filtered, or None for a full scan every pass.
        deletions: records of this resource announce deletions in other resources;
            the engine runs it after the tenant's other resources and applies
            :attr:`Page.deletes`.
        sweep: a record that a complete *full* pass (one that started without a
            cursor) did not see was deleted at the source, and is removed from the
            replica. Incremental passes never sweep.
        description: one line for ``replicator providers``.
    """

    name: str
    record: type[msgspec.Struct]
    key: str = "ID"
    cursor: Cursor | None = None
    deletions: bool = False
    sweep: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Tenant:
    """A unit of data with its own rate budget: an Exact division, a Horus folder."""

    id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Page:
    """What one response yields.

    Attributes:
        records: decoded records: instances of the bound record type, or of its
            :class:`~replicator.decoding.WireRecord` twin (same fields, names and order).
        next: the request for the next page, or None on the last page.
        fanout: the other pages of this pass, when the first page tells how many
            there are (page-number paging with a total): they do not depend on each
            other, and the engine fetches them concurrently within the tenant's
            budget. Each decodes to a Page with neither ``next`` nor ``fanout``.
        deletes: resource name -> keys deleted in that resource (deletion feeds only).
        included: sideload name -> records that came along (JSON:API-style
            ``Included``), stored in the sideload's own table, deduplicated by key.
    """

    records: Sequence[Any]
    next: Request | None = None
    fanout: Sequence[Request] = ()
    deletes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    included: Mapping[str, Sequence[Any]] = field(default_factory=dict)


class BoundResource:
    """A resource as one connection mirrors it: the (maybe narrowed) record type and
    everything derived from it once (select list, row builder, table spec)."""

    __slots__ = ("record", "resource", "rows", "select", "table")

    def __init__(self, provider_name: str, resource: Resource,
                 fields: Sequence[str] | None = None) -> None:
        self.resource = resource
        required = [resource.key] + ([resource.cursor.field] if resource.cursor else [])
        self.record: type[msgspec.Struct] = (
            narrow(resource.record, fields, required=required) if fields else resource.record
        )
        self.select: tuple[str, ...] = select_of(self.record)
        self.rows = RowBuilder(self.record, resource.key)
        self.table = TableSpec(f"{provider_name}__{resource.name}", self.rows.columns, resource.key)

    @property
    def name(self) -> str:
        return self.resource.name

    def __repr__(self) -> str:
        return f"BoundResource({self.resource.name!r}, fields={len(self.select)})"


class Api(Protocol):
    """What :meth:`Provider.discover` may use: authenticated, budgeted, retried GETs."""

    async def fetch(self, request: Request, *, tenant: str | None = None) -> Response:
        """Send ``request`` (counted against ``tenant``'s budget when given)."""
        ...


class Provider(ABC):
    """Base class of every provider plugin (see the module docstring)."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    default_base_url: ClassVar[str]
    resources: ClassVar[tuple[Resource, ...]]
    sideloads: ClassVar[tuple[Resource, ...]] = ()
    limits: ClassVar[LimitPolicy] = LimitPolicy()

    def __init__(self, base_url: str | None = None, options: Mapping[str, Any] | None = None) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.options: Mapping[str, Any] = options or {}

    def resource(self, name: str) -> Resource:
        for resource in self.resources:
            if resource.name == name:
                return resource
        valid = ", ".join(r.name for r in self.resources)
        raise KeyError(f"{self.name} has no resource {name!r}; valid: {valid}")

    @abstractmethod
    def auth(self) -> AuthFlow:
        """How connections of this provider obtain access tokens."""

    @abstractmethod
    async def discover(self, api: Api) -> list[Tenant]:
        """The tenants the connection covers."""

    @abstractmethod
    def first_request(self, tenant: Tenant, bound: BoundResource, cursor: Any | None) -> Request:
        """The first page of a pass; incremental when ``cursor`` is not None."""

    @abstractmethod
    def decode(self, bound: BoundResource, response: Response) -> Page:
        """Decode one page; raise DecodeError naming what was wrong."""

    def rate_limit_observations(self, response: Response) -> Sequence[Observation]:
        """What this response's headers say about the tenant's windows."""
        return ()

    def retry_at(self, response: Response) -> float | None:
        """For a 429: the epoch second the provider allows calls again, if it says."""
        return None
