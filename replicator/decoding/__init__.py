"""Record types and their derived columns, selects and rows."""

from replicator.decoding.bodies import json_body
from replicator.decoding.records import (
    IsoTimestamp,
    RowBuilder,
    WireRecord,
    columns_of,
    iso_utc,
    narrow,
    select_of,
)

__all__ = ["IsoTimestamp", "RowBuilder", "WireRecord", "columns_of", "iso_utc", "json_body", "narrow", "select_of"]
