"""Halo's page-number paging: ``pageinate=true&page_size=N&page_no=K`` (1-based).

A page answers ``{"record_count": total, "<key>": [...]}``. Once page 1 gives the
total, the other pages do not depend on each other: they are returned as
:attr:`~replicator.providers.Page.fanout` and the engine fetches them concurrently
within the tenant's budget.

Three things make that less simple than ``ceil(record_count / page_size)``:

- **The server may clamp ``page_size``** (a silent maximum, [?]): the pages are
  counted from the number of records page 1 actually holds, and asked for with
  that size, so that the server's offsets and ours agree.
- **Offsets shift when records are deleted during a pass**: a record behind the
  deleted one moves one place forward, across a page boundary already read, and
  would be missed. The fan-out is therefore handed out from the last page down:
  a deletion then only moves records into pages still to come.
- **A server that never says how many** (no ``record_count``, [?]) is followed
  page by page while pages come back full; a page that repeats the previous one
  (``page_no`` ignored) or a count beyond :data:`MAX_PAGES` is a
  :class:`~replicator.errors.PagingError`, not an endless pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from replicator.errors import PagingError, Where
from replicator.types import Request

MAX_PAGES = 100_000
"""Pages one pass may have (10 million records at 100 a page); more is a lie."""

_PAGING = ("pageinate", "page_size", "page_no")


def first_page(url: str, params: Mapping[str, str], page_size: int) -> Request:
    """The request for page 1 of ``url`` with ``params``."""
    return Request.get(url, {**params, "pageinate": "true", "page_size": str(page_size), "page_no": "1"})


@dataclass(frozen=True, slots=True)
class PageQuery:
    """A paged request, taken apart from the URL it was sent to."""

    base: str
    params: tuple[tuple[str, str], ...]  # everything but the paging parameters
    page_no: int
    page_size: int

    @classmethod
    def of(cls, url: str) -> PageQuery | None:
        """The paging of ``url``, or None when it asked for everything at once."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        values = dict(query)
        if values.get("pageinate", "").lower() != "true":
            return None
        try:
            page_no = int(values.get("page_no", "1"))
            page_size = int(values.get("page_size", "0"))
        except ValueError:
            return None
        base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        return cls(base, tuple((k, v) for k, v in query if k not in _PAGING), page_no, page_size)

    def page(self, page_no: int, page_size: int) -> Request:
        return Request.get(self.base, {**dict(self.params), "pageinate": "true",
                                       "page_size": str(page_size), "page_no": str(page_no)})

    @property
    def series(self) -> str:
        """What the pages of one pass share (to recognise a repeated page)."""
        return f"{self.base}?{sorted(self.params)}"


class Pager:
    """Decides what follows a page: the fan-out, the next page, or nothing.

    It remembers, per series of a server that gives no ``record_count``, the first
    and last key of the previous page (one small entry per such pass in progress).
    """

    __slots__ = ("_previous",)

    def __init__(self) -> None:
        self._previous: dict[str, tuple[Any, Any]] = {}

    def follow_up(self, query: PageQuery, keys: tuple[Any, Any] | None, count: int,
                  record_count: int | None, where: Where) -> tuple[Request | None, list[Request]]:
        """(next request, fan-out requests) after a page of ``count`` records.

        ``keys`` are the first and last record keys of the page (None when empty).
        """
        if record_count is not None:
            if query.page_no != 1:
                return None, []  # a fan-out page: the first page planned the pass
            return None, self._fanout(query, count, record_count, where)
        return self._sequential(query, keys, count, where), []

    @staticmethod
    def _fanout(query: PageQuery, count: int, record_count: int, where: Where) -> list[Request]:
        if count == 0 or record_count <= count:
            return []
        # ``count`` < page_size while more records exist: the server clamped the
        # page size. Its offsets are multiples of what it served, so ours are too.
        size = count
        pages = math.ceil(record_count / size)
        if pages > MAX_PAGES:
            raise PagingError(f"record_count {record_count} at {size} a page means {pages} pages, more than "
                              f"the {MAX_PAGES} a pass may have: refusing a count that cannot be true", where)
        return [query.page(page_no, size) for page_no in range(pages, 1, -1)]

    def _sequential(self, query: PageQuery, keys: tuple[Any, Any] | None, count: int,
                    where: Where) -> Request | None:
        series = query.series
        previous = self._previous.pop(series, None)
        if count == 0 or count < query.page_size:
            return None
        if query.page_no > 1 and keys is not None and keys == previous:
            raise PagingError(f"page {query.page_no} repeats page {query.page_no - 1} and the server gives no "
                              "record_count: it ignores page_no, and the paging would never end", where)
        if query.page_no >= MAX_PAGES:
            raise PagingError(f"more than {MAX_PAGES} full pages and no record_count: the paging would "
                              "never end", where)
        if keys is not None:
            self._previous[series] = keys
        return query.page(query.page_no + 1, query.page_size)

    def __repr__(self) -> str:
        return f"Pager(sequential_passes={len(self._previous)})"
