"""HaloPSA record types: one msgspec Struct per mirrored endpoint.

Field names are Halo's own (they become the replica's column names). Timestamps
arrive as ISO 8601 UTC without an offset (``2025-03-04T05:06:07.890``) and are
stored as :class:`HaloTime`, fixed-width ISO UTC text with a ``Z``, so that text
order is time order and the ``last_update`` cursor compares as it should.

The accounting-integration records (``XeroDetails`` and the rest) hold the
credentials Halo keeps for those integrations. Their default types do not declare
the secret fields at all, so msgspec never even decodes them; the connection
option ``include_secrets = true`` swaps in the types from :func:`with_secrets`,
which add them. Fields whose names start with ``_`` (``_exchangecode``,
``_disconnect``, ``_warning``...) are write-side triggers in Halo's API, and the
replica keeps that prefix for its own metadata columns: they are not declared.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from replicator.decoding import IsoTimestamp, iso_utc


class HaloTime(IsoTimestamp):
    """A Halo timestamp, stored as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC)."""

    __slots__ = ()


def parse_halo_time(value: str) -> HaloTime:
    """Halo's ISO text (UTC when it has no offset) -> :class:`HaloTime`.

    Raises:
        ValueError: not ISO 8601, or out of the range a datetime holds.
    """
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a Halo timestamp: {value!r}") from exc
    return HaloTime(iso_utc(moment))


def halo_filter_time(stored: str) -> str:
    """A stored :class:`HaloTime` -> the form Halo writes (and filters on): UTC, no offset."""
    return stored.removesuffix("Z")


def dec_hook(tp: type, value: Any) -> Any:
    """msgspec hook: decode :class:`HaloTime` fields."""
    if tp is HaloTime and isinstance(value, str):
        return parse_halo_time(value)
    raise NotImplementedError(f"no decoder for {tp!r}")


# -- the main endpoints (paged, with a plural key) --------------------------------------


class Client(msgspec.Struct, kw_only=True):
    id: int
    name: str | None = None
    toplevel_id: int | None = None
    inactive: bool | None = None
    website: str | None = None
    colour: str | None = None
    accountsid: str | None = None
    last_update: HaloTime | None = None


class Ticket(msgspec.Struct, kw_only=True):
    id: int
    summary: str | None = None
    client_id: int | None = None
    site_id: int | None = None
    user_id: int | None = None
    status_id: int | None = None
    priority_id: int | None = None
    dateoccurred: HaloTime | None = None
    last_update: HaloTime | None = None


class Site(msgspec.Struct, kw_only=True):
    id: int
    name: str | None = None
    client_id: int | None = None
    inactive: bool | None = None
    phonenumber: str | None = None
    last_update: HaloTime | None = None


class User(msgspec.Struct, kw_only=True):
    id: int
    name: str | None = None
    emailaddress: str | None = None
    client_id: int | None = None
    site_id: int | None = None
    inactive: bool | None = None
    last_update: HaloTime | None = None


class Invoice(msgspec.Struct, kw_only=True):
    id: int
    invoicenumber: str | None = None
    client_id: int | None = None
    invoice_date: HaloTime | None = None
    duedate: HaloTime | None = None
    total: float | None = None
    amountpaid: float | None = None
    posted: bool | None = None
    # A JSON column. Not msgspec.Raw: msgspec refuses ``Raw | None``, and a missing
    # list must be NULL in the replica, not the text "null".
    lines: list[Any] | None = None


# -- the accounting integrations (bare arrays, secrets left out) ------------------------


class XeroDetails(msgspec.Struct, kw_only=True):
    id: int
    name: str | None = None
    tenant_id: str | None = None
    tenant_name: str | None = None
    token_expiry: HaloTime | None = None
    authorized: bool | None = None
    redirect_uri: str | None = None
    client_id: str | None = None
    client_top_level: int | None = None
    client_top_level_name: str | None = None
    item_group: int | None = None
    item_group_name: str | None = None
    isdefault: bool | None = None
    enablesync: bool | None = None
    default_item_code: str | None = None
    sync_entities: str | None = None
    sync_entities_list: list[Any] | None = None
    supplier_top_level: int | None = None
    app_type: int | None = None


class QuickBooksDetails(msgspec.Struct, kw_only=True):
    id: int
    name: str | None = None
    country: str | None = None
    company_id: str | None = None
    company_name: str | None = None
    token_expiry: HaloTime | None = None
    authorized: bool | None = None
    redirect_uri: str | None = None
    client_id: str | None = None
    api_url: str | None = None
    enable_sync: bool | None = None
    sync_entities: str | None = None
    sync_entities_list: list[Any] | None = None
    client_top_level: int | None = None
    multi_currency: bool | None = None
    app_type: int | None = None
    instance_type: int | None = None


class SageBusinessCloudDetails(msgspec.Struct, kw_only=True):
    id: int
    name: str | None = None
    tokenexpiry: HaloTime | None = None
    isauthorized: bool | None = None
    redirecturi: str | None = None
    clienttoplevel: int | None = None
    client_top_level_name: str | None = None
    itemgroup: int | None = None
    item_group_name: str | None = None
    enablesync: bool | None = None
    defaultitemcode: str | None = None
    client_id: str | None = None
    syncentities: str | None = None
    sync_entities_list: list[Any] | None = None
    client_mappings: list[Any] | None = None
    item_group_mappings: list[Any] | None = None
    app_type: int | None = None


class MYOBDetails(msgspec.Struct, kw_only=True):
    id: int
    isdesktop: bool | None = None
    url: str | None = None
    company_url: str | None = None
    company_id: str | None = None
    company_name: str | None = None
    redirect_uri: str | None = None
    client_id: str | None = None
    authorized: bool | None = None
    newmethod: bool | None = None
    username: str | None = None
    enablesync: bool | None = None
    syncentities: str | None = None
    sync_entities_list: list[Any] | None = None
    halointegratorenabled: bool | None = None
    halointegrator_lastsync: HaloTime | None = None
    halointegrator_lasterror: str | None = None
    client_mappings: list[Any] | None = None
    supplier_mappings: list[Any] | None = None


class KashflowDetails(msgspec.Struct, kw_only=True):
    # The seed gives no schema for KashflowDetails: the fields Halo is known to list.
    id: int
    name: str | None = None
    username: str | None = None
    enabled: bool | None = None
    tenant_id: int | None = None


SECRETS: dict[type[msgspec.Struct], tuple[str, ...]] = {
    # From the seed's schemas: tokens, client secrets and passwords, and the OAuth
    # authorisation codes and PKCE verifier, which are credentials too while they live.
    XeroDetails: ("new_access_token", "new_refresh_token", "new_client_secret", "code"),
    QuickBooksDetails: ("new_access_token", "new_refresh_token", "new_client_secret", "authorization_code"),
    SageBusinessCloudDetails: ("new_access_token", "new_refresh_token", "new_client_secret", "code",
                               "code_verifier"),
    MYOBDetails: ("new_access_token", "new_refresh_token", "new_client_secret", "new_password", "code"),
    KashflowDetails: ("new_password",),
}
"""The secret fields of each accounting record, declared only by :func:`with_secrets`."""

SECRET_FIELDS = frozenset(name for names in SECRETS.values() for name in names)


def with_secrets(record: type[msgspec.Struct], names: Sequence[str]) -> type[msgspec.Struct]:
    """``record`` plus the text fields ``names`` (the opt-in ``include_secrets`` type)."""
    return msgspec.defstruct(f"{record.__name__}WithSecrets", [(n, str | None, None) for n in names],
                             bases=(record,), kw_only=True, module=record.__module__)
