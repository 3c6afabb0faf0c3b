"""Record types: from a msgspec Struct to replica columns, rows and ``$select``.

A provider declares each resource's record as a ``msgspec.Struct``. Everything
else is derived from that one type, once, when the resource is prepared:

- the replica table's columns (:func:`columns_of`),
- the fields to request (:func:`select_of`): narrowing the type narrows the request,
- a fast converter from decoded Structs to row tuples (:class:`RowBuilder`).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import msgspec
import orjson

from replicator.errors import PluginError
from replicator.stores.base import Column, ColumnType


def iso_utc(moment: datetime | float) -> str:
    """Fixed-width ISO-8601 in UTC with milliseconds (``2026-01-05T09:00:00.000Z``),
    so that text order is time order. Accepts an aware datetime or epoch seconds."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    m = moment.astimezone(UTC)
    # By hand, not strftime: "%Y" is not zero-padded for years before 1000 on every
    # platform, and .NET's DateTime.MinValue (year 1) does occur.
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
            f"{m.microsecond // 1000:03d}Z")


class IsoTimestamp(str):
    """A field type for instants stored as ISO-8601 UTC text.

    Providers with odd date formats subclass it and convert in their ``dec_hook``
    (Exact's ``/Date(ms)/``), so the replica holds one sortable representation.

    A subclass may instead set ``from_wire`` to a function from the wire's text to
    ISO text. :class:`WireRecord` then decodes the field as plain text and converts
    it once the page is decoded: that skips msgspec's call into the ``dec_hook``
    and the subclass instance for every value, which on Exact's pages (three dates
    a record) cut decoding from about 8 to about 3 us a record.
    """

    __slots__ = ()
    from_wire: ClassVar[staticmethod[[str], str] | None] = None


def _unwrap_optional(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
        return Any
    return tp


def column_type(tp: Any) -> ColumnType:
    """The logical column type of a Struct field annotation."""
    tp = _unwrap_optional(tp)
    if isinstance(tp, type):
        if issubclass(tp, IsoTimestamp) or issubclass(tp, (datetime, date)):
            return "timestamp"
        if issubclass(tp, bool):
            return "boolean"
        if issubclass(tp, int):
            return "integer"
        if issubclass(tp, float):
            return "real"
        if issubclass(tp, str):
            return "text"
    return "json"


def _fields(record: type[msgspec.Struct]) -> tuple[msgspec.structs.FieldInfo, ...]:
    if not (isinstance(record, type) and issubclass(record, msgspec.Struct)):
        raise PluginError(f"record type {record!r} is not a msgspec.Struct")
    hints = typing.get_type_hints(record)
    return tuple(
        msgspec.structs.FieldInfo(f.name, f.encode_name, hints.get(f.name, f.type),
                                  f.default, f.default_factory)
        for f in msgspec.structs.fields(record)
    )


def columns_of(record: type[msgspec.Struct]) -> tuple[Column, ...]:
    """One column per field, named as the provider names the field."""
    return tuple(Column(f.encode_name, column_type(f.type)) for f in _fields(record))


def select_of(record: type[msgspec.Struct]) -> tuple[str, ...]:
    """The provider field names to request (``$select``)."""
    return tuple(f.encode_name for f in _fields(record))


def narrow(record: type[msgspec.Struct], keep: Iterable[str], *, required: Sequence[str] = ()) -> type[msgspec.Struct]:
    """A copy of ``record`` with only the fields named in ``keep`` (plus ``required``).

    Raises:
        PluginError: ``keep`` names a field the record does not have.
    """
    wanted = set(keep) | set(required)
    fields = _fields(record)
    known = {f.encode_name for f in fields}
    unknown = sorted(wanted - known)
    if unknown:
        raise PluginError(
            f"{record.__name__} has no field(s) {', '.join(unknown)}; "
            f"it has {', '.join(sorted(known))}"
        )
    return _rebuild(record, [(f, f.type) for f in fields if f.encode_name in wanted])


def _rebuild(record: type[msgspec.Struct], fields: Sequence[tuple[msgspec.structs.FieldInfo, Any]],
             **options: Any) -> type[msgspec.Struct]:
    """A Struct named like ``record`` with the given fields, each with its new type."""
    spec: list[Any] = []
    rename: dict[str, str] = {}
    for f, tp in fields:
        if f.default is not msgspec.NODEFAULT:
            spec.append((f.name, tp, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            spec.append((f.name, tp, msgspec.field(default_factory=f.default_factory)))
        else:
            spec.append((f.name, tp))
        if f.name != f.encode_name:
            rename[f.name] = f.encode_name
    config = record.__struct_config__
    return msgspec.defstruct(
        record.__name__, spec, rename=rename or None, forbid_unknown_fields=config.forbid_unknown_fields,
        kw_only=True, module=record.__module__, **options,  # keyword-only: field order is free
    )


class WireRecord:
    """A record type as it is read off the wire, and what turns it into the record.

    Fields typed with an :class:`IsoTimestamp` subclass that has ``from_wire`` are
    decoded as plain text into ``type`` (a twin of the record with the same
    fields, names and order) and converted in place by :meth:`finish`; every other
    field decodes as declared. The twin is not tracked by the garbage collector:
    a decoded record holds plain values and cannot be part of a reference cycle,
    and pages of them in flight would otherwise make every collection walk them.
    """

    __slots__ = ("_converters", "type")

    def __init__(self, record: type[msgspec.Struct]) -> None:
        fields = _fields(record)
        converters: list[tuple[str, str, Callable[[str], str]]] = []
        retyped: list[tuple[msgspec.structs.FieldInfo, Any]] = []
        for f in fields:
            base = _unwrap_optional(f.type)
            convert = base.from_wire if isinstance(base, type) and issubclass(base, IsoTimestamp) else None
            if convert is None:
                retyped.append((f, f.type))
                continue
            converters.append((f.name, f.encode_name, convert))
            retyped.append((f, str | None if base is not f.type else str))
        self._converters = tuple(converters)
        self.type = record if not converters else _rebuild(record, retyped, gc=False)

    def finish(self, records: Sequence[msgspec.Struct]) -> None:
        """Convert the wire's text of the ``from_wire`` fields, in place.

        Raises:
            ValueError: a value the field's ``from_wire`` refused, with its position
                (``results[3].Date``).
        """
        for name, wire_name, convert in self._converters:
            for record in records:
                value = getattr(record, name)
                if value is not None:
                    try:
                        setattr(record, name, convert(value))
                    except (ValueError, OverflowError) as exc:
                        at = next(i for i, r in enumerate(records) if r is record)  # by identity: equal records exist
                        where = f"results[{at}].{wire_name}"
                        raise ValueError(f"{exc} - at {where}") from exc


def _to_json(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, msgspec.Raw):
        return bytes(value).decode()
    return orjson.dumps(msgspec.to_builtins(value)).decode()


def _to_iso(value: Any) -> Any:
    if isinstance(value, datetime):
        # Naive datetimes are taken as UTC; the text matches IsoTimestamp fields.
        return iso_utc(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    return value


class RowBuilder:
    """Turns decoded Structs into row tuples in column order, converting only the
    columns that need it (JSON sub-documents, native datetimes)."""

    __slots__ = ("_converters", "columns", "key_index")

    def __init__(self, record: type[msgspec.Struct], key: str) -> None:
        fields = _fields(record)
        self.columns = columns_of(record)
        names = [f.encode_name for f in fields]
        if key not in names:
            raise PluginError(f"{record.__name__} has no key field {key!r}")
        self.key_index = names.index(key)
        converters: list[tuple[int, Callable[[Any], Any]]] = []
        for i, f in enumerate(fields):
            kind = column_type(f.type)
            base = _unwrap_optional(f.type)
            if kind == "json":
                converters.append((i, _to_json))
            elif kind == "timestamp" and not (isinstance(base, type) and issubclass(base, str)):
                converters.append((i, _to_iso))
        self._converters = tuple(converters)

    def rows(self, records: Sequence[msgspec.Struct]) -> list[tuple[Any, ...]]:
        astuple = msgspec.structs.astuple
        if not self._converters:
            return [astuple(r) for r in records]
        out = []
        for r in records:
            row = list(astuple(r))
            for i, convert in self._converters:
                row[i] = convert(row[i])
            out.append(tuple(row))
        return out
