"""Next-link paging: follow the server's link, but only on the connection's origin."""

from __future__ import annotations

import pytest

from replicator.errors import PagingError, Where
from replicator.paging import follow

ORIGIN = "https://start.exactonline.nl"
PAGE1 = (ORIGIN + "/api/v1/123/sync/Financial/TransactionLines"
         "?$select=ID,Timestamp&$filter=Timestamp%20gt%201L")


def test_an_absolute_link_is_followed_as_given() -> None:
    link = PAGE1 + "&$skiptoken=guid'0bd3cc74-7c89-4d36-8d1a-4a8c1c8e1c3e'"
    request = follow(PAGE1, link, allowed_origin=ORIGIN)
    assert request is not None
    assert (request.method, request.url) == ("GET", link)
    assert request.json is None and request.form is None


def test_a_relative_link_is_resolved_against_the_current_page() -> None:
    request = follow(PAGE1, "/api/v1/123/sync/Financial/TransactionLines?$skiptoken=2",
                     allowed_origin=ORIGIN)
    assert request is not None
    assert request.url == ORIGIN + "/api/v1/123/sync/Financial/TransactionLines?$skiptoken=2"
    request = follow(PAGE1, "TransactionLines?$skiptoken=3", allowed_origin=ORIGIN)
    assert request is not None
    assert request.url == ORIGIN + "/api/v1/123/sync/Financial/TransactionLines?$skiptoken=3"
    request = follow(PAGE1, "?$skiptoken=4", allowed_origin=ORIGIN)
    assert request is not None
    assert request.url == ORIGIN + "/api/v1/123/sync/Financial/TransactionLines?$skiptoken=4"


def test_surrounding_whitespace_is_ignored() -> None:
    request = follow(PAGE1, "  " + ORIGIN + "/api/v1/123/next\n", allowed_origin=ORIGIN)
    assert request is not None
    assert request.url == ORIGIN + "/api/v1/123/next"


@pytest.mark.parametrize("link", [None, ""])
def test_no_link_means_the_last_page(link: str | None) -> None:
    assert follow(PAGE1, link, allowed_origin=ORIGIN) is None


@pytest.mark.parametrize(
    ("link", "foreign"),
    [
        ("https://evil.example.com/api/v1/123/next", "https://evil.example.com"),
        ("//evil.example.com/api/v1/123/next", "https://evil.example.com"),
        ("https://start.exactonline.nl@evil.example.com/next", "https://evil.example.com"),
        ("https://start.exactonline.nl.evil.example.com/next",
         "https://start.exactonline.nl.evil.example.com"),
        ("https://start.exactonline.be/api/v1/123/next", "https://start.exactonline.be"),
        ("http://start.exactonline.nl/api/v1/123/next", "http://start.exactonline.nl"),
        ("https://start.exactonline.nl:8443/api/v1/123/next", "https://start.exactonline.nl:8443"),
    ],
    ids=["other-host", "scheme-relative", "userinfo", "suffix", "other-region", "http",
         "other-port"],
)
def test_a_link_to_another_origin_is_refused_and_named(link: str, foreign: str) -> None:
    where = Where(connection="acme", tenant="123", resource="transaction_lines", url=PAGE1)
    with pytest.raises(PagingError) as info:
        follow(PAGE1, link, allowed_origin=ORIGIN, where=where)
    message = str(info.value)
    assert f"next link points to {foreign}, outside the connection's origin {ORIGIN}" in message
    assert "no request was sent there" in message
    assert "connection=acme, tenant=123, resource=transaction_lines" in message


def test_the_default_port_and_host_case_are_the_same_origin() -> None:
    request = follow(PAGE1, "https://START.ExactOnline.nl:443/api/v1/123/next",
                     allowed_origin=ORIGIN)
    assert request is not None
    assert request.url == "https://START.ExactOnline.nl:443/api/v1/123/next"


def test_a_link_to_the_same_page_is_refused_as_never_ending() -> None:
    with pytest.raises(PagingError, match="the paging would never end"):
        follow(PAGE1, PAGE1, allowed_origin=ORIGIN)


def test_a_relative_link_to_the_same_page_is_refused_as_never_ending() -> None:
    current = ORIGIN + "/api/v1/123/vat/VATCodes?$skiptoken=5"
    with pytest.raises(PagingError, match="never end"):
        follow(current, "?$skiptoken=5", allowed_origin=ORIGIN)
    with pytest.raises(PagingError, match="never end"):
        follow(current, "/api/v1/123/vat/VATCodes?$skiptoken=5", allowed_origin=ORIGIN)


def test_a_link_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(PagingError, match="next link is not a string: 42"):
        follow(PAGE1, 42, allowed_origin=ORIGIN)  # type: ignore[arg-type]
