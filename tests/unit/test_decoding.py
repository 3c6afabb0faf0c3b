"""Record types -> columns, $select, narrowed types and rows; Exact's dates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

import msgspec
import pytest

from replicator.decoding import IsoTimestamp, RowBuilder, WireRecord, columns_of, iso_utc, narrow, select_of
from replicator.errors import PluginError
from replicator.stores.base import Column
from replicator_exact.records import (
    Account,
    ExactDate,
    TransactionLine,
    dec_hook,
    exact_date_text,
    exact_filter_datetime,
    parse_exact_date,
)

AMS = ZoneInfo("Europe/Amsterdam")


class Line(msgspec.Struct, kw_only=True):
    sub: str
    ID: str
    Timestamp: int
    Amount: float | None = None
    Posted: bool | None = None
    Booked: Optional[IsoTimestamp] = None  # noqa: UP045 - typing.Optional on purpose
    When: datetime | None = None
    Day: date | None = None
    Tags: list[str] = msgspec.field(default_factory=list)
    Extra: dict[str, Any] | None = None
    Raw: msgspec.Raw | None = None
    Either: int | str | None = None
    Renamed: str | None = msgspec.field(default=None, name="Other-Name")


class Plain(msgspec.Struct):
    ID: str
    Name: str | None = None
    Count: int = 0


class OptionalFirst(msgspec.Struct, kw_only=True):
    Name: str | None = None
    ID: str
    Timestamp: int


def test_columns_of_maps_field_types() -> None:
    assert columns_of(Line) == (
        Column("sub", "text"),
        Column("ID", "text"),
        Column("Timestamp", "integer"),
        Column("Amount", "real"),
        Column("Posted", "boolean"),
        Column("Booked", "timestamp"),
        Column("When", "timestamp"),
        Column("Day", "timestamp"),
        Column("Tags", "json"),
        Column("Extra", "json"),
        Column("Raw", "json"),
        Column("Either", "json"),
        Column("Other-Name", "text"),
    )


def test_columns_of_an_exact_record() -> None:
    columns = dict((c.name, c.type) for c in columns_of(TransactionLine))
    assert len(columns) == 19
    assert columns["ID"] == "text"
    assert columns["Timestamp"] == "integer"
    assert columns["Date"] == "timestamp"
    assert columns["AmountDC"] == "real"
    assert columns["Type"] == "integer"
    assert dict((c.name, c.type) for c in columns_of(Account))["IsSupplier"] == "boolean"


def test_select_of_names_fields_as_the_provider_does() -> None:
    assert select_of(Plain) == ("ID", "Name", "Count")
    assert select_of(Line)[-1] == "Other-Name"
    assert len(select_of(TransactionLine)) == 19


def test_columns_of_refuses_what_is_not_a_struct() -> None:
    with pytest.raises(PluginError, match=r"is not a msgspec\.Struct"):
        columns_of(dict)  # type: ignore[arg-type]


def test_narrow_keeps_the_named_and_the_required_fields() -> None:
    narrowed = narrow(TransactionLine, ["AmountDC", "Date"], required=["ID", "Timestamp"])
    assert select_of(narrowed) == ("ID", "Timestamp", "Date", "AmountDC")
    assert narrowed.__name__ == "TransactionLine"
    decoded = msgspec.json.decode(
        b'{"ID":"x","Timestamp":7,"Date":"/Date(1672531200000)/","AmountDC":1.5,'
        b'"Description":"ignored"}', type=narrowed, dec_hook=dec_hook)
    assert msgspec.structs.astuple(decoded) == ("x", 7, "2022-12-31T23:00:00.000Z", 1.5)


def test_narrow_keeps_renames_and_defaults() -> None:
    narrowed = narrow(Line, ["Other-Name", "Tags"], required=["ID"])
    assert select_of(narrowed) == ("ID", "Tags", "Other-Name")
    decoded = msgspec.json.decode(b'{"ID":"k","Other-Name":"n"}', type=narrowed)
    assert msgspec.structs.astuple(decoded) == ("k", [], "n")


def test_narrow_names_the_valid_fields_of_an_unknown_one() -> None:
    with pytest.raises(PluginError) as info:
        narrow(Plain, ["Name", "Colour", "Age"], required=["ID"])
    assert str(info.value) == "Plain has no field(s) Age, Colour; it has Count, ID, Name"


def test_narrow_a_keyword_only_record_whose_required_field_follows_optional_ones() -> None:
    narrowed = narrow(OptionalFirst, ["Name"], required=["ID", "Timestamp"])
    assert select_of(narrowed) == ("Name", "ID", "Timestamp")
    decoded = msgspec.json.decode(b'{"ID":"k","Timestamp":3}', type=narrowed)
    assert msgspec.structs.astuple(decoded) == (None, "k", 3)


def test_row_builder_builds_rows_in_column_order() -> None:
    builder = RowBuilder(Line, "ID")
    assert builder.key_index == 1
    assert builder.columns == columns_of(Line)
    when = datetime(2026, 1, 5, 10, 0, tzinfo=AMS)
    record = Line(sub="s", ID="k1", Timestamp=9, Amount=2.5, Posted=True,
                  Booked=IsoTimestamp("2026-01-05T09:00:00.000Z"), When=when,
                  Day=date(2026, 1, 5), Tags=["a", "b"], Extra={"x": 1, "y": None},
                  Raw=msgspec.Raw(b'{"deep":[1,2]}'), Either=3, Renamed="r")
    empty = Line(sub="t", ID="k2", Timestamp=10)
    assert builder.rows([record, empty]) == [
        ("s", "k1", 9, 2.5, True, "2026-01-05T09:00:00.000Z", "2026-01-05T09:00:00.000Z",
         "2026-01-05", '["a","b"]', '{"x":1,"y":null}', '{"deep":[1,2]}', "3", "r"),
        ("t", "k2", 10, None, None, None, None, None, "[]", None, None, None, None),
    ]


def test_row_builder_without_conversions_gives_plain_tuples() -> None:
    builder = RowBuilder(Plain, "ID")
    assert builder.rows([Plain("a", "A", 1), Plain("b")]) == [("a", "A", 1), ("b", None, 0)]


def test_row_builder_of_decoded_exact_records() -> None:
    body = (b'[{"ID":"g1","Timestamp":"123456789012","Division":"17",'
            b'"Date":"/Date(1688169600000)/","AmountDC":"10.25","Description":"x"}]')
    records = msgspec.json.decode(body, type=list[TransactionLine], dec_hook=dec_hook,
                                  strict=False)
    rows = RowBuilder(TransactionLine, "ID").rows(records)
    assert len(rows) == 1
    row = dict(zip([c.name for c in columns_of(TransactionLine)], rows[0], strict=True))
    assert row["ID"] == "g1"
    assert row["Timestamp"] == 123456789012
    assert row["Division"] == 17
    assert row["Date"] == "2023-06-30T22:00:00.000Z"
    assert row["AmountDC"] == 10.25
    assert row["Modified"] is None


def test_row_builder_refuses_an_unknown_key() -> None:
    with pytest.raises(PluginError, match="Plain has no key field 'Key'"):
        RowBuilder(Plain, "Key")


# -- WireRecord ------------------------------------------------------------------------


def _shout(text: str) -> str:
    if text == "bad":
        raise ValueError("not loud enough: 'bad'")
    return text.upper()


class Loud(IsoTimestamp):
    __slots__ = ()
    from_wire = staticmethod(_shout)


class Stamped(msgspec.Struct, kw_only=True):
    ID: str
    At: Loud
    Seen: Loud | None = None
    Booked: IsoTimestamp | None = None
    Renamed: Loud | None = msgspec.field(default=None, name="Other-Name")


def test_wire_record_reads_from_wire_fields_as_text_and_converts_them_after() -> None:
    wire = WireRecord(Stamped)
    assert wire.type is not Stamped
    assert msgspec.structs.fields(wire.type)[1].type is str
    body = b'[{"ID": "a", "At": "x", "Seen": null, "Booked": "b", "Other-Name": "y"}, {"ID": "b", "At": "z"}]'
    # Fields without from_wire still decode as declared, through the dec_hook.
    records = msgspec.json.decode(body, type=list[wire.type],  # type: ignore[name-defined]
                                  dec_hook=lambda tp, value: tp(value))
    assert type(records[0].Booked) is IsoTimestamp
    wire.finish(records)
    assert [msgspec.structs.astuple(r) for r in records] == [("a", "X", None, "b", "Y"),
                                                             ("b", "Z", None, None, None)]
    # Same fields, names and order as the record: rows line up with its columns.
    assert [c.name for c in columns_of(wire.type)] == [c.name for c in columns_of(Stamped)]


def test_wire_record_names_the_value_it_could_not_convert() -> None:
    wire = WireRecord(Stamped)
    records = msgspec.json.decode(b'[{"ID": "a", "At": "x"}, {"ID": "b", "At": "x", "Other-Name": "bad"}]',
                                  type=list[wire.type])  # type: ignore[name-defined]
    with pytest.raises(ValueError, match=re.escape("not loud enough: 'bad' - at results[1].Other-Name")):
        wire.finish(records)


def test_wire_record_of_a_record_without_from_wire_fields_is_the_record() -> None:
    wire = WireRecord(Line)
    assert wire.type is Line
    wire.finish([Line(sub="s", ID="a", Timestamp=1)])


# -- Exact dates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        # 2023-01-01 00:00 in Amsterdam (CET, UTC+1).
        ("/Date(1672531200000)/", "2022-12-31T23:00:00.000Z"),
        # 2023-07-01 00:00 in Amsterdam (CEST, UTC+2).
        ("/Date(1688169600000)/", "2023-06-30T22:00:00.000Z"),
        # Milliseconds are kept.
        ("/Date(1688169600123)/", "2023-06-30T22:00:00.123Z"),
        # The OData offset suffix is informative only.
        ("/Date(1672531200000+0100)/", "2022-12-31T23:00:00.000Z"),
        ("/Date(1688169600000-0000)/", "2023-06-30T22:00:00.000Z"),
        # Before 1970: a negative count of milliseconds.
        ("/Date(-86400000)/", "1969-12-30T23:00:00.000Z"),
        # ISO text: naive is Amsterdam wall time, Z is UTC.
        ("2023-07-01T12:00:00", "2023-07-01T10:00:00.000Z"),
        ("2023-07-01T10:00:00Z", "2023-07-01T10:00:00.000Z"),
        ("2023-01-15T08:30:00.250+01:00", "2023-01-15T07:30:00.250Z"),
    ],
)
def test_parse_exact_date(raw: str, iso: str) -> None:
    value = parse_exact_date(raw)
    assert isinstance(value, ExactDate)
    assert value == iso


def test_exact_dates_decode_through_the_dec_hook() -> None:
    assert msgspec.json.decode(b'"/Date(1672531200000)/"', type=ExactDate,
                               dec_hook=dec_hook) == "2022-12-31T23:00:00.000Z"
    with pytest.raises(msgspec.ValidationError, match="not an Exact date: '/Date"):
        msgspec.json.decode(b'"/Date(soon)/"', type=ExactDate, dec_hook=dec_hook)
    with pytest.raises(msgspec.ValidationError, match="not an Exact date: 'yesterday'"):
        msgspec.json.decode(b'"yesterday"', type=ExactDate, dec_hook=dec_hook)


@pytest.mark.parametrize("raw", ["/Date(-62135596800000)/", "/Date(253402300800000)/"],
                         ids=["DateTime.MinValue", "year-10000"])
def test_an_out_of_range_exact_date_is_a_validation_error(raw: str) -> None:
    """.NET's DateTime.MinValue is what OData v2 writes for an unset date; whatever
    comes in, the decoder must report it as a bad value, not crash."""
    with pytest.raises(msgspec.ValidationError, match="not an Exact date"):
        msgspec.json.decode(f'"{raw}"'.encode(), type=ExactDate, dec_hook=dec_hook)


def _reference(wall_ms: int) -> str:
    """Exact's wall milliseconds -> UTC the slow, obvious way (zoneinfo, fold=0)."""
    wall = datetime(1970, 1, 1) + timedelta(milliseconds=wall_ms)
    return iso_utc(wall.replace(tzinfo=AMS))


@pytest.mark.parametrize("start", [
    datetime(2023, 3, 26), datetime(2023, 10, 29),  # the two changes of a year
    datetime(1937, 6, 30), datetime(1940, 5, 15),  # +00:19:32 -> +00:20 -> +01:40 -> +02:00
    datetime(1930, 1, 1),  # Amsterdam Mean Time, +00:19:32
])
def test_exact_dates_agree_with_zoneinfo_around_every_kind_of_offset_change(start: datetime) -> None:
    first = int((start - datetime(1970, 1, 1)) / timedelta(milliseconds=1))
    for wall_ms in range(first, first + 36 * 3_600_000, 7 * 60_000 + 1_001):
        assert exact_date_text(f"/Date({wall_ms})/") == _reference(wall_ms), wall_ms


def test_exact_date_text_is_plain_text_and_parse_exact_date_its_typed_twin() -> None:
    assert type(exact_date_text("/Date(1688169600123)/")) is str
    assert exact_date_text("/Date(1688169600123)/") == parse_exact_date("/Date(1688169600123)/")
    with pytest.raises(ValueError, match=re.escape("not an Exact date: '/Date(²)/'")):
        exact_date_text("/Date(²)/")


@pytest.mark.parametrize(
    ("iso", "literal"),
    [
        ("2022-12-31T23:00:00.000Z", "datetime'2023-01-01T00:00:00'"),
        ("2023-06-30T22:00:00.000Z", "datetime'2023-07-01T00:00:00'"),
        ("2026-01-05T09:00:00.000Z", "datetime'2026-01-05T10:00:00'"),
    ],
)
def test_exact_filter_datetime_round_trips(iso: str, literal: str) -> None:
    assert exact_filter_datetime(iso) == literal
    wall = literal.removeprefix("datetime'").removesuffix("'")
    assert parse_exact_date(wall) == iso
    # And the /Date(ms)/ form of the same wall time.
    ms = int((datetime.fromisoformat(wall) - datetime(1970, 1, 1)) / timedelta(milliseconds=1))
    assert parse_exact_date(f"/Date({ms})/") == iso


# -- iso_utc ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (1_767_603_600.0, "2026-01-05T09:00:00.000Z"),
        (1_767_603_600.5, "2026-01-05T09:00:00.500Z"),
        (1_767_603_600.0009, "2026-01-05T09:00:00.000Z"),
        (0.0, "1970-01-01T00:00:00.000Z"),
        (datetime(2026, 1, 5, 10, 0, tzinfo=AMS), "2026-01-05T09:00:00.000Z"),
        (datetime(2026, 7, 6, 0, 0, 0, 7000, tzinfo=AMS), "2026-07-05T22:00:00.007Z"),
        (datetime(2026, 7, 6, 12, 0, tzinfo=timezone(timedelta(hours=-5))),
         "2026-07-06T17:00:00.000Z"),
    ],
)
def test_iso_utc(moment: datetime | float, text: str) -> None:
    assert iso_utc(moment) == text


def test_iso_utc_is_fixed_width_so_text_order_is_time_order() -> None:
    moments = [1_767_603_600.0 + k * 0.001 * 7919 for k in range(2000)]
    texts = [iso_utc(m) for m in moments]
    assert {len(t) for t in texts} == {24}
    assert texts == sorted(texts)


def test_iso_utc_pads_years_before_1000() -> None:
    """.NET's DateTime.MinValue (year 1) occurs; strftime's %Y does not pad it."""
    assert iso_utc(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000Z"
