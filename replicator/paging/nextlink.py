"""Next-link paging: the server names the next page (OData ``__next``, JSON:API
``links.next``, ...). The link is followed as given, after two checks:

- it must stay on the connection's origin: a link to another host is refused
  before anything (least of all a token) is sent there;
- it must move: a link back to the page just fetched would never end.
"""

from __future__ import annotations

from urllib.parse import urljoin

from replicator.errors import PagingError, Where
from replicator.types import Request, origin_of


def follow(current_url: str, link: str | None, *, allowed_origin: str,
           where: Where | None = None) -> Request | None:
    """The request for ``link`` (absolute or relative to ``current_url``), or None."""
    if not link:
        return None
    if not isinstance(link, str):
        raise PagingError(f"next link is not a string: {link!r}", where)
    url = urljoin(current_url, link.strip())
    origin = origin_of(url)
    if origin != allowed_origin:
        raise PagingError(
            f"next link points to {origin}, outside the connection's origin {allowed_origin}; "
            "refused (no request was sent there)", where)
    if url == current_url:
        raise PagingError("next link points to the page just fetched: the paging would never end",
                          where)
    return Request.get(url)
