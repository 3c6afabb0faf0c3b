"""Paging ``/documents-export``: page numbers, fanned out once page 1 tells the total.

The response shape (the seed's Fractal-style envelope; ``links`` only where a
server adds it [?])::

    {"data": [...],
     "meta": {"pagination": {"total": 23, "totalPages": 3, "currentPage": 1,
                             "perPage": 10, "count": 10, "links": {"next": "..."}}}}

- Page 1 with ``totalPages``: pages 2..N go out at once as ``Page.fanout``.
- Page 1 without ``totalPages`` [?]: keyset paging, one page after the other:
  the same request with ``gt(id)=<last id>`` (pages are sorted by ``id``), until a
  page comes back short. A server that ignores the filter would answer the same
  page again, which gives the same next URL, which is refused.
- Pages 2..N: the fan-out pages themselves, with nothing to follow.

Every page is checked: ``currentPage`` must be the page asked for (a server that
ignores ``page_number`` serves page 1 forever), ``totalPages`` must agree with
``total`` and ``perPage`` and stay below :data:`MAX_PAGES`, and a ``links.next``,
though never followed, must stay on the connection's origin: a link elsewhere
means a response from the wrong white-label host or a tampered one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from replicator.errors import PagingError, Where
from replicator.paging import follow
from replicator.types import Request
from replicator_horisen.records import Pagination

# More pages than this in one pass is not a tenant, it is a broken or hostile
# answer: 100,000 pages of 100 documents is ten million documents.
MAX_PAGES = 100_000

PAGE_NUMBER = "page_number"
PAGE_SIZE = "page_size"
AFTER_ID = "gt(id)"


def build_url(base: str, params: Sequence[tuple[str, str]]) -> str:
    """``base?k=v&...`` with the operator syntax left readable: ``gte(statusDt)=2026-01-05T09:00:00Z``."""
    query = "&".join(f"{quote(k, safe='()')}={quote(v, safe=':,')}" for k, v in params)
    return f"{base}?{query}" if query else base


def params_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def with_param(url: str, name: str, value: str) -> str:
    """``url`` with ``name=value`` in place of the value it had (or added at the end)."""
    params = params_of(url)
    if any(k == name for k, _ in params):
        params = [(k, value if k == name else v) for k, v in params]
    else:
        params.append((name, value))
    parts = urlsplit(url)
    return build_url(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), params)


def param_int(url: str, name: str, default: int) -> int:
    for key, value in params_of(url):
        if key == name:
            try:
                return int(value)
            except ValueError:
                return default
    return default


def follow_ups(url: str, pagination: Pagination | None, *, records: int, last_id: int | None,
               origin: str) -> tuple[Request | None, tuple[Request, ...]]:
    """What comes after the page fetched from ``url``: ``(next, fanout)``.

    Raises:
        PagingError: the pagination cannot be trusted (see the module docstring).
    """
    where = Where(url=url)
    number = param_int(url, PAGE_NUMBER, 1)
    if pagination is not None and pagination.links is not None and pagination.links.next:
        follow(url, pagination.links.next, allowed_origin=origin, where=where)  # checked, not used
    if pagination is not None and pagination.currentPage is not None and pagination.currentPage != number:
        raise PagingError(f"asked for page {number}, the server answered page {pagination.currentPage}: "
                          "it ignores page_number, and the pass would never end", where)
    if number > 1:
        return None, ()
    if pagination is not None and pagination.totalPages is not None:
        pages = _checked_total_pages(pagination, where)
        return None, tuple(Request.get(with_param(url, PAGE_NUMBER, str(n))) for n in range(2, pages + 1))
    # No page count: keyset paging, sequentially.
    full = (pagination.perPage if pagination is not None and pagination.perPage else None) \
        or param_int(url, PAGE_SIZE, 10)
    if records < full or last_id is None:
        return None, ()
    following = with_param(url, AFTER_ID, str(last_id))
    if following == url:
        raise PagingError(f"the page after id {last_id} repeats the page before: the server ignores "
                          f"{AFTER_ID}, and the pass would never end", where)
    return Request.get(following), ()


def _checked_total_pages(pagination: Pagination, where: Where) -> int:
    pages = pagination.totalPages or 0
    if not 0 <= pages <= MAX_PAGES:
        raise PagingError(f"totalPages {pages} is not a page count this pass can take (at most {MAX_PAGES})",
                          where)
    total, per_page = pagination.total, pagination.perPage
    if total is not None and per_page:
        needed = math.ceil(total / per_page)
        if pages not in (needed, max(1, needed)):
            raise PagingError(f"totalPages {pages} disagrees with total {total} at {per_page} per page "
                              f"({needed} pages): the pagination cannot be trusted", where)
    return pages
