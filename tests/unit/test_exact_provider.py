"""The Exact Online plugin on its own: requests it builds, pages it decodes."""

from __future__ import annotations

import re

import pytest

from replicator.errors import DecodeError, PagingError
from replicator.providers import BoundResource, Tenant
from replicator.types import Response
from replicator_exact import ExactOnlineProvider

BASE = "https://start.exactonline.nl"


def bound(name: str, fields: list[str] | None = None) -> BoundResource:
    provider = ExactOnlineProvider(BASE)
    return BoundResource(provider.name, provider.resource(name), fields)


def response(body: bytes, content_type: str = "application/json", url: str = BASE + "/x") -> Response:
    return Response(200, {"Content-Type": content_type}, body, url)


def test_sync_requests_select_the_record_fields_and_filter_on_timestamp() -> None:
    provider = ExactOnlineProvider(BASE)
    b = bound("transaction_lines", ["AmountDC"])
    first = provider.first_request(Tenant("123"), b, None)
    assert first.url == (f"{BASE}/api/v1/123/sync/Financial/TransactionLines"
                         "?$select=ID,Timestamp,AmountDC&$filter=Timestamp%20gt%201L")
    later = provider.first_request(Tenant("123"), b, 98765)
    assert later.url.endswith("$filter=Timestamp%20gt%2098765L")


def test_regular_endpoint_filters_modified_in_amsterdam_time() -> None:
    provider = ExactOnlineProvider(BASE)
    request = provider.first_request(Tenant("7"), bound("vat_codes"), "2024-07-01T10:00:00.000Z")
    assert "$filter=Modified%20ge%20datetime'2024-07-01T12:00:00'" in request.url


def test_decodes_records_next_link_dates_and_int64_strings() -> None:
    provider = ExactOnlineProvider(BASE)
    body = (b'{"d": {"results": [{"__metadata": {"uri": "x"}, "ID": "a", "Timestamp": "42",'
            b' "Date": "/Date(1672531200000)/", "AmountDC": 1.5}],'
            b' "__next": "' + BASE.encode() + b'/api/v1/1/sync/Financial/TransactionLines?$skiptoken=42L"}}')
    page = provider.decode(bound("transaction_lines"), response(body))
    record = page.records[0]
    assert record.Timestamp == 42
    assert record.Date == "2022-12-31T23:00:00.000Z"
    assert page.next is not None and page.next.url.endswith("$skiptoken=42L")


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b"<!DOCTYPE html><html><title>Maintenance</title></html>", "text/html", "expected JSON, got HTML"),
    (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>', "application/atom+xml",
     "expected JSON, got application/atom+xml"),
    (b'{"d": {"results": [{"ID": "a", "Timestamp": 1}', "application/json", "malformed page"),
    (b'{"d": {"results": [{"ID": 3, "Timestamp": 1}]}}', "application/json",
     "Expected `str`, got `int` - at `$.d.results[0].ID`"),
    (b'{"d": {"results": [{"ID": "a", "Timestamp": 1, "Date": "/Date(1672531200000)/"},'
     b' {"ID": "b", "Timestamp": 2, "Modified": "/Date(soon)/"}]}}', "application/json",
     "malformed page: not an Exact date: '/Date(soon)/' - at results[1].Modified"),
    (b'{"d": {"results": [{"ID": "a", "Timestamp": 1, "Date": "/Date(-62135596800000)/"}]}}',
     "application/json", "not an Exact date: '/Date(-62135596800000)/' - at results[0].Date"),
    (b'{"d": {"results": [{"ID": "a", "Timestamp": 1, "Date": 5}]}}', "application/json",
     "Expected `str | null`, got `int` - at `$.d.results[0].Date`"),
])
def test_bad_pages_are_clear_decode_errors(body: bytes, content_type: str, expected: str) -> None:
    provider = ExactOnlineProvider(BASE)
    with pytest.raises(DecodeError, match=re.escape(expected)):
        provider.decode(bound("transaction_lines"), response(body, content_type))


def test_a_next_link_to_another_host_is_a_paging_error() -> None:
    provider = ExactOnlineProvider(BASE)
    body = b'{"d": {"results": [], "__next": "https://evil.example/api?$skiptoken=1"}}'
    with pytest.raises(PagingError, match=re.escape("https://evil.example")):
        provider.decode(bound("accounts"), response(body))


def test_deleted_records_name_their_targets() -> None:
    provider = ExactOnlineProvider(BASE)
    body = (b'{"d": {"results": [{"ID": "d1", "Timestamp": 9, "EntityType": 1, "EntityKey": "t1"},'
            b'{"ID": "d2", "Timestamp": 10, "EntityType": 2, "EntityKey": "a1"},'
            b'{"ID": "d3", "Timestamp": 11, "EntityType": 999, "EntityKey": "x"}]}}')
    page = provider.decode(bound("deleted"), response(body))
    assert page.deletes == {"transaction_lines": ["t1"], "accounts": ["a1"]}


def test_rate_limit_headers_become_observations() -> None:
    provider = ExactOnlineProvider(BASE)
    headers = {"X-RateLimit-Minutely-Limit": "60", "X-RateLimit-Minutely-Remaining": "12",
               "X-RateLimit-Minutely-Reset": "1767603660000", "X-RateLimit-Limit": "5000",
               "X-RateLimit-Remaining": "4000", "X-RateLimit-Reset": "1767654000000"}
    observations = provider.rate_limit_observations(Response(200, headers, b"", BASE))
    assert [(o.window, o.limit, o.remaining, o.reset_at) for o in observations] == [
        ("minutely", 60, 12, 1767603660.0), ("daily", 5000, 4000, 1767654000.0)]
    # A minutely 429 carries only the minutely headers.
    only = {k: v for k, v in headers.items() if "Minutely" in k}
    assert provider.retry_at(Response(429, only, b"", BASE)) == 1767603660.0


def test_a_standard_retry_after_header_is_understood() -> None:
    from replicator.engine.connection import retry_after

    now = 1_767_603_600.0
    assert retry_after(Response(429, {"Retry-After": "30"}, b"", BASE), now) == now + 30
    assert retry_after(Response(429, {"Retry-After": "Mon, 05 Jan 2026 09:01:00 GMT"}, b"", BASE),
                       now) == now + 60
    assert retry_after(Response(429, {}, b"", BASE), now) is None
    assert retry_after(Response(429, {"Retry-After": "soon"}, b"", BASE), now) is None
