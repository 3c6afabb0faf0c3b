"""Paging of Horus ``.list`` calls, whose shape nobody has documented [?].

A list is a POST whose JSON body carries the filters and the page number::

    POST {api_url}/book-entries.list
    {"FolderId": "...", "ModifiedAfter": "...", "Include": "...", "Page": 2, "PageSize": 100}

and the answer may come in three shapes, all handled by :func:`next_call`:

- with a paging object, ``{"Data": [...], "Paging": {"Page": 2, "TotalPages": 5, ...}}``:
  go on while ``Page < TotalPages`` (or follow ``Paging.Next`` if it names a URL);
- pages without a paging object: go on while a page comes back full, stop on a
  short (or empty) page;
- everything at once, ``Page`` ignored: a page longer than asked is the whole
  list; one exactly as long as asked is followed by a repeat of itself, which is
  recognised (same first key as the previous page) and dropped.

``decode`` sees only the response, not the body it answers, so each request also
carries its paging state in the query string (``_folder``, ``_since``, ``_page``,
``_prev``): underscore names no API reads, kept in the stored resume point with the
body, so that a killed pass resumes at its page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from replicator.errors import PagingError, Where
from replicator.paging import follow
from replicator.types import Request, origin_of
from replicator_horus.records import Paging

_KEYS = ("_folder", "_since", "_page", "_prev")


@dataclass(frozen=True, slots=True)
class ListCall:
    """What one ``.list`` request asks for.

    Attributes:
        folder: ``FolderId`` (None for ``folders.list``).
        since: ``ModifiedAfter`` (None for a full listing).
        page: ``Page``, 1-based.
        prev: the first key of the previous page, to recognise a repeat of it.
    """

    folder: str | None = None
    since: str | None = None
    page: int = 1
    prev: str | None = None

    @classmethod
    def from_url(cls, url: str) -> ListCall:
        """The call whose state :meth:`request` put in ``url``'s query."""
        query = dict(parse_qsl(urlsplit(url).query))
        try:
            page = int(query.get("_page", "1"))
        except ValueError:
            page = 1
        return cls(query.get("_folder"), query.get("_since"), max(page, 1), query.get("_prev"))

    def request(self, url: str, body: Mapping[str, Any]) -> Request:
        """The POST of this page to ``url`` (its own state keys replaced)."""
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _KEYS]
        state = {"_folder": self.folder, "_since": self.since, "_page": str(self.page), "_prev": self.prev}
        query += [(k, v) for k, v in state.items() if v is not None]
        json: dict[str, Any] = dict(body)
        if self.folder is not None:
            json["FolderId"] = self.folder
        if self.since is not None:
            json["ModifiedAfter"] = self.since
        json["Page"] = self.page
        return Request("POST", urlunsplit(parts._replace(query=urlencode(query))), json=json)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a page means for the pass.

    Attributes:
        next: the next page to ask for, or None when this one was the last.
        url: where to POST it, when the server named a next link.
        repeated: this page repeats the previous one (paging ignored): its records
            were stored already and are dropped.
    """

    next: ListCall | None = None
    url: str | None = None
    repeated: bool = False


def next_call(call: ListCall, *, count: int, first_key: str | None, paging: Paging | None,
              page_size: int, max_pages: int, where: Where | None = None) -> Verdict:
    """Decide, from one page, whether and how the pass goes on.

    Raises:
        PagingError: the page contradicts its request (another page number, a repeat
            although more pages are announced) or the pass exceeds ``max_pages``.
    """
    if count == 0:
        return Verdict()
    announced = paging is not None and bool(
        paging.Next or (paging.TotalPages is not None and call.page < paging.TotalPages))
    if first_key is not None and first_key == call.prev:
        if announced:
            raise PagingError(f"page {call.page} repeats page {call.page - 1} although the paging object "
                              "announces more: the paging would never end", where)
        return Verdict(repeated=True)
    if paging is not None and paging.Page is not None and paging.Page != call.page:
        raise PagingError(f"asked for page {call.page}, the server answered page {paging.Page}: "
                          "the paging would never end", where)
    if paging is not None and (paging.Next or paging.TotalPages is not None):
        more = announced
    else:
        size = paging.PageSize if paging is not None and paging.PageSize else page_size
        # Longer than asked: the server ignores paging and sent everything at once.
        more = count == size
    if not more:
        return Verdict()
    if call.page >= max_pages:
        raise PagingError(f"more than {max_pages} pages in one pass: the paging looks endless "
                          "(raise options.max_pages if the list really is that long)", where)
    following = ListCall(call.folder, call.since, call.page + 1, first_key)
    return Verdict(following, paging.Next if paging is not None else None)


def check_link(current_url: str, link: str, base_url: str, where: Where | None = None) -> str:
    """A server-named next link, if it stays under the licence's API URL.

    The origin check keeps tokens on the connection's host; the path check keeps
    them on this licence's API when several licences share a host.

    Raises:
        PagingError: the link leaves the origin or the API URL, or points back to
            the page just fetched.
    """
    followed = follow(current_url, link, allowed_origin=origin_of(base_url), where=where)
    assert followed is not None  # link is not empty
    if not (followed.url + "/").startswith(base_url + "/"):
        raise PagingError(f"next link {followed.url} leaves the licence's API URL {base_url}; refused "
                          "(no request was sent there)", where)
    return followed.url
